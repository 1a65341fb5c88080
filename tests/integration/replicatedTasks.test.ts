// Replicated tasks end to end among real agents on real Redis: a task with
// `consensus: { protocol, replicas }` runs on that many distinct agents, and
// its result is the output their agents decide in a real quorum round (each
// votes only for its own output). A dissenting agent is outvoted and named; a
// split fails the task with an error saying how the outputs split; bad
// requests get a 400 and write nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { bullKey, nodeQueueName, REPLICA_OF_FIELD } from '../../queues/keys.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { redisForFile } from '../support/redis.ts';
import { stackForFile } from '../support/stack.ts';
import { until } from '../support/swarm.ts';

const processors: ProcessorMap = {
  ...builtinProcessors,
  // The same answer from every agent, but agent h1-a1 is much faster than the others: without distinct seats
  // it would take a second replica of a task while the others still run theirs.
  answer: async (payload, ctx) => {
    await new Promise((r) => setTimeout(r, ctx.agentId === 'h1-a1' ? 5 : 250));
    return { answer: (payload as { n: number }).n * 2, unit: 'widgets' };
  },
  // Each agent's output as the payload says (by agent id), else the default; `byAgent: true` answers with the agent id.
  opinion: (payload, ctx) => {
    const p = payload as { outputs?: Record<string, unknown>; otherwise?: unknown; byAgent?: boolean; failOn?: string };
    if (p.failOn === ctx.agentId) throw new Error(`${ctx.agentId} cannot answer`);
    if (p.byAgent) return { agent: ctx.agentId };
    return p.outputs && Object.hasOwn(p.outputs, ctx.agentId) ? p.outputs[ctx.agentId] : p.otherwise;
  },
};

const redis = redisForFile();
// Driving consensus is what a coordinator process does (`swarmq coordinator`): run rounds, replicated tasks' votes among them.
const stack = stackForFile(redis, { agents: [{ type: 'worker', count: 4 }], processors, hostId: 'h1', driveConsensus: true });
let client: SwarmClient;

beforeAll(() => {
  client = new SwarmClient({ redis: redis.url, prefix: stack.config.prefix });
});

afterAll(async () => {
  await client?.close();
});

async function finished(id: string, ms = 20_000): Promise<any> {
  return await until(async () => {
    const r = await stack.request('GET', `/api/tasks/${id}`);
    expect(r.status).toBe(200);
    return r.body.state === 'completed' || r.body.state === 'failed' ? r.body : undefined;
  }, ms, `task ${id} to finish`);
}

async function events(type: string): Promise<any[]> {
  const raw = await redis.connection.xrange(`${stack.config.prefix}:{swarm}:events`, '-', '+');
  return raw.filter(([, f]) => f[1] === type).map(([, f]) => JSON.parse(f[3]!));
}

/** Every job hash (replicated tasks' and node tasks') and replica claim of the swarm: a refused request must add none. */
async function written(): Promise<string[]> {
  const p = stack.config.prefix;
  const keys = await redis.connection.keys(`${p}:*`);
  return keys.filter((k) => /:consensus:r-[^:]+$|:node-[^:]+:[^:]+\.[^:]+$|:replicas:|:idem:/.test(k)).sort();
}

