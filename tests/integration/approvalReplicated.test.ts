// A replicated task that needs approval, end to end on real Redis, under each
// durability setting: its agreed output (after the vote) awaits approval;
// approving completes the task with it, rejecting fails it, and a rejection
// with retry runs new replicas, told the reason, and a new vote. With
// `replicated` durability the parked output, the decision and the completion
// are each on the replica before they count (read from the replica itself),
// and a decision no replica confirms is a 503 not_replicated that stands all
// the same (a repeated decision is a 409 naming it).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { launchRedisServer, type RedisServer } from '../../src/cli/redisServer.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { Consensus } from '../../src/consensus/runtime/consensus.ts';
import { SwarmError } from '../../src/errors.ts';
import { replicatedDataSchema, type ReplicatedData } from '../../src/consensus/runtime/judgeReplicated.ts';
import { revisionId, roundJobId } from '../../src/consensus/runtime/keys.ts';
import { addRevisionReplicas, revisionReplicas, type RevisionReplica } from '../../src/consensus/runtime/rerunReplicas.ts';
import { isIssuedTaskId } from '../../src/tasks/ids.ts';
import type { TaskView } from '../../src/tasks/schema.ts';
import { bullKey, CONSENSUS_QUEUE } from '../../queues/keys.ts';
import { uniquePrefix } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

const dir = mkdtempSync(join(tmpdir(), 'swarmq-approval-replicated-'));
let primary: RedisServer;
let replica: RedisServer;
let lonely: RedisServer;
const stops: (() => Promise<unknown>)[] = [];

/** Runs of each replica's processor, by the replicated task its payload names; and what each run was told. */
const runs = new Map<string, number>();
const told = new Map<string, { taskId: string; agent: string; feedback: string | undefined; revision: number | undefined }[]>();
const processors: ProcessorMap = {
  classify: async (payload, ctx) => {
    const p = (payload ?? {}) as { of?: string; holdOnRetry?: boolean };
    const of = String(p.of);
    runs.set(of, (runs.get(of) ?? 0) + 1);
    told.set(of, [...(told.get(of) ?? []), { taskId: ctx.taskId, agent: ctx.agentId, feedback: ctx.feedback, revision: ctx.revision }]);
    // Runs again only until cancelled: the test cancels the task while its second revision runs.
    if (p.holdOnRetry && ctx.feedback) await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('cancelled'))));
    return { label: `label of ${of}${ctx.feedback ? ` (${ctx.feedback})` : ''}` };
  },
};

beforeAll(async () => {
  primary = await launchRedisServer({ dir: mkdtempSync(join(dir, 'p')), appendonly: false });
  replica = await launchRedisServer({ dir: mkdtempSync(join(dir, 'r')), appendonly: false, extraArgs: ['--replicaof', '127.0.0.1', String(primary.port)] });
  lonely = await launchRedisServer({ dir: mkdtempSync(join(dir, 'l')), appendonly: false });
  await until(async () => {
    const r = new Redis(replica.port);
    const info = await r.info('replication').finally(() => r.disconnect());
    return info.includes('master_link_status:up');
  }, 10_000, 'the replica to sync');
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await Promise.all([primary, replica, lonely].map((s) => s?.kill('SIGKILL')));
  rmSync(dir, { recursive: true, force: true });
});

/** A stack of three agents (a replica each) with a round driver, under `durability`. */
async function swarmOn(server: RedisServer, durability: { mode: 'fast' | 'replicated'; timeoutMs?: number }): Promise<Stack> {
  const config = testConfig({ url: server.url } as never, { prefix: uniquePrefix('apr'), durability });
  const stack = await startStack(config, { agents: [{ type: 'worker', count: 3, capacity: 2 }], processors });
  stops.push(() => stack.stop());
  const driver = new Consensus({ redis: server.url, prefix: config.prefix, config: { durability } });
  await driver.drive();
  stops.push(() => driver.close());
  return stack;
}

