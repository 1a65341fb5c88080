// Blocking readers stop while Redis is down. After a Redis restart a
// connection waits to reconnect, and ioredis's disconnect() then leaves its
// queued command pending for ever: a reader that awaited it hung its host's or
// coordinator's shutdown (seen as a teardown that never ended after redisDown).
import { Worker } from 'bullmq';
import { redisTargetFromUrl } from '../../queues/redisTarget.ts';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { InboxReader } from '../../src/consensus/runtime/inbox.ts';
import { EventReader } from '../../src/swarm/eventReader.ts';
import { silentLogger } from '../../src/log.ts';
import { SwarmRedis } from '../../queues/connection.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';

const redis = redisForFile({ own: true });

/** Resolves true when `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  const done = await Promise.race([p.then(() => true as const), late]);
  clearTimeout(timer);
  return done;
}

/** Kills Redis and waits until `conn` is between reconnection attempts. */
async function takeRedisAway(): Promise<void> {
  await redis.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
}

describe('readers stop with Redis away', () => {
  it('a consensus inbox reader', async () => {
    const reader = new InboxReader({ target: redisTargetFromUrl(redis.url), key: `${uniquePrefix()}:inbox`, name: 'test:inbox', logger: silentLogger, onItems: () => {} });
    await reader.start();
    await takeRedisAway();
    try {
      expect(await settlesWithin(reader.stop(), 5000)).toBe(true);
    } finally {
      await redis.restart();
    }
  }, 30_000);

  it('a swarm event reader', async () => {
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    conn.on('error', () => {});
    const reader = new EventReader({ redis: conn, prefix: uniquePrefix(), onEvent: () => {} });
    await reader.ready;
    await takeRedisAway();
    try {
      expect(await settlesWithin(reader.close(), 5000)).toBe(true);
    } finally {
      conn.disconnect();
      await redis.restart();
    }
  }, 30_000);

  it('a connection waiting to reconnect: disconnect() ends it and fails what it had queued', async () => {
    const conn = new SwarmRedis(redis.url, { maxRetriesPerRequest: null });
    conn.on('error', () => {});
    await conn.ping();
    await takeRedisAway();
    try {
      await until(() => conn.status === 'reconnecting');
      const queued = conn.get('k');
      const ended = new Promise((r) => conn.once('end', r));
      conn.disconnect();
      expect(await settlesWithin(ended, 2000)).toBe(true);
      expect(conn.status).toBe('end');
      await expect(queued).rejects.toThrow(/Connection is closed/);
    } finally {
      await redis.restart();
    }
  }, 30_000);

  it('a BullMQ Worker closed just after a Redis restart, while its blocking connection waits to reconnect', async () => {
    // A fixed 1 s between attempts, so close() lands while the blocking connection (BullMQ duplicates this one) still waits.
    const conn = new SwarmRedis(redis.url, { maxRetriesPerRequest: null, retryStrategy: () => 1000 });
    conn.on('error', () => {});
    const worker = new Worker(`${uniquePrefix()}-q`, async () => {}, { connection: conn });
    worker.on('error', () => {});
    await worker.waitUntilReady();
    await redis.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1500));
    await redis.restart();
    try {
      // The close waits for that connection's 'end', which plain ioredis never emits from there (it hung for ever).
      expect(await settlesWithin(worker.close(), 10_000)).toBe(true);
    } finally {
      conn.disconnect();
    }
  }, 30_000);
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
