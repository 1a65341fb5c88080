// Where Redis is, from the settings a deployment gives (queues/redisTarget.ts),
// and the messages that name the variable when they do not fit together.
import { describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { connectRedis, describeRedisTarget, redisTargetFromUrl, redisTargetSettingsSchema, type RedisTargetSettings } from '../../queues/redisTarget.ts';
import { SwarmRedis } from '../../queues/connection.ts';
import { loadConfig } from '../../src/config/settings.ts';

const parse = (s: RedisTargetSettings) => redisTargetSettingsSchema.parse(s);
const problems = (s: RedisTargetSettings) => {
  const r = redisTargetSettingsSchema.safeParse(s);
  if (r.success) throw new Error(`expected a refusal, got ${JSON.stringify(r.data)}`);
  return r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('redisTargetSettingsSchema', () => {
  it('one URL, or none, is one server', () => {
    expect(parse({})).toEqual({ kind: 'single', url: 'redis://127.0.0.1:6379' });
    expect(parse({ url: '' })).toEqual({ kind: 'single', url: 'redis://127.0.0.1:6379' });
    expect(parse({ url: 'rediss://:pw@redis.internal:6380/2' })).toEqual({ kind: 'single', url: 'rediss://:pw@redis.internal:6380/2' });
  });

  it('several URLs are the seed nodes of a Cluster, with their shared credentials', () => {
    expect(parse({ url: 'redis://h1:7000, redis://h2:7001,redis://[::1]:7002' })).toEqual({
      kind: 'cluster',
      seeds: [{ host: 'h1', port: 7000 }, { host: 'h2', port: 7001 }, { host: '::1', port: 7002 }],
      tls: false,
    });
    expect(parse({ url: 'rediss://app:s%40cret@h1:7000,rediss://app:s%40cret@h2' })).toEqual({
      kind: 'cluster',
      seeds: [{ host: 'h1', port: 7000 }, { host: 'h2', port: 6379 }],
      username: 'app',
      password: 's@cret',
      tls: true,
    });
  });

  it('cluster mode takes one seed too', () => {
    expect(parse({ url: 'redis://127.0.0.1:7101', mode: 'cluster' })).toEqual({ kind: 'cluster', seeds: [{ host: '127.0.0.1', port: 7101 }], tls: false });
  });

  it('Sentinels and a master name are a Sentinel-managed primary; the mode may be said or inferred', () => {
    const want = { kind: 'sentinel', sentinels: [{ host: 'h1', port: 26379 }, { host: '10.0.0.2', port: 26380 }], master: 'mymaster', db: 0, tls: false };
    expect(parse({ sentinels: 'h1:26379, 10.0.0.2:26380', sentinelMaster: 'mymaster' })).toEqual(want);
    expect(parse({ sentinels: 'h1:26379,10.0.0.2:26380', sentinelMaster: 'mymaster', mode: 'sentinel' })).toEqual(want);
  });

  it('refuses mixed or bad settings, each on the setting that carried it', () => {
    expect(problems({ url: 'redis://a:1,redis://b:2', mode: 'single' })).toEqual([expect.stringMatching(/^url: several URLs are the seed nodes of a Redis Cluster/)]);
    expect(problems({ url: 'redis://a:1', sentinels: 'h1:26379', sentinelMaster: 'm' })).toEqual([expect.stringMatching(/^url: set either a Redis URL or Sentinels, not both/)]);
    expect(problems({ sentinels: 'h1:26379' })).toEqual([expect.stringMatching(/^sentinelMaster: the master name/)]);
    expect(problems({ mode: 'sentinel' })).toEqual([expect.stringMatching(/^sentinels: sentinel mode needs the Sentinels/)]);
    expect(problems({ sentinels: 'h1', sentinelMaster: 'm' })).toEqual(['sentinels: "h1" is not host:port (e.g. 10.0.0.5:26379)']);
    expect(problems({ sentinels: 'h1:70000', sentinelMaster: 'm' })).toEqual(['sentinels: "h1:70000" is not host:port (e.g. 10.0.0.5:26379)']);
    expect(problems({ sentinels: 'h1:26379', sentinelMaster: 'm', mode: 'cluster' })).toEqual(['sentinels: Sentinels are set but the mode is cluster: unset one of them']);
    expect(problems({ sentinelMaster: 'm' })).toEqual([expect.stringMatching(/^sentinelMaster: a master name is only used with Sentinels/)]);
    expect(problems({ url: 'not a url' })).toEqual([expect.stringMatching(/^url: not a URL: "not a url"/)]);
    expect(problems({ url: 'http://h1:6379' })).toEqual([expect.stringMatching(/^url: http:\/\/h1:6379\/ is not a redis:\/\/ or rediss:\/\/ URL/)]);
    expect(problems({ url: 'redis://h1:7000/3,redis://h2:7000' })).toEqual([expect.stringMatching(/^url: a Redis Cluster has only database 0/)]);
    expect(problems({ url: 'redis://:a@h1:7000,redis://:b@h2:7000' })).toEqual(['url: every seed node of a Cluster must carry the same scheme and credentials']);
    expect(problems({ mode: 'replica' as never })).toHaveLength(1);
  });

  it('never puts a password in a message or a description', () => {
    expect(problems({ url: 'http://:hunter2@h1' }).join()).not.toContain('hunter2');
    expect(describeRedisTarget(parse({ url: 'redis://:hunter2@h1:6379' }))).toBe('redis://:***@h1:6379');
    expect(describeRedisTarget(parse({ url: 'redis://:hunter2@h1:7000,redis://:hunter2@h2:7000' }))).toBe('cluster h1:7000,h2:7000');
    expect(describeRedisTarget(parse({ sentinels: 'h1:26379', sentinelMaster: 'm' }))).toBe('sentinel master "m" via h1:26379');
  });

  it('a string in code reads the same way, and a bad one says why', () => {
    expect(redisTargetFromUrl('redis://h1:7000,redis://h2:7000').kind).toBe('cluster');
    expect(() => redisTargetFromUrl('h1:6379')).toThrow(/Redis URL: .*not a redis:\/\/ or rediss:\/\/ URL/);
  });
});

describe('the swarm configuration names the variable', () => {
  it('parses the environment into a target', () => {
    expect(loadConfig({ REDIS_URL: 'redis://h1:7000,redis://h2:7000' }).redis.kind).toBe('cluster');
    expect(loadConfig({ REDIS_URL: 'redis://h1:7000', SWARMQ_REDIS_MODE: 'cluster' }).redis.kind).toBe('cluster');
    expect(loadConfig({ REDIS_SENTINELS: 'h1:26379', SWARMQ_SENTINEL_MASTER: 'mymaster' }).redis).toMatchObject({ kind: 'sentinel', master: 'mymaster' });
  });

  it('says which variable to change', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://h1:6379', REDIS_SENTINELS: 'h1:26379', SWARMQ_SENTINEL_MASTER: 'm' })).toThrow(/redisUrl \(REDIS_URL or its flag\): set either a Redis URL or Sentinels/);
    expect(() => loadConfig({ REDIS_SENTINELS: 'h1:26379' })).toThrow(/sentinelMaster \(SWARMQ_SENTINEL_MASTER or its flag\): the master name/);
    expect(() => loadConfig({ SWARMQ_REDIS_MODE: 'clustr' })).toThrow(/redisMode \(SWARMQ_REDIS_MODE or its flag\)/);
    expect(() => loadConfig({ REDIS_URL: 'redis://a:1,redis://b:2', SWARMQ_REDIS_MODE: 'single' })).toThrow(/redisUrl \(REDIS_URL or its flag\): several URLs/);
    // Hibernation runs on a Cluster too (the waker waits per slot group there).
    expect(loadConfig({ REDIS_URL: 'redis://a:1,redis://b:2', SWARMQ_HIBERNATE_AFTER_MS: '5000' }).agents.hibernateAfterMs).toBe(5000);
  });
});

describe('connectRedis', () => {
  it('opens the kind of client the target asks for, with the role options, without connecting a lazy one', () => {
    const role = { maxRetriesPerRequest: null, connectionName: 'swarmq:test', lazyConnect: true };
    const single = connectRedis(parse({ url: 'redis://127.0.0.1:1' }), role);
    const sentinel = connectRedis(parse({ sentinels: '127.0.0.1:1', sentinelMaster: 'm' }), role);
    const cluster = connectRedis(parse({ url: 'redis://127.0.0.1:1,redis://127.0.0.1:2' }), role);
    try {
      expect(single).toBeInstanceOf(SwarmRedis);
      expect(single.options).toMatchObject({ host: '127.0.0.1', port: 1, connectionName: 'swarmq:test', maxRetriesPerRequest: null });
      expect(sentinel).toBeInstanceOf(SwarmRedis);
      expect(sentinel.options).toMatchObject({ sentinels: [{ host: '127.0.0.1', port: 1 }], name: 'm' });
      expect(cluster).toBeInstanceOf(Cluster);
      // BullMQ reads the node options of a Cluster for its blocking-connection check.
      expect((cluster as Cluster).options.redisOptions).toMatchObject({ connectionName: 'swarmq:test', maxRetriesPerRequest: null });
      for (const c of [single, sentinel, cluster]) expect(c.status).toBe('wait');
    } finally {
      for (const c of [single, sentinel, cluster]) c.disconnect();
    }
  });
});
