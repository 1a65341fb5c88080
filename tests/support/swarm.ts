// A swarm for a test: a config on the test's Redis under its own prefix, and
// helpers that clean up after themselves.
import { Redis } from 'ioredis';
import { swarmConfigSchema, type SwarmConfig, type SwarmConfigInput } from '../../src/config/schema.ts';
import type { TestRedis } from './redis.ts';
import { connectTo, uniquePrefix } from './redis.ts';

export function testConfig(redis: TestRedis, overrides: Partial<SwarmConfigInput> = {}): SwarmConfig {
  return swarmConfigSchema.parse({
    redisUrl: redis.url,
    prefix: uniquePrefix('swarm'),
    ...overrides,
    agents: { heartbeatIntervalMs: 200, ...overrides.agents },
    coordinator: { snapshotIntervalMs: 20, ...overrides.coordinator },
    // Retries back off 50 ms, not 1 s, so tests of failing tasks stay quick.
    tasks: { backoffMs: 50, ...overrides.tasks },
  });
}

export function commandConnection(url: string): Redis {
  const r = connectTo(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
  r.on('error', () => {});
  return r;
}

export async function until<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every key under a prefix with its type and value, to show an error changed nothing. */
export async function dump(redis: Redis, prefix: string): Promise<Record<string, string>> {
  const keys = (await redis.keys(`${prefix}:*`)).sort();
  const out: Record<string, string> = {};
  for (const k of keys) {
    const t = await redis.type(k);
    if (t === 'string') out[k] = String(await redis.get(k));
    else if (t === 'hash') out[k] = JSON.stringify(await redis.hgetall(k));
    else if (t === 'list') out[k] = JSON.stringify(await redis.lrange(k, 0, -1));
    else if (t === 'zset') out[k] = JSON.stringify(await redis.zrange(k, '0', '-1', 'WITHSCORES'));
    else if (t === 'set') out[k] = JSON.stringify((await redis.smembers(k)).sort());
    else out[k] = t;
  }
  return out;
}

/** The pid of the coordinator holding the lease (its owner id ends in `-<pid>-<6 hex>`), if any. */
export async function leaderPid(redis: Redis, prefix: string): Promise<number | undefined> {
  const owner = await redis.get(`${prefix}:{swarm}:lease-owner`);
  const m = owner ? /-(\d+)-[0-9a-f]{6}$/.exec(owner) : null;
  return m ? Number(m[1]) : undefined;
}