async function submitReplicated(stack: Stack, of: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await stack.request('POST', '/api/tasks', { type: 'classify', payload: { of, ...extra }, consensus: { protocol: 'quorum', replicas: 3 }, approval: { required: true, timeoutMs: 60_000 } });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return r.body.id as string;
}

async function awaiting(stack: Stack, id: string): Promise<TaskView> {
  return await until(async () => {
    const v = (await stack.request('GET', `/api/tasks/${id}`)).body as TaskView;
    return v.state === 'awaiting-approval' ? v : undefined;
  }, 20_000, `task ${id} to await approval`);
}

async function finished(stack: Stack, id: string): Promise<TaskView> {
  return await until(async () => {
    const v = (await stack.request('GET', `/api/tasks/${id}`)).body as TaskView;
    return v.state === 'completed' || v.state === 'failed' ? v : undefined;
  }, 10_000, `task ${id} to finish`);
}

async function waits(port: number): Promise<number> {
  const r = new Redis(port);
  const stats = await r.info('commandstats').finally(() => r.disconnect());
  return Number(/cmdstat_wait:calls=([0-9]+)/.exec(stats)?.[1] ?? 0);
}

/** The replicated task's job hash as the replica holds it, once it has `field` (replication is asynchronous; WAIT is what bounds it). */
async function onReplica(prefix: string, id: string, field: string): Promise<Record<string, string>> {
  const r = new Redis(replica.port);
  try {
    return await until(async () => {
      const h = await r.hgetall(bullKey(prefix, CONSENSUS_QUEUE, id));
      return h[field] ? h : undefined;
    }, 5000, `the replica to hold ${field} of ${id}`);
  } finally {
    r.disconnect();
  }
}

