// A connection for one command-line job (a checkpoint, a restore, applying
// ACL users): it fails at once, naming the target, when Redis is away, rather
// than retry forever, and is closed when the job ends.
import { connectRedis, describeRedisTarget, type RedisClient, type RedisTarget } from '../queues/redisTarget.ts';
import { ensureConnected } from '../queues/connection.ts';
import { SwarmError } from './errors.ts';

export async function withRedisOnce<T>(target: RedisTarget, connectionName: string, run: (redis: RedisClient) => Promise<T>): Promise<T> {
  const redis = connectRedis(target, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => null, connectionName });
  let cause: Error | undefined;
  redis.on('error', (err: Error) => {
    cause ??= err;
  });
  try {
    try {
      await ensureConnected(redis);
    } catch (err) {
      throw new SwarmError('redis_unavailable', `cannot reach Redis at ${describeRedisTarget(target)}: ${(cause ?? (err as Error)).message}`);
    }
    return await run(redis);
  } finally {
    redis.disconnect();
  }
}
