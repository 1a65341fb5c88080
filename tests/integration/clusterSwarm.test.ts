// The whole swarm on a three-master Redis Cluster: a coordinator (HTTP API,
// intake worker, leader), an agent host and a SwarmClient, each opening its
// connections from the Cluster's seed URLs as REDIS_URL gives them. A task
// comes in three ways (HTTP, the client, a plain BullMQ job in the intake
// queue), is routed to a node queue, run by an agent and completes; the
// roster and the metrics answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import type { Cluster } from 'ioredis';
import { INTAKE_QUEUE, slotGroupOf } from '../../queues/keys.ts';
import { keySlot } from '../../queues/slotPipeline.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { startCluster, type TestCluster } from '../support/cluster.ts';
import { uniquePrefix } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

let cluster: TestCluster;
let stack: Stack;
let client: SwarmClient;
let producer: Cluster;
let intake: Queue;

beforeAll(async () => {
  cluster = await startCluster(3);
  // One agent a node: twelve nodes, n1–n10 in slot group g1 and n11, n12 in g2, so reads span masters.
  const config = testConfig({ url: cluster.url } as never, { prefix: uniquePrefix('cl'), coordinator: { maxAgentsPerNode: 1 } });
  expect(config.redis.kind).toBe('cluster');
  stack = await startStack(config, { agents: [{ type: 'worker', count: 12, capacity: 2 }] });
  client = new SwarmClient({ redis: cluster.url, prefix: config.prefix });
  producer = cluster.connect();
  intake = new Queue(INTAKE_QUEUE, { connection: producer, prefix: config.prefix });
}, 60_000);

afterAll(async () => {
  await intake?.close();
  await client?.close();
  await stack?.stop();
  await producer?.quit().catch(() => {});
  await cluster?.stop();
});

describe('a swarm on a Redis Cluster', () => {
  it('runs a task submitted over HTTP to completion', async () => {
    const r = await stack.request('POST', '/api/tasks', { type: 'echo', payload: { via: 'http' } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const task = await until(async () => {
      const t = await stack.request('GET', `/api/tasks/${r.body.id}`);
      return t.body.state === 'completed' ? t.body : undefined;
    }, 10_000, 'the HTTP task to complete');
    expect(task).toMatchObject({ id: r.body.id, node: r.body.node, result: { via: 'http' }, attempts: 1 });
    expect(task.agentId).toMatch(/^h1-/);
  });

  it('runs tasks submitted with SwarmClient, spread over nodes of more than one slot group', async () => {
    const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => client.submit({ type: 'sleep', payload: { ms: 20 + i } }).then((s) => s.id)));
    const done = await Promise.all(ids.map((id) => client.waitFor(id, { timeoutMs: 10_000 })));
    expect(done.map((t) => t.state)).toEqual(ids.map(() => 'completed'));
    expect(new Set(done.map((t) => slotGroupOf(t.node))).size).toBe(2);
  });

  it('routes a plain BullMQ job added to the intake queue, and the intake job returns the task', async () => {
    const job = await intake.add('echo', { via: 'intake' });
    const routed = await until(async () => ((await job.isCompleted()) ? await intake.getJob(job.id!) : undefined), 10_000, 'the intake job to be routed');
    const { id } = routed!.returnvalue as { id: string; node: string };
    const task = await client.waitFor(id, { timeoutMs: 10_000 });
    expect(task).toMatchObject({ state: 'completed', result: { via: 'intake' } });
  });

  it('answers GET /api/agents and /metrics', async () => {
    const agents = await stack.request('GET', '/api/agents');
    expect(agents.status).toBe(200);
    expect(agents.body.total ?? agents.body.agents?.length).toBe(12);
    const metrics = await fetch(`${stack.base}/metrics`);
    const text = await metrics.text();
    expect(metrics.status, text).toBe(200);
    expect(text).toMatch(/^swarmq_agents\{state="healthy"\} 12$/m);
    // Connections are counted on every master, not on whichever one INFO went to.
    const perMaster = await Promise.all(producer.nodes('master').map(async (m) => Number(/connected_clients:(\d+)/.exec(await m.info('clients'))![1])));
    const gauge = Number(/^swarmq_redis_connections (\d+)$/m.exec(text)![1]);
    expect(perMaster.every((n) => n > 0)).toBe(true);
    expect(gauge).toBeGreaterThan(Math.max(...perMaster));
    expect(Math.abs(gauge - perMaster.reduce((a, b) => a + b, 0))).toBeLessThanOrEqual(3);
  });

  it('places keys in the slots the Cluster does (the split pipeline groups by them)', async () => {
    // Not '{}{x}': an empty tag before another is hashed whole by Redis but by its second tag in
    // cluster-key-slot, which ioredis routes with too (a MOVED puts it right); swarmq names no such key.
    for (const key of ['plain', 'sc:node-{g1}-n1:wait', 'sc:{swarm}:agents', 'a{}b', 'sc:control-{h1}:meta', 'ключ']) {
      expect(keySlot(key), key).toBe(Number(await producer.cluster('KEYSLOT', key)));
    }
  });

  it('watches the host by its connection without taking it for dead (client ids are per master)', async () => {
    const health = await stack.request('GET', '/api/health');
    expect(health.body.hosts).toEqual([expect.objectContaining({ host: 'h1', state: 'healthy', connection: 'open' })]);
    // Several liveness checks later (every 200 ms by default), still no recovery.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await stack.request('GET', '/api/recoveries')).body.recoveries).toEqual([]);
  });
});
