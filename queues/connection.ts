// Connections. BullMQ may connect a lazy ioredis client it is given, so we
// connect only a client that is still waiting, and otherwise wait for ready.
import type { Redis } from 'ioredis';

export async function ensureConnected(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return;
  if (redis.status === 'wait') {
    await redis.connect();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const ready = () => {
      redis.off('end', ended);
      resolve();
    };
    const ended = () => {
      redis.off('ready', ready);
      reject(new Error('Redis connection ended before it was ready'));
    };
    redis.once('ready', ready);
    redis.once('end', ended);
  });
}
