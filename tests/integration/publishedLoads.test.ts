// Routing state whose cost does not grow with the swarm: the leading coordinator
// counts only the queues that had events (plus a slow rolling pass) and
// publishes the loads; routers fetch them in one command a round while they route. Checked on a
// redis-server of this file's own, with MONITOR telling each connection's
// commands apart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { AgentHost } from '../../src/agents/host.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { decodeLoads, type LoadsSnapshot } from '../../src/coordinator/loadsSnapshot.ts';
import { IDLE_AFTER_INTERVALS } from '../../src/coordinator/snapshotDemand.ts';
import { TaskRouter } from '../../src/coordinator/router.ts';
import type { SwarmConfig } from '../../src/config/schema.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { bullKey, nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { readLoads } from '../../queues/loads.ts';
import { loadsReaderSource } from '../../src/api/swarmSource.ts';
import { SwarmStateReader } from '../../src/metrics/swarmState.ts';
import { redisForFile } from '../support/redis.ts';
import { monitorCommands } from '../support/monitor.ts';
import { testConfig, until } from '../support/swarm.ts';

const redis = redisForFile({ own: true });
const INTERVAL_MS = 50;
const RESYNC_MS = 1000;
let conn: Redis;
let config: SwarmConfig;
let host: AgentHost;
let coordinator: Coordinator;
let client: SwarmClient;
let monitor: { stop(): void } | undefined;
/** Commands seen, by the client address that sent them. */
const seen: { at: number; source: string; cmd: string; key: string | undefined }[] = [];

beforeAll(async () => {
  conn = redis.connect();
  config = testConfig(redis, { coordinator: { snapshotIntervalMs: INTERVAL_MS, loadsResyncMs: RESYNC_MS } });
  monitor = await monitorCommands(redis.url, ({ source, cmd, args }) => {
    seen.push({ at: Date.now(), source, cmd, key: args[0] });
  });
  // 200 agents of capacity 1: 20 nodes.
  host = new AgentHost({ config, hostId: 'h1', agents: [{ type: 'w', count: 200 }], processors: builtinProcessors, logger: silentLogger });
  await host.start();
  coordinator = new Coordinator({ config, logger: silentLogger, intake: false });
  await coordinator.start();
  client = new SwarmClient({ redis: redis.url, prefix: config.prefix, config: { coordinator: { snapshotIntervalMs: INTERVAL_MS } } });
  await until(async () => (await published())?.liveHosts.has('h1'), 10_000, 'the leader to publish the loads');
});

afterAll(async () => {
  await client?.close();
  await coordinator?.stop();
  await host?.stop(200);
  monitor?.stop();
});

async function published(): Promise<LoadsSnapshot | undefined> {
  const got = await readLoads(conn, config.prefix, undefined);
  if (!got.published || got.body === undefined) return undefined;
  const d = decodeLoads(got.body);
  return d.ok ? d.snapshot : undefined;
}

/** Every node's counts read straight from its queue. */
async function direct(): Promise<Map<string, { waiting: number; active: number; completed: number }>> {
  const nodes = Object.keys(await conn.hgetall(swarmKeys(config.prefix).nodes));
  const out = new Map<string, { waiting: number; active: number; completed: number }>();
  for (const id of nodes) {
    const q = nodeQueueName(id);
    const [w, p, a, c] = await Promise.all([conn.llen(bullKey(config.prefix, q, 'wait')), conn.zcard(bullKey(config.prefix, q, 'prioritized')), conn.llen(bullKey(config.prefix, q, 'active')), conn.zcard(bullKey(config.prefix, q, 'completed'))]);
    out.set(id, { waiting: w + p, active: a, completed: c });
  }
  return out;
}

async function agrees(): Promise<boolean> {
  const [snap, truth] = await Promise.all([published(), direct()]);
  if (!snap || snap.counts.size !== truth.size) return false;
  for (const [id, t] of truth) {
    const s = snap.counts.get(id);
    if (!s || s.waiting !== t.waiting || s.active !== t.active || s.completed !== t.completed) return false;
  }
  return true;
}

