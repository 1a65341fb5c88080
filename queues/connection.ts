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

/**
 * Lets a reading loop stop while a command of its own is still queued.
 * ioredis's disconnect() while a connection waits to reconnect (just after a
 * Redis restart) leaves its queued commands pending for ever, so a loop that
 * awaited one directly could never be stopped.
 */
export class StopSignal {
  private fire!: () => void;
  private readonly fired = new Promise<undefined>((resolve) => {
    this.fire = () => resolve(undefined);
  });
  stopped = false;

  stop(): void {
    this.stopped = true;
    this.fire();
  }

  /** What `command` gives, or undefined as soon as stop() is called. */
  async race<T>(command: Promise<T>): Promise<T | undefined> {
    command.catch(() => {}); // abandoned after a stop: its rejection, if ever, is nobody's
    return await Promise.race([command, this.fired]);
  }
}
