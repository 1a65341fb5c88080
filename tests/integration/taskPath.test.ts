import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { TaskRouter } from '../../src/coordinator/router.ts';
import { hostForFile } from '../support/hostForFile.ts';
import { redisForFile } from '../support/redis.ts';
import { commandConnection, testConfig, until } from '../support/swarm.ts';

const redis = redisForFile();
const swarm = hostForFile(redis, { hostId: 'h1', agents: [{ type: 'worker', count: 12, capacity: 2 }], stopDeadlineMs: 1000 });
// The router on a command connection of its own, as a coordinator runs it.
let conn: Redis;
let router: TaskRouter;

beforeAll(async () => {
  conn = commandConnection(redis.url);
  await conn.connect();
  router = new TaskRouter({ redis: conn, config: swarm.config });
  await router.start();
});

afterAll(async () => {
  await router?.close();
  conn?.disconnect();
});

describe('task path', () => {
  it('seats 12 agents in nodes of at most 10', () => {
    const { host } = swarm;
    const nodes = new Map<string, number>();
    for (const a of host.agents()) nodes.set(a.node, (nodes.get(a.node) ?? 0) + 1);
    expect([...nodes.values()].sort()).toEqual([10, 2].sort());
  });

  it('runs an echo task and records the agent that ran it', async () => {
    const { id, node } = await router.submit({ type: 'echo', payload: { hello: 'world' } });
    expect(id.startsWith(`${node}.`)).toBe(true);
    const done = await until(async () => {
      const t = await router.get(id);
      return t?.state === 'completed' ? t : undefined;
    });
    expect(done.result).toEqual({ hello: 'world' });
    expect(done.agentId).toMatch(/^h1-a\d+$/);
    expect(done.attempts).toBe(1);
    expect(done.startedAt).toBeGreaterThanOrEqual(done.createdAt);
    expect(done.finishedAt).toBeGreaterThanOrEqual(done.startedAt!);
  });
});

describe('routing strategies through the router', () => {
  it('round-robin alternates between nodes; a task may name its own strategy', async () => {
    const nodes: string[] = [];
    for (let i = 0; i < 6; i++) nodes.push((await router.submit({ type: 'echo', payload: i, strategy: 'round-robin' })).node);
    expect(nodes).toEqual(['n1', 'n2', 'n1', 'n2', 'n1', 'n2']);
  });

  it('random replays with the same seed', async () => {
    const config = testConfig(redis);
    const picks = async (seed: number) => {
      const c = commandConnection(redis.url);
      await c.connect();
      const r = new TaskRouter({ redis: c, config: { ...config, prefix: swarm.config.prefix, coordinator: { ...config.coordinator, routingSeed: seed } } });
      await r.start();
      const out: string[] = [];
      for (let i = 0; i < 12; i++) out.push(await r.route({ type: 'echo', strategy: 'random' }));
      await r.close();
      c.disconnect();
      return out;
    };
    const a = await picks(42);
    expect(await picks(42)).toEqual(a);
    expect(new Set(a)).toEqual(new Set(['n1', 'n2']));
  });
});