describe('a replicated task awaiting approval', () => {
  it('replicated durability: the agreed output, the approval and the completion each reach the replica; approving completes with the agreed output', async () => {
    const stack = await swarmOn(primary, { mode: 'replicated', timeoutMs: 2000 });
    const prefix = stack.config.prefix;
    const id = await submitReplicated(stack, 'approved');
    const v = await awaiting(stack, id);
    expect(v).toMatchObject({ result: null, consensus: { decided: true, votes: 3, phase: 'done' }, approval: { state: 'awaiting', round: 1, output: { label: 'label of approved' } } });
    expect(runs.get('approved')).toBe(3);
    // The driver waited for a replica to hold the parked output (holdForApproval).
    expect(JSON.parse((await onReplica(prefix, id, 'sqAwaiting')).sqAwaiting!)).toMatchObject({ output: { label: 'label of approved' }, round: 1 });

    const before = await waits(primary.port);
    const ok = await stack.request('POST', `/api/tasks/${id}/approve`, { by: 'eve' });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    // Acknowledged once a replica had it: a WAIT for the decision at least, and the replica holds it as the answer comes (read once, not polled).
    expect((await waits(primary.port)) - before).toBeGreaterThanOrEqual(1);
    const atOnce = new Redis(replica.port);
    const decision = await atOnce.hget(bullKey(prefix, CONSENSUS_QUEUE, id), 'sqDecision').finally(() => atOnce.disconnect());
    expect(JSON.parse(decision!)).toMatchObject({ decision: 'approved', by: { name: 'eve' } });

    const done = await finished(stack, id);
    expect(done).toMatchObject({ state: 'completed', result: { label: 'label of approved' }, approval: { state: 'approved' }, consensus: { decided: true, votes: 3 } });
    // Completed without another vote or replica run, and the completion is on the replica too.
    expect(runs.get('approved')).toBe(3);
    expect(JSON.parse((await onReplica(prefix, id, 'finishedOn')).returnvalue!)).toEqual({ label: 'label of approved' });
  });

  it('replicated durability: rejected with retry, new replicas run with the reason as ctx.feedback and vote again; rejecting fails the task, on the replica too', async () => {
    const stack = await swarmOn(primary, { mode: 'replicated', timeoutMs: 2000 });
    const prefix = stack.config.prefix;
    const id = await submitReplicated(stack, 'retried');
    const first = await awaiting(stack, id);
    const firstReplicas = first.consensus!.replicaTasks;

    const retry = await stack.request('POST', `/api/tasks/${id}/reject`, { reason: 'be stricter', retry: true });
    expect(retry.status, JSON.stringify(retry.body)).toBe(200);
    const second = await until(async () => {
      const v = (await stack.request('GET', `/api/tasks/${id}`)).body as TaskView;
      return v.state === 'awaiting-approval' && v.approval?.round === 2 ? v : undefined;
    }, 20_000, 'the second revision to await approval');
    // Three new replicas, each told why, on three distinct agents, and a vote of their own on the new output.
    expect(second).toMatchObject({ consensus: { decided: true, votes: 3, dissenters: [] }, approval: { state: 'awaiting', round: 2, output: { label: 'label of retried (be stricter)' } } });
    const secondReplicas = second.consensus!.replicaTasks;
    expect(secondReplicas).toHaveLength(3);
    expect(secondReplicas.filter((r) => firstReplicas.includes(r))).toEqual([]);
    const runsOf = told.get('retried')!;
    expect(runsOf.filter((r) => r.feedback === undefined).map((r) => r.taskId).sort()).toEqual([...firstReplicas].sort());
    const rerun = runsOf.filter((r) => r.feedback !== undefined);
    expect(rerun.map((r) => r.taskId).sort()).toEqual([...secondReplicas].sort());
    expect(rerun.every((r) => r.feedback === 'be stricter' && r.revision === 2)).toBe(true);
    expect(new Set(rerun.map((r) => r.agent)).size).toBe(3);
    for (const replicaId of secondReplicas) expect((await stack.request('GET', `/api/tasks/${replicaId}`)).body).toMatchObject({ state: 'completed', result: { label: 'label of retried (be stricter)' } });
    // The second output reached the replica before it was offered for a decision.
    expect(JSON.parse((await onReplica(prefix, id, 'sqAwaiting')).sqAwaiting!)).toMatchObject({ round: 2, output: { label: 'label of retried (be stricter)' } });

    const no = await stack.request('POST', `/api/tasks/${id}/reject`, { reason: 'wrong label', by: 'fay', round: 2 });
    expect(no.status, JSON.stringify(no.body)).toBe(200);
    expect(JSON.parse((await onReplica(prefix, id, 'sqDecision')).sqDecision!)).toMatchObject({ decision: 'rejected', reason: 'wrong label', retry: false, round: 2 });
    const done = await finished(stack, id);
    expect(done).toMatchObject({ state: 'failed', result: null, approval: { state: 'rejected' } });
    expect(done.error).toBe(`task ${id} was rejected by fay (an unauthenticated API caller): wrong label`);
    expect(done.approval!.decisions.map((x) => [x.decision, x.round, x.retry])).toEqual([
      ['rejected', 1, true],
      ['rejected', 2, false],
    ]);
    expect((await onReplica(prefix, id, 'finishedOn')).failedReason).toContain('wrong label');
    expect(runs.get('retried')).toBe(6);
  });

  it('fast durability, a decision no replica confirms: 503 not_replicated, yet the decision stands and a repeat is a 409 naming it; reject fails the task', async () => {
    const stack = await swarmOn(lonely, { mode: 'fast' });
    const prefix = stack.config.prefix;
    const [approved, rejected] = [await submitReplicated(stack, 'unconfirmed'), await submitReplicated(stack, 'fast-rejected')];
    await awaiting(stack, approved);
    await awaiting(stack, rejected);
    // A process deciding with replicated durability, on a Redis with no replica.
    const decider = new SwarmClient({ redis: lonely.url, prefix, config: { durability: { mode: 'replicated', timeoutMs: 100 } } });
    stops.push(() => decider.close());
    const err = await decider.approve(approved, { by: 'gus' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwarmError);
    expect((err as SwarmError).code).toBe('not_replicated');
    expect((err as SwarmError).message).toContain(`the decision on task ${approved}`);
    const again = await stack.request('POST', `/api/tasks/${approved}/approve`);
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/was already approved by gus \(a client with Redis access\)/);
    expect(await finished(stack, approved)).toMatchObject({ state: 'completed', result: { label: 'label of unconfirmed' } });

    // Fast: no WAIT; a rejection fails the task at once.
    const fast = new SwarmClient({ redis: lonely.url, prefix });
    stops.push(() => fast.close());
    await fast.reject(rejected, { reason: 'no' });
    expect(await finished(stack, rejected)).toMatchObject({ state: 'failed', approval: { state: 'rejected', decisions: [{ decision: 'rejected', by: { via: 'client' } }] } });
    // Nothing of either task awaits any more.
    expect((await stack.request('GET', '/api/approvals')).body.tasks).toEqual([]);
  });

  it('cancelled while its second revision runs: the new replicas are cancelled, running ones aborted', async () => {
    const stack = await swarmOn(lonely, { mode: 'fast' });
    const id = await submitReplicated(stack, 'cancelled-rerun', { holdOnRetry: true });
    const first = await awaiting(stack, id);
    expect((await stack.request('POST', `/api/tasks/${id}/reject`, { reason: 'once more', retry: true })).status).toBe(200);
    const rerun = await until(async () => {
      const v = (await stack.request('GET', `/api/tasks/${id}`)).body as TaskView;
      const ids = v.consensus?.replicaTasks ?? [];
      if (ids.some((r) => first.consensus!.replicaTasks.includes(r))) return undefined;
      const states = await Promise.all(ids.map(async (r) => ((await stack.request('GET', `/api/tasks/${r}`)).body as TaskView).state));
      return states.every((s) => s === 'active') ? ids : undefined;
    }, 10_000, 'the second revision\'s replicas to run');
    const cancel = await stack.request('DELETE', `/api/tasks/${id}`);
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
    expect(cancel.body).toMatchObject({ state: 'cancelled', wasRunning: true });
    expect((cancel.body.replicas as { id: string }[]).map((r) => r.id).sort()).toEqual([...rerun].sort());
    for (const r of rerun) expect(((await stack.request('GET', `/api/tasks/${r}`)).body as TaskView).state).toBe('cancelled');
    expect(((await stack.request('GET', `/api/tasks/${id}`)).body as TaskView).state).toBe('cancelled');
  });
});

