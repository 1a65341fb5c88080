// Every swarm event type reaches subscribers in another process: a coordinator
// and two agent hosts run as child processes (CLI), and this process listens
// with SwarmClient.on and with GET /api/events on the child coordinator.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeQueueName } from '../../queues/keys.ts';
import { freePort } from '../../src/cli/redisServer.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { SWARM_EVENT_TYPES, type SwarmEvent, type SwarmEventType } from '../../src/swarm/eventSchemas.ts';
import { newTaskId } from '../../src/tasks/ids.ts';
import { CliFleet, type CliChild } from '../support/cli.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';
import { openSse, type SseStream } from '../support/sse.ts';
import { until } from '../support/swarm.ts';

const redis = redisForFile();
let conn: Redis;
let client: SwarmClient;
let sse: SseStream;
let base: string;
let soloHost: CliChild;
const prefix = uniquePrefix('events');
const fleet = new CliFleet();
const received = new Map<SwarmEventType, SwarmEvent[]>();

function env(redisUrl: string): NodeJS.ProcessEnv {
  return {
    REDIS_URL: redisUrl,
    SWARMQ_PREFIX: prefix,
    SWARMQ_LOG_LEVEL: 'warn',
    SWARMQ_HEARTBEAT_INTERVAL_MS: '200',
    SWARMQ_LIVENESS_INTERVAL_MS: '100',
    SWARMQ_STEAL_INTERVAL_MS: '50',
    SWARMQ_METRICS_INTERVAL_MS: '200',
    SWARMQ_BREAKER_FAILURES: '2',
    SWARMQ_BACKOFF_MS: '50',
  };
}

const got = (type: SwarmEventType) => received.get(type) ?? [];

beforeAll(async () => {
  conn = redis.connect({ maxRetriesPerRequest: null });
  client = new SwarmClient({ redis: redis.url, prefix });
  const subs = SWARM_EVENT_TYPES.map((type) =>
    client.on(type, (_data, event) => {
      received.set(type, [...got(type), event]);
    }),
  );
  await Promise.all(subs.map((s) => s.ready));
  const port = await freePort();
  fleet.spawn(['coordinator'], { env: { ...env(redis.url), PORT: String(port) } });
  base = `http://127.0.0.1:${port}`;
  // A child process can take long to start on a loaded box: a generous bound, not a speed claim.
  await until(async () => (await fetch(`${base}/healthz`).catch(() => null))?.ok, 45_000, 'the child coordinator');
  // From the stream's start: the child coordinator may publish before this connects.
  sse = await openSse(`${base}/api/events?from=0`);
  await sse.waitForComment(/^connected$/);
}, 60_000);

afterAll(async () => {
  sse?.close();
  fleet.killAll();
  await client?.close();
});