/** The address a connection of this name has, from CLIENT LIST. */
async function addressOf(name: string): Promise<string[]> {
  const list = (await conn.client('LIST')) as string;
  return list
    .split('\n')
    .filter((l) => l.includes(` name=${name} `))
    .map((l) => /addr=(\S+)/.exec(l)![1]!);
}

describe('published loads', () => {
  it("follow the queues as tasks are added, start and finish", async () => {
    const submitted = await Promise.all(Array.from({ length: 60 }, () => client.submit({ type: 'sleep', payload: { ms: 300 } })));
    expect(new Set(submitted.map((s) => s.node)).size).toBeGreaterThan(10);
    // While they run, and once they are all done, the published counts are the queues' own.
    await until(async () => (await published())?.counts && [...(await published())!.counts.values()].some((c) => c.active > 0), 5_000, 'tasks to show as active');
    await until(async () => {
      const truth = await direct();
      return [...truth.values()].reduce((s, c) => s + c.completed, 0) >= 60 && (await agrees());
    }, 10_000, 'the published counts to match the queues after the tasks finished');
  });

  it('a queue written behind BullMQ (no event) is caught by the rolling pass within loadsResyncMs', async () => {
    await until(agrees, 5_000, 'a settled swarm');
    const node = [...(await direct()).keys()][3]!;
    const key = bullKey(config.prefix, nodeQueueName(node), 'prioritized');
    // A prioritized entry no agent will take (no job hash): counted as waiting until removed.
    await conn.zadd(key, 1, 'ghost');
    try {
      const t0 = Date.now();
      await until(async () => ((await published())?.counts.get(node)?.waiting ?? 0) >= 1, RESYNC_MS * 3, 'the rolling pass to count the ghost');
      expect(Date.now() - t0).toBeLessThan(RESYNC_MS * 3);
    } finally {
      await conn.zrem(key, 'ghost');
    }
    await until(agrees, RESYNC_MS * 3, 'the ghost to leave the counts');
  });

  it('a routing router costs one command a round; an idle one none, and the leader no per-node count beyond the rolling pass', async () => {
    await until(agrees, 5_000, 'a settled swarm');
    const [clientAddr] = await addressOf('swarmq:client');
    const leaderAddrs = await addressOf('swarmq:coordinator');
    expect(clientAddr).toBeDefined();
    // Submitting: the router refreshes its snapshot every interval, one read-only readLoads a round
    // (EVALSHA_RO; the script's own GET runs as "lua", not from the client's address).
    const busyFrom = Date.now();
    while (Date.now() < busyFrom + 1_000) {
      await client.submit({ type: 'echo', payload: 'busy' });
      await new Promise((r) => setTimeout(r, INTERVAL_MS));
    }
    const busyTo = Date.now();
    // Then nothing submitted: past the idle bound the router reads nothing at all.
    await new Promise((r) => setTimeout(r, (IDLE_AFTER_INTERVALS + 2) * INTERVAL_MS));
    const from = Date.now();
    await new Promise((r) => setTimeout(r, 2_000));
    await until(async () => seen.some((s) => s.at >= from + 2_000), 5_000, 'the monitor to catch up');
    const busyReads = seen.filter((s) => s.at >= busyFrom && s.at < busyTo && s.source === clientAddr && s.cmd === 'evalsha_ro');
    expect(busyReads.length).toBeGreaterThanOrEqual(5);
    expect(busyReads.length).toBeLessThanOrEqual((2 * (busyTo - busyFrom)) / INTERVAL_MS + 5);
    const window = seen.filter((s) => s.at >= from && s.at < from + 2_000);
    expect(window.filter((s) => s.source === clientAddr)).toEqual([]);
    // The leader: no count of every node each round (20 nodes × 3 per round = 2,400 in 2 s before), only the rolling
    // pass (20 nodes a second, 6 counts each: 240 in 2 s), with room for one more pass (a stray event, a round late).
    const counts = window.filter((s) => leaderAddrs.includes(s.source) && (s.cmd === 'llen' || s.cmd === 'zcard') && s.key?.includes('-n'));
    expect(counts.length).toBeLessThanOrEqual(6 * 20 * 3);
    // A submit after the quiet spell reads the loads first (its snapshot is too old to route on), then routes.
    const t0 = seen.length;
    const woke = await client.submit({ type: 'echo', payload: 'after idle' });
    expect(woke.node).toMatch(/^n\d+$/);
    await until(async () => seen.slice(t0).some((s) => s.source === clientAddr && s.cmd === 'evalsha_ro'), 5_000, 'the woken router to read the loads');
  });

  it("the API's views and /metrics read the published counts, not every queue", async () => {
    await until(agrees, 5_000, 'a settled swarm');
    const reader = conn.duplicate();
    try {
      await reader.client('SETNAME', 'published-loads-reader');
      const [addr] = await addressOf('published-loads-reader');
      const from = seen.length;
      const state = await new SwarmStateReader(reader, config.prefix).read();
      const view = await loadsReaderSource(reader, config.prefix, config.agents.failedAfterMs).loads(Date.now());
      await reader.echo('done');
      await until(async () => seen.slice(from).some((s) => s.source === addr && s.cmd === 'echo'), 5_000, 'the monitor to catch up');
      const nodeCounts = seen.slice(from).filter((s) => s.source === addr && (s.cmd === 'llen' || s.cmd === 'zcard') && s.key?.includes('-n'));
      expect(nodeCounts).toEqual([]);
      // The same figures as the queues hold.
      const truth = await direct();
      for (const n of state.nodes) expect(n.counts.completed).toBe(truth.get(n.id)!.completed);
      expect(view.nodes.reduce((s, n) => s + n.waiting + n.active, 0)).toBe([...truth.values()].reduce((s, c) => s + c.waiting + c.active, 0));
      expect(view.nodes.some((n) => n.agents.some((a) => a.live))).toBe(true);
    } finally {
      reader.disconnect();
    }
  });

  it("a version written by anyone but the leader is published over at the leader's next round", async () => {
    await until(agrees, 5_000, 'a settled swarm');
    const k = swarmKeys(config.prefix);
    const forged = JSON.stringify({ format: 1, version: 'forged', at: 0, rosterVersion: null, liveHosts: [], nodes: [], counts: [] });
    await conn.multi().set(k.loads, forged).set(k.loadsVersion, 'forged', 'PX', 60_000).exec();
    await until(async () => (await conn.get(k.loadsVersion)) !== 'forged', INTERVAL_MS * 20, 'the leader to publish over the forged version');
    await until(agrees, 5_000, 'the published counts to be the queues’ own again');
    expect((await published())?.liveHosts.has('h1')).toBe(true);
  });

  it('with nobody publishing, a router counts the queues itself and still routes', async () => {
    const router = new TaskRouter({ redis: conn, config: { ...config, coordinator: { ...config.coordinator, snapshotIntervalMs: 60_000 } } });
    await router.start();
    try {
      await coordinator.loads.stop();
      await conn.del(swarmKeys(config.prefix).loadsVersion);
      const t0 = seen.length;
      await router.refresh(true);
      // MONITOR delivers on its own connection, so the router's reads may show a moment after refresh returns.
      await until(async () => seen.slice(t0).some((s) => s.cmd === 'llen'), 5_000, 'the router to count a queue itself');
      const node = await router.route(router.validate({ type: 'echo', payload: 1 }));
      expect(node).toMatch(/^n\d+$/);
    } finally {
      await router.close();
      coordinator.loads.start();
    }
  });

  it('a body that does not parse is reported and not routed on', async () => {
    const bad: string[] = [];
    const router = new TaskRouter({ redis: conn, config: { ...config, coordinator: { ...config.coordinator, snapshotIntervalMs: 60_000 } }, onBadRecord: (what, _key, err) => bad.push(`${what}: ${err}`) });
    await coordinator.loads.stop();
    const k = swarmKeys(config.prefix);
    await conn.multi().set(k.loads, '{"format":1,"version":"x"').set(k.loadsVersion, 'x', 'PX', 10_000).exec();
    try {
      await router.start();
      expect(bad.some((b) => b.startsWith('loads: not JSON'))).toBe(true);
      expect(await router.route(router.validate({ type: 'echo', payload: 1 }))).toMatch(/^n\d+$/);
    } finally {
      await router.close();
      await conn.del(k.loadsVersion);
      coordinator.loads.start();
    }
  });
});