describe('a driver taking over a rejection with retry', () => {
  it('after one that added the new replicas and died before naming them: nothing runs twice, and the new vote decides', async () => {
    const config = testConfig({ url: lonely.url } as never, { prefix: uniquePrefix('apr') });
    const stack = await startStack(config, { agents: [{ type: 'worker', count: 3, capacity: 2 }], processors });
    stops.push(() => stack.stop());
    const first = new Consensus({ redis: lonely.url, prefix: config.prefix });
    await first.drive();
    const id = await submitReplicated(stack, 'taken-over');
    await awaiting(stack, id);
    await first.close(); // no driver from here until the takeover
    expect((await stack.request('POST', `/api/tasks/${id}/reject`, { reason: 'again', retry: true })).status).toBe(200);

    // A driver that takes the task, adds the second revision's replicas, and dies before it names them in the data.
    const worker = new Worker(CONSENSUS_QUEUE, undefined, { connection: { url: lonely.url }, prefix: config.prefix, autorun: false });
    stops.push(() => worker.close());
    const taken = await until(async () => (await worker.getNextJob('dying-driver', { block: false })) ?? undefined, 5000, 'the task to be taken');
    expect(taken.id).toBe(id);
    const data = replicatedDataSchema.parse(taken.data);
    const replicas = revisionReplicas(id, data, 2, 'again') as RevisionReplica[];
    const redis = new Redis(lonely.port);
    stops.push(async () => redis.disconnect());
    await addRevisionReplicas(redis, config.prefix, taken, replicas, false);
    await taken.moveToWait('dying-driver'); // as the stalled check would, once its lock lapsed
    for (const r of replicas) await until(async () => ((await stack.request('GET', `/api/tasks/${r.id}`)).body as TaskView).state === 'completed', 10_000, `replica ${r.id} to run`);

    const second = new Consensus({ redis: lonely.url, prefix: config.prefix });
    await second.drive();
    stops.push(() => second.close());
    const v = await until(async () => {
      const t = (await stack.request('GET', `/api/tasks/${id}`)).body as TaskView;
      return t.state === 'awaiting-approval' && t.approval?.round === 2 ? t : undefined;
    }, 20_000, 'the second revision to await approval');
    expect(v).toMatchObject({ consensus: { decided: true, votes: 3, replicaTasks: replicas.map((r) => r.id) }, approval: { output: { label: 'label of taken-over (again)' } } });
    // Each new replica ran once: the takeover added them again, which added nothing.
    expect(told.get('taken-over')!.filter((r) => r.feedback === 'again').map((r) => r.taskId).sort()).toEqual(replicas.map((r) => r.id).sort());
    expect(runs.get('taken-over')).toBe(6);
  });
});