describe('swarm events across processes', () => {
  it('delivers each type, validated, to SwarmClient.on here and to SSE from the child coordinator', async () => {
    // agent:joined and metrics:updated (the child coordinator), from two child hosts joining.
    fleet.spawn(['agents', '--count', '20', '--host-id', 'ev-a'], { env: env(redis.url) });
    soloHost = fleet.spawn(['agents', '--count', '1', '--type', 'solo', '--host-id', 'ev-b'], { env: env(redis.url) });
    await until(async () => got('agent:joined').flatMap((e) => (e as SwarmEvent<'agent:joined'>).data.agents).length >= 21, 20_000, 'agent:joined for all 21 agents');
    await until(async () => got('metrics:updated').some((e) => Object.values((e as SwarmEvent<'metrics:updated'>).data.agents).reduce((x, y) => x + y, 0) === 21), 20_000, 'a metrics:updated counting all 21 agents');

    // health:alert (the solo host's breaker) and task:dead-lettered (the solo host), from failing tasks.
    const fails = await Promise.all([1, 2].map(() => client.submit({ type: 'fail', payload: { message: 'on purpose' }, attempts: 1, affinity: { agentType: 'solo' } })));
    for (const f of fails) expect((await client.waitFor(f.id, { timeoutMs: 20_000 })).state).toBe('failed');
    await until(async () => got('task:dead-lettered').length >= 2, 20_000, 'task:dead-lettered');
    await until(async () => got('health:alert').some((e) => (e as SwarmEvent<'health:alert'>).data.reason === 'isolated'), 20_000, 'a breaker health:alert');

    // load:rebalanced (the child coordinator's balancer): a pile of work in one of ev-a's nodes.
    const nodes = (await (await fetch(`${base}/api/nodes`)).json()) as { nodes: { id: string; members: number }[] };
    const full = nodes.nodes.filter((n) => n.members === 10).map((n) => n.id);
    expect(full.length).toBe(2);
    const q = new Queue(nodeQueueName(full[0]!), { connection: conn, prefix });
    await q.addBulk(Array.from({ length: 300 }, () => ({ name: 'sleep', data: { payload: { ms: 20 } }, opts: { jobId: newTaskId(full[0]!) } })));
    await q.close();
    await until(async () => got('load:rebalanced').length > 0, 20_000, 'load:rebalanced');

    // consensus:reached: a real proposal among ev-a's agents, driven by the child coordinator.
    const proposal = await fetch(`${base}/api/proposals`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ protocol: 'quorum', value: { pick: 'blue' }, participants: { count: 5, type: 'worker' } }),
    });
    expect(proposal.status, await proposal.clone().text()).toBe(202);
    await until(async () => got('consensus:reached').length > 0, 20_000, 'consensus:reached');
    const reached = got('consensus:reached')[0] as SwarmEvent<'consensus:reached'>;
    expect(reached.data).toMatchObject({ protocol: 'quorum', decided: true, value: { pick: 'blue' }, participants: 5 });

    // approval:decided (the child coordinator's API): an output approved.
    const awaiting = await client.submit({ type: 'echo', payload: { ok: 1 }, approval: { required: true } });
    await until(async () => (await client.get(awaiting.id))?.state === 'awaiting-approval', 20_000, 'the output to await approval');
    const approved = await fetch(`${base}/api/tasks/${awaiting.id}/approve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(approved.status, await approved.clone().text()).toBe(200);
    await until(async () => got('approval:decided').length > 0, 20_000, 'approval:decided');

    // budget:alert (a child host): a task that spends all of its own budget (the built-in report-usage), at 80 and 100 %.
    const spender = await client.submit({ type: 'report-usage', payload: { tokens: 100 }, budget: { tokens: 100 } });
    expect((await client.waitFor(spender.id, { timeoutMs: 20_000 })).state).toBe('completed');
    await until(async () => got('budget:alert').filter((e) => (e as SwarmEvent<'budget:alert'>).data.task === spender.id).length === 2, 20_000, 'budget:alert at 80 and 100 %');

    // recovery:step and agent:left (the child coordinator's health monitor): the solo host killed.
    soloHost.child.kill('SIGKILL');
    await until(async () => got('recovery:step').some((e) => (e as SwarmEvent<'recovery:step'>).data.host === 'ev-b'), 20_000, 'recovery:step for the killed host');
    await until(async () => got('agent:left').some((e) => (e as SwarmEvent<'agent:left'>).data.agents.some((a) => a.host === 'ev-b')), 20_000, 'agent:left for the solo agent');

    for (const type of SWARM_EVENT_TYPES) expect(got(type).length, type).toBeGreaterThan(0);
    // The same events, in the same order, over SSE from the child coordinator.
    const ids = SWARM_EVENT_TYPES.flatMap((t) => got(t).map((e) => e.id));
    await until(async () => ids.every((id) => sse.messages.some((m) => m.id === id)), 20_000, 'every event over SSE too');
    const sseIds = sse.messages.map((m) => m.id!);
    expect([...sseIds].sort(compareIds)).toEqual(sseIds);
    for (const m of sse.messages) {
      const body = JSON.parse(m.data) as SwarmEvent;
      expect(body.type).toBe(m.event);
      expect(body.id).toBe(m.id);
    }
  }, 60_000);
});

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}
