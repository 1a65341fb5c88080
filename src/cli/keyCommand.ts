// What `swarmq limits` and `swarmq budget` share: a one-shot connection, and
// the node queues a changed key's waiting tasks are brought back through.
import { Queue } from 'bullmq';
import { connectRedis, type RedisClient } from '../../queues/redisTarget.ts';
import { ensureConnected } from '../../queues/connection.ts';
import { nodeQueueName } from '../../queues/keys.ts';
import type { SwarmConfig } from '../config/schema.ts';

/** Runs `run` on a connection of its own, closed after; `name` is what CLIENT LIST shows. */
export async function withRedis<T>(config: SwarmConfig, name: string, run: (redis: RedisClient) => Promise<T>): Promise<T> {
  const redis = connectRedis(config.redis, { maxRetriesPerRequest: 1, lazyConnect: true, connectionName: name });
  redis.on('error', () => {});
  try {
    await ensureConnected(redis);
    return await run(redis);
  } finally {
    redis.disconnect();
  }
}

/** Runs `run` with a node's queue opened on first use, every one closed after. */
export async function withNodeQueues<T>(redis: RedisClient, prefix: string, run: (queueFor: (node: string) => Queue) => Promise<T>): Promise<T> {
  const queues = new Map<string, Queue>();
  const queueFor = (node: string) => {
    let q = queues.get(node);
    if (!q) {
      queues.set(node, (q = new Queue(nodeQueueName(node), { connection: redis, prefix })));
      q.on('error', () => {}); // the command's own call fails with the error; BullMQ would print it to stderr besides
    }
    return q;
  };
  try {
    return await run(queueFor);
  } finally {
    await Promise.all([...queues.values()].map((q) => q.close()));
  }
}