describe('replicated tasks', () => {
  it('3 replicas of a deterministic task: decided, result = that output, on 3 distinct agents, no dissenters', async () => {
    // Three tasks at once on four agents, one of them fast: each task's replicas must still land on distinct agents.
    const ids = await Promise.all([1, 2, 3].map(async (n) => (await stack.request('POST', '/api/tasks', { type: 'answer', payload: { n }, consensus: { protocol: 'quorum', replicas: 3 } })).body.id as string));
    for (const [i, id] of ids.entries()) {
      expect(id).toMatch(/^r-/);
      const view = await finished(id);
      expect(view).toMatchObject({ id, type: 'answer', state: 'completed', result: { answer: (i + 1) * 2, unit: 'widgets' }, error: null });
      expect(view.consensus).toMatchObject({ protocol: 'quorum', replicas: 3, phase: 'done', decided: true, votes: 3, dissenters: [] });
      expect(view.consensus.rounds).toBeGreaterThanOrEqual(1);
      const agents = view.consensus.agents as string[];
      expect(agents).toHaveLength(3);
      expect(new Set(agents).size).toBe(3);
      for (const a of agents) expect(a).toMatch(/^h1-a[1-4]$/);
      // Each replica is a task of its own, run by the agent the view names.
      const replicas = await Promise.all((view.consensus.replicaTasks as string[]).map(async (r) => (await stack.request('GET', `/api/tasks/${r}`)).body));
      expect(replicas.map((r) => r.agentId)).toEqual(agents);
      expect(replicas.every((r) => r.state === 'completed')).toBe(true);
      // Each replica's hash names its task: a flow's parent key on one server, the replica mark on a Cluster (no flows there).
      for (const r of replicas) {
        const h = await redis.connection.hgetall(bullKey(stack.config.prefix, nodeQueueName(r.node), r.id));
        expect(h.parentKey?.endsWith(`:${id}`) || h[REPLICA_OF_FIELD] === id, JSON.stringify(Object.keys(h))).toBe(true);
      }
    }
    // The round really ran among those agents: their decisions are recorded under the task's id.
    const decided = await redis.connection.hgetall(`${stack.config.prefix}:{swarm}:consensus:round:${ids[0]}:decided`);
    expect(Object.keys(decided).length).toBeGreaterThanOrEqual(1);
  }, 40_000);

  it('one agent returns something else: the majority output is decided and that agent is named as dissenter', async () => {
    const res = await stack.request('POST', '/api/tasks', {
      type: 'opinion',
      payload: { outputs: { 'h1-a3': { verdict: 'reject' } }, otherwise: { verdict: 'accept', score: 0.9 } },
      consensus: { protocol: 'quorum', replicas: 4 },
    });
    expect(res.status).toBe(202);
    const view = await finished(res.body.id);
    expect(view.state).toBe('completed');
    expect(view.result).toEqual({ verdict: 'accept', score: 0.9 });
    expect(view.consensus).toMatchObject({ decided: true, votes: 3, dissenters: ['h1-a3'] });
    expect(view.consensus.split).toHaveLength(2);
    const reached = await until(async () => (await events('consensus:reached')).find((e) => e.task === res.body.id), 5000, 'consensus:reached');
    expect(reached).toMatchObject({ id: res.body.id, decided: true, value: { verdict: 'accept', score: 0.9 }, dissenters: ['h1-a3'], participants: 4 });
  }, 30_000);

  it('fast-paxos: 2 of 3 agree, short of the fast quorum (3): a classic round decides their output; the third is the dissenter', async () => {
    // Any 3 of the 4 agents split 2 : 1 between 'yes' and 'no'.
    const outputs: Record<string, string> = { 'h1-a1': 'yes', 'h1-a2': 'yes', 'h1-a3': 'no', 'h1-a4': 'no' };
    const res = await stack.request('POST', '/api/tasks', { type: 'opinion', payload: { outputs }, consensus: { protocol: 'fast-paxos', replicas: 3 } });
    expect(res.status).toBe(202);
    const view = await finished(res.body.id);
    const agents = view.consensus.agents as string[];
    expect(new Set(agents).size).toBe(3);
    const yes = agents.filter((a) => outputs[a] === 'yes');
    const majority = yes.length >= 2 ? 'yes' : 'no';
    expect(view).toMatchObject({ state: 'completed', result: majority, consensus: { protocol: 'fast-paxos', decided: true, votes: 2 } });
    expect(view.consensus.dissenters).toEqual(agents.filter((a) => outputs[a] !== majority));
    // The fast round could not decide with 2 votes of 3: a classic round did.
    expect(view.consensus.rounds).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('pbft: 4 replicas, one dissenting: the other 3 are the quorum 2f+1 and decide; the fourth is named', async () => {
    const res = await stack.request('POST', '/api/tasks', { type: 'opinion', payload: { outputs: { 'h1-a2': 'no' }, otherwise: 'yes' }, consensus: { protocol: 'pbft', replicas: 4 } });
    expect(res.status).toBe(202);
    const view = await finished(res.body.id);
    expect(view).toMatchObject({ state: 'completed', result: 'yes', consensus: { protocol: 'pbft', decided: true, votes: 3, dissenters: ['h1-a2'] } });
    // 2 : 2 is short of the quorum of 3: nothing commits.
    const even = await stack.request('POST', '/api/tasks', {
      type: 'opinion',
      payload: { outputs: { 'h1-a1': 'no', 'h1-a2': 'no' }, otherwise: 'yes' },
      consensus: { protocol: 'pbft', replicas: 4, timeoutMs: 1500 },
    });
    const e = await finished(even.body.id);
    expect(e.state).toBe('failed');
    expect(e.error).toMatch(/no output reached the pbft quorum of 3 of 4 voting replicas/);
  }, 30_000);

  it('a replica that fails does not hold the task up: its agent votes for nothing, and the other 3 of 4 still decide', async () => {
    const res = await stack.request('POST', '/api/tasks', { type: 'opinion', payload: { failOn: 'h1-a3', otherwise: 42 }, attempts: 1, consensus: { protocol: 'quorum', replicas: 4 } });
    const view = await finished(res.body.id);
    expect(view).toMatchObject({ state: 'completed', result: 42, consensus: { decided: true, votes: 3, dissenters: ['h1-a3'] } });
    expect(view.consensus.split).toContainEqual({ count: 1, agents: ['h1-a3'], error: 'h1-a3 cannot answer' });
    const failed = await stack.request('GET', `/api/tasks/${view.consensus.replicaTasks[view.consensus.agents.indexOf('h1-a3')]}`);
    expect(failed.body).toMatchObject({ state: 'failed', agentId: 'h1-a3', error: 'h1-a3 cannot answer' });
  }, 30_000);

  it('outputs compare as canonical JSON: the same object with its keys in another order agrees', async () => {
    const { id } = await client.submit({
      type: 'opinion',
      payload: { outputs: { 'h1-a1': { b: 2, a: 1 }, 'h1-a2': { a: 1, b: 2 } }, otherwise: { a: 1, b: 2 } },
      consensus: { protocol: 'quorum', replicas: 3 },
    });
    const view = await client.waitFor(id, { timeoutMs: 20_000 });
    expect(view.state).toBe('completed');
    expect(view.result).toEqual({ a: 1, b: 2 });
    expect(view.consensus).toMatchObject({ decided: true, dissenters: [] });
  }, 30_000);

  it('an even split fails the task with an error naming the split; so do outputs that all differ', async () => {
    const even = await stack.request('POST', '/api/tasks', {
      type: 'opinion',
      payload: { outputs: { 'h1-a1': 'left', 'h1-a2': 'left' }, otherwise: 'right' },
      consensus: { protocol: 'quorum', replicas: 4, timeoutMs: 1500 },
    });
    const allDifferent = await stack.request('POST', '/api/tasks', { type: 'opinion', payload: { byAgent: true }, consensus: { protocol: 'quorum', replicas: 3, timeoutMs: 1500 } });
    const e = await finished(even.body.id);
    expect(e.state).toBe('failed');
    expect(e.result).toBeNull();
    expect(e.error).toMatch(/no output reached the quorum quorum of 3 of 4 voting replicas/);
    expect(e.error).toMatch(/2 × "left" \(h1-a[12], h1-a[12]\)/);
    expect(e.error).toMatch(/2 × "right" \(h1-a[34], h1-a[34]\)/);
    expect(e.consensus).toMatchObject({ decided: false, votes: 2 });
    const d = await finished(allDifferent.body.id);
    expect(d.state).toBe('failed');
    expect(d.error).toMatch(/quorum of 2 of 3 voting replicas/);
    expect((d.error.match(/1 × \{"agent":"h1-a\d"\}/g) ?? []).length).toBe(3);
    expect(d.consensus.decided).toBe(false);
  }, 30_000);

  it('a split no output can win fails as soon as every replica has answered, not when the vote times out, naming the split', async () => {
    // 20 s to vote; each agent votes only for its own output, so with 2 : 2 (or 1 : 1 : 1) no output can reach the
    // quorum whatever the round does, and nothing is gained by waiting for it.
    const started = Date.now();
    const submit = async (body: unknown) => (await stack.request('POST', '/api/tasks', body)).body.id as string;
    const [even, pbftEven, allDifferent] = await Promise.all([
      submit({ type: 'opinion', payload: { outputs: { 'h1-a1': 'left', 'h1-a2': 'left' }, otherwise: 'right' }, consensus: { protocol: 'quorum', replicas: 4, timeoutMs: 20_000 } }),
      submit({ type: 'opinion', payload: { outputs: { 'h1-a1': 'no', 'h1-a2': 'no' }, otherwise: 'yes' }, consensus: { protocol: 'pbft', replicas: 4, timeoutMs: 20_000 } }),
      submit({ type: 'opinion', payload: { byAgent: true }, consensus: { protocol: 'fast-paxos', replicas: 3, timeoutMs: 20_000 } }),
    ]);
    const [e, p, d] = await Promise.all([finished(even, 5000), finished(pbftEven, 5000), finished(allDifferent, 5000)]);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(e).toMatchObject({ state: 'failed', result: null, consensus: { decided: false, votes: 2, rounds: 0 } });
    expect(e.error).toMatch(/no output reached the quorum quorum of 3 of 4 voting replicas, and none can/);
    expect(e.error).toMatch(/2 × "left" \(h1-a[12], h1-a[12]\)/);
    expect(e.error).toMatch(/2 × "right" \(h1-a[34], h1-a[34]\)/);
    expect(p.state).toBe('failed');
    expect(p.error).toMatch(/no output reached the pbft quorum of 3 of 4 voting replicas, and none can.*2 × "no" \(h1-a[12], h1-a[12]\); 2 × "yes" \(h1-a[34], h1-a[34]\)/);
    expect(d.state).toBe('failed');
    expect(d.error).toMatch(/fast-paxos quorum of 2 of 3 voting replicas, and none can/);
    expect((d.error.match(/1 × \{"agent":"h1-a\d"\}/g) ?? []).length).toBe(3);
    expect(d.consensus).toMatchObject({ decided: false, votes: 1 });
    // No round ran: no host was asked to vote.
    for (const id of [even, pbftEven, allDifferent]) expect(await redis.connection.exists(`${stack.config.prefix}:{swarm}:consensus:round:${id}:state`)).toBe(0);
  }, 30_000);

  it('bad requests: 400 with a reason, and nothing written', async () => {
    const before = await written();
    expect(before.length).toBeGreaterThan(0); // the earlier tests' jobs: the filter sees job hashes
    const cases: [unknown, string, RegExp][] = [
      [{ type: 'echo', consensus: { protocol: 'quorum', replicas: 5 } }, 'no_capable_agent', /needs 5 distinct live agents that can run "echo"; the swarm has 4/],
      [{ type: 'echo', consensus: { protocol: 'raft', replicas: 3 } }, 'invalid_request', /raft cannot judge replicated tasks: Raft replicates its leader's value.*use "quorum"/],
      [{ type: 'echo', consensus: { protocol: 'quorum', replicas: 1 } }, 'invalid_request', /consensus\.replicas/],
      [{ type: 'echo', consensus: { protocol: 'pbft', replicas: 3 } }, 'invalid_request', /pbft needs at least 4 replicas, got 3/],
      [{ type: 'echo', consensus: { protocol: 'quorum', replicas: 16 } }, 'invalid_request', /consensus\.replicas/],
      [{ type: 'echo', consensus: { protocol: 'paxos', replicas: 3 } }, 'invalid_request', /consensus\.protocol/],
      [{ type: 'echo', consensus: { protocol: 'quorum', replicas: 3, extra: 1 } }, 'invalid_request', /consensus/],
      [{ type: 'no-such-type', consensus: { protocol: 'quorum', replicas: 2 } }, 'unknown_task_type', /no-such-type/],
      [{ type: 'echo', waitForAgent: true, consensus: { protocol: 'quorum', replicas: 2 } }, 'invalid_request', /waitForAgent cannot be combined with consensus/],
    ];
    for (const [body, code, message] of cases) {
      const r = await stack.request('POST', '/api/tasks', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code, JSON.stringify(body)).toBe(code);
      expect(r.body.error.message, JSON.stringify(body)).toMatch(message);
    }
    const batch = await stack.request('POST', '/api/tasks/batch', { tasks: [{ type: 'echo' }, { type: 'echo', consensus: { protocol: 'quorum', replicas: 2 } }] });
    expect(batch.status).toBe(400);
    expect(batch.body.error.details).toEqual([{ path: 'tasks.1.consensus', message: 'not in a batch' }]);
    await expect(client.submit({ type: 'echo', consensus: { protocol: 'raft', replicas: 3 } })).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await written()).toEqual(before);
  }, 30_000);
});
