// One host, many agents: a thousand seated in nodes of ten, connections bounded
// by nodes, every agent reachable; waves in order; retiring an agent.
import { afterAll, describe, expect, it } from 'vitest';
import { AgentHost, type WaveEvent } from '../../src/agents/host.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { agentRecordSchema } from '../../src/swarm/records.ts';
import { redisForFile } from '../support/redis.ts';
import { clientListsPerServer } from '../support/clusterAsRedis.ts';
import { testConfig, until } from '../support/swarm.ts';

const redis = redisForFile();
let client: SwarmClient;
const hosts: AgentHost[] = [];

afterAll(async () => {
  await client?.close();
  for (const h of hosts) await h.stop(500);
});

/** The host's connections on the server that has most of them (one server, or the busiest master of a Cluster). */
async function hostConnections(hostId: string): Promise<number> {
  const lists = await clientListsPerServer(redis.connection);
  const count = (list: string) => list.split('\n').filter((l) => l.includes(`name=swarmq:host:${hostId} `) || new RegExp(`name=\\S*:w:${hostId} `).test(l)).length;
  return Math.max(...lists.map(count));
}

describe('agent host at scale', () => {
  it('1,000 agents: registered, seated by tens, reachable by type, connections bounded by nodes', async () => {
    const config = testConfig(redis);
    const host = new AgentHost({ config, hostId: 'big', processors: builtinProcessors, logger: silentLogger });
    hosts.push(host);
    await host.start();
    const types = ['coder', 'tester', 'writer', 'reviewer'];
    const agents = await host.spawnAgentBatch(types.map((type) => ({ type, count: 250 })));
    expect(agents).toHaveLength(1000);
    const roster = await redis.connection.hgetall(swarmKeys(config.prefix).agents);
    expect(Object.keys(roster)).toHaveLength(1000);
    const perNode = new Map<string, Set<string>>();
    for (const raw of Object.values(roster)) {
      const a = agentRecordSchema.parse(JSON.parse(raw));
      const types = perNode.get(a.node) ?? new Set();
      types.add(a.type);
      perNode.set(a.node, types);
    }
    expect(perNode.size).toBe(100);
    for (const t of perNode.values()) expect(t.size).toBe(1); // a node holds one kind of agent
    const nodes = perNode.size;
    expect(await hostConnections('big')).toBeLessThanOrEqual(2 * nodes + 1);
    expect(host.connectionCount()).toBe(nodes + 4); // + the shared connection, the control Worker, the consensus inbox and its commands
    // Every agent registered its own consensus public key (32 bytes); the private half stays in the host.
    const keys = Object.values(roster).map((raw) => (JSON.parse(raw) as { consensusKey?: string }).consensusKey);
    expect(keys.every((k) => k !== undefined && Buffer.from(k, 'base64').length === 32)).toBe(true);
    expect(new Set(keys).size).toBe(keys.length);
    expect(host.consensusKey(host.agents()[0]!.id)).toBeDefined();
    // Node records name the queue the way keys.ts does: ten nodes per Cluster slot group.
    const records = Object.values(await redis.connection.hgetall(swarmKeys(config.prefix).nodes)).map((raw) => JSON.parse(raw) as { id: string; queue: string });
    for (const r of records) expect(r.queue).toBe(nodeQueueName(r.id));
    expect(new Set(records.map((r) => r.queue.slice(0, r.queue.indexOf('}') + 1))).size).toBe(Math.ceil(nodes / 10));

    client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
    for (const type of types) {
      const { id } = await client.submit({ type: 'echo', payload: type, affinity: { agentType: type } });
      const t = await client.waitFor(id, { timeoutMs: 10_000 });
      expect(t.state).toBe('completed');
      expect(agents.find((a) => a.id === t.agentId)?.type).toBe(type);
    }
  }, 60_000);

  it('waves: each wave is registered and ready before the next starts', async () => {
    const config = testConfig(redis);
    const host = new AgentHost({ config, hostId: 'wavy', processors: builtinProcessors, logger: silentLogger });
    hosts.push(host);
    await host.start();
    const events: (WaveEvent & { at: number })[] = [];
    host.on('wave', (e) => events.push({ ...e, at: Date.now() }));
    const agents = await host.spawnAgentWaves([{ type: 'w', count: 95 }], { waveSize: 20 });
    expect(agents).toHaveLength(95);
    expect(events.map((e) => [e.wave, e.agents, e.ready])).toEqual([
      [1, 20, 20],
      [2, 20, 40],
      [3, 20, 60],
      [4, 20, 80],
      [5, 15, 95],
    ]);
    const roster = await redis.connection.hgetall(swarmKeys(config.prefix).agents);
    const startedAt = new Map(Object.entries(roster).map(([id, raw]) => [id, agentRecordSchema.parse(JSON.parse(raw)).startedAt]));
    for (let w = 1; w < events.length; w++) {
      const wave = agents.slice(w * 20, (w + 1) * 20);
      for (const a of wave) expect(startedAt.get(a.id)!).toBeGreaterThanOrEqual(events[w - 1]!.at);
    }
  });

  it('ready mark: written once the agents it starts with are spawned (the monitor judges beat trends from then on), gone when it stops', async () => {
    const config = testConfig(redis);
    const keys = swarmKeys(config.prefix);
    const host = new AgentHost({ config, hostId: 'rdy', agents: [{ type: 'w', count: 30 }], processors: builtinProcessors, logger: silentLogger });
    let beatBeforeReady: string | null = null;
    host.once('spawned', () => {
      // Beating already, not ready yet: spawning is startup.
      void Promise.all([redis.connection.zscore(keys.hosts, 'rdy'), redis.connection.hget(keys.hostsReady, 'rdy')]).then(([beat, mark]) => {
        beatBeforeReady = mark === null ? beat : 'ready too early';
      });
    });
    await host.start();
    const readyAt = Number(await redis.connection.hget(keys.hostsReady, 'rdy'));
    expect(beatBeforeReady).toMatch(/^\d+$/);
    const started = Object.values(await redis.connection.hgetall(keys.agents)).map((raw) => agentRecordSchema.parse(JSON.parse(raw)).startedAt);
    expect(started).toHaveLength(30);
    expect(readyAt).toBeGreaterThanOrEqual(Math.max(...started));
    await host.stop(500);
    expect(await redis.connection.hexists(keys.hostsReady, 'rdy')).toBe(0);
  });

  it('retire: the agent finishes its task, takes no new one, leaves the roster', async () => {
    const config = testConfig(redis);
    const host = new AgentHost({ config, hostId: 'ret', processors: builtinProcessors, logger: silentLogger });
    hosts.push(host);
    await host.start();
    const [a1, a2] = await host.spawnAgentBatch([{ type: 'w', count: 2 }]);
    const c = new SwarmClient({ redis: redis.url, prefix: config.prefix });
    try {
      const first = await c.submit({ type: 'sleep', payload: { ms: 400 } });
      await until(async () => (await c.get(first.id))?.state === 'active');
      const runner = (await c.get(first.id))!.agentId ?? (await until(async () => (await c.get(first.id))?.agentId));
      const retiring = runner === a1!.id ? a1! : a2!;
      const staying = retiring === a1 ? a2! : a1!;
      const retired = host.retire(retiring.id);
      const more = await Promise.all([1, 2, 3].map(() => c.submit({ type: 'echo', payload: 'after' })));
      expect(await retired).toEqual({ returned: 0 });
      expect((await c.waitFor(first.id)).state).toBe('completed');
      for (const m of more) expect((await c.waitFor(m.id)).agentId).toBe(staying.id);
      expect(await redis.connection.hexists(swarmKeys(config.prefix).agents, retiring.id)).toBe(0);
      expect(host.agents().map((a) => a.id)).toEqual([staying.id]);
    } finally {
      await c.close();
    }
  });
});