describe('the replicas of a revision (pure)', () => {
  const data = (over: Partial<ReplicatedData['replicated']> = {}): ReplicatedData => ({
    replicated: {
      type: 'classify',
      protocol: 'quorum',
      replicas: 3,
      timeoutMs: 1000,
      replicaTasks: ['n1.aaaaaaaaaaaa', 'n2.bbbbbbbbbbbb', 'n1.cccccccccccc'],
      rerun: { envelope: { payload: { of: 'x' }, timeoutMs: 500 }, opts: { attempts: 2, ignoreDependencyOnFailure: true } },
      ...over,
    },
    outcome: { protocol: 'quorum', replicas: 3, decided: true, votes: 3, dissenters: [], agents: ['h1-a1', 'h1-a4', null], rounds: 1, split: [], latencyMs: 1 },
  });

  it('one per replica of the last revision, on its node, preferring its agent, told why, under ids derived from the revision', () => {
    const replicas = revisionReplicas('r-abcdefghijkl', data(), 2, 'shorter') as RevisionReplica[];
    expect(replicas.map((r) => r.node)).toEqual(['n1', 'n2', 'n1']);
    for (const r of replicas) expect(isIssuedTaskId(r.id), r.id).toBe(true);
    expect(new Set(replicas.map((r) => r.id)).size).toBe(3);
    expect(replicas[0]).toMatchObject({ name: 'classify', data: { payload: { of: 'x' }, timeoutMs: 500, replica: { of: 'r-abcdefghijkl~2', prefer: 'h1-a1', feedback: 'shorter', revision: 2 } }, opts: { attempts: 2 } });
    expect(replicas[2]!.data.replica!.prefer).toBe('');
    // The same revision gives the same ids (a driver taking over adds nothing twice); another revision, others.
    expect((revisionReplicas('r-abcdefghijkl', data(), 2, 'shorter') as RevisionReplica[]).map((r) => r.id)).toEqual(replicas.map((r) => r.id));
    expect((revisionReplicas('r-abcdefghijkl', data(), 3, 'shorter') as RevisionReplica[]).map((r) => r.id).filter((x) => replicas.some((r) => r.id === x))).toEqual([]);
    expect(revisionReplicas('r-abcdefghijkl', data({ rerun: undefined }), 2, 'x')).toMatch(/submitted before swarmq could run a replicated task again/);
    expect([revisionId('r-x', 1), revisionId('r-x', 2), roundJobId('r-x~2'), roundJobId('p-y')]).toEqual(['r-x', 'r-x~2', 'r-x', 'p-y']);
  });
});