describe('warm pool', () => {
  it('acquire turns a registered idle agent with a reserved seat into a worker, at once; the pool refills', async () => {
    const config = testConfig(redis);
    const host = new AgentHost({ config, hostId: 'pooled', processors: builtinProcessors, logger: silentLogger, pool: [{ type: 'coder', count: 5 }] });
    hosts.push(host);
    await host.start();
    expect(host.poolLevels()).toEqual({ coder: 5 });
    const keys = swarmKeys(config.prefix);
    const warm = Object.values(await redis.connection.hgetall(keys.agents)).map((raw) => agentRecordSchema.parse(JSON.parse(raw)));
    expect(warm).toHaveLength(5);
    expect(warm.every((a) => a.pooled === true && a.type === 'coder' && /^n\d+$/.test(a.node))).toBe(true);
    // Routers do not count pooled agents: no task may be sent to an agent not yet working.
    const c0 = new SwarmClient({ redis: redis.url, prefix: config.prefix });
    await expect(c0.submit({ type: 'echo', affinity: { agentType: 'coder' } })).rejects.toThrow(/no agent in this swarm runs tasks of type "echo"/);
    await c0.close();

    const t0 = performance.now();
    const got = await host.acquire('coder');
    expect(performance.now() - t0).toBeLessThan(50); // no round trip on the way (a benchmark measures it)
    expect(got.fromPool).toBe(true);
    expect(got.node).toBe(warm.find((a) => a.id === got.id)!.node);
    await until(async () => {
      const rec = agentRecordSchema.parse(JSON.parse((await redis.connection.hget(keys.agents, got.id))!));
      return rec.pooled === undefined && rec.node === got.node;
    }, 5000, 'the roster to record the acquired agent as working');
    await until(async () => host.poolLevels().coder === 5, 5000, 'the pool to refill');
    expect(await redis.connection.hlen(keys.agents)).toBe(6);

    const c = new SwarmClient({ redis: redis.url, prefix: config.prefix });
    try {
      const { id } = await c.submit({ type: 'echo', payload: 'warm', affinity: { agentType: 'coder' } });
      expect((await c.waitFor(id, { timeoutMs: 10_000 })).agentId).toBe(got.id);
    } finally {
      await c.close();
    }
    const cold = await host.acquire('reviewer');
    expect(cold.fromPool).toBe(false);
    await host.stop(500);
    expect(await redis.connection.hlen(keys.agents)).toBe(0); // warm ones leave with the host too
  });
});
