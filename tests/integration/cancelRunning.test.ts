// Cancelling running tasks end to end on real Redis, with an in-process
// coordinator (HTTP API) and agent host: the processor's signal is aborted
// with a TaskCancelledError, the task ends cancelled and is not retried, a
// result returned after the cancel is refused and counted, a processor that
// ignores its signal is cut loose after the grace period with an alert, and a
// cancel racing completion ends every task one way or the other, never both.
// Batches and replicated tasks are cancelled whole.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { TaskCancelledError } from '../../src/agents/cancelling.ts';
import type { CancelAlert } from '../../src/agents/agentAlerts.ts';
import { SwarmError } from '../../src/errors.ts';
import { bullKey, groupKeys, nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { cancelRunning } from '../../queues/cancelRunning.ts';
import { redisForFile } from '../support/redis.ts';
import { stackForFile } from '../support/stack.ts';
import { dump, until } from '../support/swarm.ts';
import { spawnCli } from '../support/cli.ts';

/** Each task's processor runs, by task id: how many times it started, and its signal's abort reason. */
const starts = new Map<string, number>();
const reasons = new Map<string, unknown>();
const waiters = new Map<string, () => void>();
/** Stubborn processors still running, for the grace-period case. */
let stubbornRunning = 0;

function started(id: string): void {
  starts.set(id, (starts.get(id) ?? 0) + 1);
  waiters.get(id)?.();
}

async function whenStarted(id: string): Promise<void> {
  if (starts.has(id)) return;
  await new Promise<void>((r) => waiters.set(id, r));
}

const processors: ProcessorMap = {
  ...builtinProcessors,
  // Runs until cancelled, as a processor honouring its signal does.
  hold: (_payload, ctx) =>
    new Promise((_resolve, reject) => {
      started(ctx.taskId);
      ctx.signal.addEventListener('abort', () => {
        reasons.set(ctx.taskId, ctx.signal.reason);
        reject(ctx.signal.reason as Error);
      });
    }),
  // Sees the abort, but answers anyway a moment later: that result must be refused.
  answersLate: (_payload, ctx) =>
    new Promise((resolve) => {
      started(ctx.taskId);
      ctx.signal.addEventListener('abort', () => setTimeout(() => resolve({ late: true }), 30));
    }),
  // Ignores its signal and runs on for payload.ms.
  stubborn: async (payload, ctx) => {
    started(ctx.taskId);
    stubbornRunning++;
    try {
      await sleep((payload as { ms: number }).ms);
      return { stubborn: true };
    } finally {
      stubbornRunning--;
    }
  },
  // Races the cancel: returns its result after payload.ms whatever happens to its signal.
  quick: async (payload, ctx) => {
    started(ctx.taskId);
    const p = payload as { ms: number; n: number };
    await sleep(p.ms);
    return { n: p.n };
  },
};

const GRACE_MS = 300;
const redis = redisForFile();
const stack = stackForFile(redis, {
  agents: [{ type: 'worker', count: 4, capacity: 3 }],
  processors,
  hostId: 'h1',
  driveConsensus: true,
  // Locks renewed every 500 ms: the fallback for a lost notice is seen quickly.
  config: { agents: { cancelGraceMs: GRACE_MS, lockDurationMs: 1000 } },
});
let client: SwarmClient;

beforeAll(() => {
  client = new SwarmClient({ redis: redis.url, prefix: stack.config.prefix });
});

afterAll(async () => {
  await client?.close();
});

async function submit(type: string, payload: unknown = {}, extra: Record<string, unknown> = {}): Promise<{ id: string; node: string }> {
  const r = await stack.request('POST', '/api/tasks', { type, payload, ...extra });
  expect(r.status).toBe(202);
  return r.body;
}

async function stat(field: string): Promise<number> {
  return Number((await redis.connection.hget(swarmKeys(stack.config.prefix).stats, field)) ?? 0);
}

describe('cancelling a running task', () => {
  it('aborts its signal with a TaskCancelledError, answers 200 wasRunning, and the task ends cancelled, not retried', async () => {
    const { id, node } = await submit('hold', {}, { attempts: 3 });
    await whenStarted(id);
    const aborted = stack.host!.cancelCounts().aborted;
    const r = await stack.request('DELETE', `/api/tasks/${id}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id, node, type: 'hold', state: 'cancelled', wasRunning: true, result: null });
    expect(r.body.startedAt).toEqual(expect.any(Number));
    await until(async () => reasons.has(id), 2000, 'the signal to abort');
    expect(reasons.get(id)).toBeInstanceOf(TaskCancelledError);
    expect((reasons.get(id) as Error).message).toBe(`task ${id} was cancelled`);
    expect(stack.host!.cancelCounts().aborted).toBe(aborted + 1);
    // Not retried, not failed, not completed: gone from the queue, its tombstone stays.
    await sleep(300);
    expect(starts.get(id)).toBe(1);
    expect((await stack.request('GET', `/api/tasks/${id}`)).body).toMatchObject({ state: 'cancelled', result: null, error: null });
    const q = (s: string) => bullKey(stack.config.prefix, nodeQueueName(node), s);
    expect(await redis.connection.exists(q(id), q(`${id}:lock`))).toBe(0);
    expect(await redis.connection.zscore(q('failed'), id)).toBeNull();
    expect(await redis.connection.zscore(q('completed'), id)).toBeNull();
    expect(await redis.connection.lpos(q('active'), id)).toBeNull();
    expect(stack.host!.activeCount()).toBe(0);
    // A repeated cancel answers the task as cancelled.
    const again = await stack.request('DELETE', `/api/tasks/${id}`);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ state: 'cancelled', wasRunning: true });
    expect(await stat('cancelledRunning')).toBeGreaterThanOrEqual(1);
  });

  it('from the client too; a result the processor returns after the cancel is refused and counted, never recorded', async () => {
    const { id } = await client.submit({ type: 'answersLate', payload: {} });
    await whenStarted(id);
    const refused = stack.host!.cancelCounts()['result-refused'];
    const view = await client.cancel(id);
    expect(view).toMatchObject({ id, state: 'cancelled', wasRunning: true });
    await until(async () => stack.host!.cancelCounts()['result-refused'] === refused + 1, 2000, 'the late result to be refused');
    expect(await client.get(id)).toMatchObject({ state: 'cancelled', result: null });
    expect(await stat('cancelRefusedResults')).toBeGreaterThanOrEqual(1);
  });

  it('a processor ignoring its signal past the grace period: its slot is freed, it is counted, a cancel-ignored alert is raised; its result is refused', async () => {
    const alerts: CancelAlert[] = [];
    const onAlert = (a: CancelAlert) => alerts.push(a);
    stack.host!.on('cancel-alert', onAlert);
    try {
      const { id } = await submit('stubborn', { ms: 1500 });
      await whenStarted(id);
      const t0 = Date.now();
      expect((await stack.request('DELETE', `/api/tasks/${id}`)).body).toMatchObject({ state: 'cancelled', wasRunning: true });
      await until(async () => alerts.length > 0, 3000, 'the cancel-ignored alert');
      const waited = Date.now() - t0;
      expect(waited).toBeGreaterThanOrEqual(GRACE_MS - 20);
      expect(waited).toBeLessThan(1200);
      expect(alerts[0]).toMatchObject({ host: 'h1', task: id, reason: 'cancel-ignored', severity: 'warning', graceMs: GRACE_MS });
      // Freed while the processor still runs: the host counts nothing running, and new work runs meanwhile.
      expect(stubbornRunning).toBe(1);
      expect(stack.host!.activeCount()).toBe(0);
      const next = await client.submit({ type: 'echo', payload: 'after' });
      expect((await client.waitFor(next.id, { timeoutMs: 5000 })).state).toBe('completed');
      expect(stubbornRunning).toBe(1);
      expect(stack.host!.cancelCounts()['ignored-signal']).toBeGreaterThanOrEqual(1);
      const events = await redis.connection.xrange(`${stack.config.prefix}:{swarm}:events`, '-', '+');
      expect(events.some(([, f]) => f[1] === 'health:alert' && (JSON.parse(f[3]!) as { reason?: string; task?: string }).task === id)).toBe(true);
      // Its result, when it comes at last, is refused.
      const refused = stack.host!.cancelCounts()['result-refused'];
      await until(async () => stack.host!.cancelCounts()['result-refused'] === refused + 1, 3000, 'the stubborn result to be refused');
      expect(await client.get(id)).toMatchObject({ state: 'cancelled', result: null });
    } finally {
      stack.host!.off('cancel-alert', onAlert);
    }
  });

  it('a cancel whose notice never came (its canceller died, or may not write control queues) reaches the host at its next lock renewal', async () => {
    const { id, node } = await submit('hold');
    await whenStarted(id);
    // The cancel script alone, as a canceller that died before its notice leaves it.
    expect(await cancelRunning(redis.connection, { prefix: stack.config.prefix, node, id, now: Date.now() })).toMatchObject({ outcome: 'cancelled', host: 'h1' });
    await until(async () => reasons.has(id), 3000, 'the signal to abort at the lock renewal');
    expect(reasons.get(id)).toBeInstanceOf(TaskCancelledError);
    expect((await client.get(id))?.state).toBe('cancelled');
  });

  it('from the CLI: `swarmq cancel <id>` prints the task cancelled; a finished one exits non-zero with the conflict', async () => {
    const { id } = await submit('hold');
    await whenStarted(id);
    const cli = spawnCli(['cancel', id, '--redis-url', redis.url, '--prefix', stack.config.prefix]);
    const printed = await cli.waitFor(/"state":"cancelled"/);
    expect(printed).toMatchObject({ id, state: 'cancelled', wasRunning: true });
    expect((await cli.exited).code).toBe(0);
    await until(async () => reasons.has(id), 2000, 'the signal to abort');
    const done = await submit('echo', 'y');
    await client.waitFor(done.id, { timeoutMs: 5000 });
    const refused = spawnCli(['cancel', done.id, '--redis-url', redis.url, '--prefix', stack.config.prefix]);
    expect((await refused.exited).code).not.toBe(0);
    expect(refused.output()).toContain('already completed');
  });

  it('errors are values and write nothing: finished 409, unknown 404, a replica alone 409', async () => {
    const done = await submit('echo', 'x');
    await client.waitFor(done.id, { timeoutMs: 5000 });
    const before = await dump(redis.connection, stack.config.prefix);
    // What changes by itself (heartbeats, memberships and leases, loads, events, BullMQ's stalled checks) is left out.
    const stable = (d: Record<string, string>) => Object.fromEntries(Object.entries(d).filter(([k]) => !/:\{swarm\}:(hosts|coordinators|coordinator-details|events|loads|loads-version|summary.*|lease.*)$|partition|stalled-check$|:metrics:|:events$/.test(k)));
    const finished = await stack.request('DELETE', `/api/tasks/${done.id}`);
    expect(finished.status).toBe(409);
    expect(finished.body.error).toMatchObject({ code: 'conflict', details: { state: 'completed' } });
    expect((await stack.request('DELETE', '/api/tasks/n1.nosuchtaskxx')).status).toBe(404);
    expect((await stack.request('DELETE', `/api/tasks/${encodeURIComponent(`${done.id}:lock`)}`)).status).toBe(404);
    expect(stable(await dump(redis.connection, stack.config.prefix))).toEqual(stable(before));
    expect((await client.get(done.id))?.state).toBe('completed');
    await expect(client.cancel(done.id)).rejects.toBeInstanceOf(SwarmError);
  });
});

describe('a cancel racing completion', () => {
  it('ends every task completed with its result or cancelled with none, never both (200 races)', async () => {
    const outcomes: { id: string; node: string; n: number; answer: number }[] = [];
    let n = 0;
    const lane = async () => {
      for (let i = 0; i < 25; i++) {
        const mine = n++;
        const ms = 1 + (mine % 4);
        const { id, node } = await client.submit({ type: 'quick', payload: { ms, n: mine } });
        await whenStarted(id);
        // Around the processor's end: before it, at it, after it.
        await sleep((mine * 7) % (2 * ms + 2));
        const answer = await client.cancel(id).then(
          (v) => (v.wasRunning ? 200 : -1),
          (err: SwarmError) => (err.code === 'conflict' ? 409 : -2),
        );
        outcomes.push({ id, node, n: mine, answer });
      }
    };
    await Promise.all(Array.from({ length: 8 }, lane));
    expect(outcomes.map((o) => o.answer).filter((a) => a !== 200 && a !== 409)).toEqual([]);
    for (const o of outcomes) {
      const view = await client.waitFor(o.id, { timeoutMs: 5000 });
      const group = groupKeys(stack.config.prefix, o.node);
      const completedAt = await redis.connection.zscore(bullKey(stack.config.prefix, nodeQueueName(o.node), 'completed'), o.id);
      const tomb = await redis.connection.hget(group.cancelled, o.id);
      if (o.answer === 200) {
        expect(view, o.id).toMatchObject({ state: 'cancelled', result: null });
        expect(completedAt, o.id).toBeNull();
        expect(tomb, o.id).not.toBeNull();
      } else {
        expect(view, o.id).toMatchObject({ state: 'completed', result: { n: o.n } });
        expect(tomb, o.id).toBeNull();
      }
      expect(starts.get(o.id), o.id).toBe(1);
    }
    // Both outcomes happened, or the race was not a race.
    expect(outcomes.some((o) => o.answer === 200)).toBe(true);
    expect(outcomes.some((o) => o.answer === 409)).toBe(true);
  });
});

describe('cancelling a batch', () => {
  it('DELETE /api/batches/:id cancels its waiting and running tasks; a bad id is 400, an unknown one 404', async () => {
    // 12 slots: 16 tasks, so some wait.
    const r = await stack.request('POST', '/api/tasks/batch', { tasks: Array.from({ length: 16 }, () => ({ type: 'hold' })) });
    expect(r.status).toBe(202);
    const { batchId, ids } = r.body as { batchId: string; ids: string[] };
    expect(batchId).toMatch(/^[A-Za-z0-9_-]{12}$/);
    await until(async () => ids.filter((id) => starts.has(id)).length === 12, 5000, 'twelve tasks to start');
    const del = await stack.request('DELETE', `/api/batches/${batchId}`);
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ batchId, tasks: 16, cancelled: 16, wasRunning: 12, finished: 0 });
    await until(async () => ids.filter((id) => reasons.has(id)).length === 12, 3000, 'twelve signals to abort');
    await sleep(200);
    // The waiting four never ran, not even into the slots the cancelled ones freed.
    expect(ids.filter((id) => starts.has(id))).toHaveLength(12);
    for (const id of ids) expect((await client.get(id))?.state).toBe('cancelled');
    expect((await stack.request('DELETE', '/api/batches/not-a-batch')).status).toBe(400);
    expect((await stack.request('DELETE', '/api/batches/AAAAAAAAAAAA')).status).toBe(404);
    // Again: everything already cancelled.
    expect((await stack.request('DELETE', `/api/batches/${batchId}`)).body).toMatchObject({ cancelled: 16 });
  });
});

describe('cancelling a replicated task', () => {
  it('cancels its parent and every replica; GET shows it cancelled; a replica alone is refused', async () => {
    const r = await stack.request('POST', '/api/tasks', { type: 'hold', payload: {}, consensus: { protocol: 'quorum', replicas: 3 } });
    expect(r.status).toBe(202);
    const id = r.body.id as string;
    const view = (await stack.request('GET', `/api/tasks/${id}`)).body;
    const replicas = view.consensus.replicaTasks as string[];
    expect(replicas).toHaveLength(3);
    await until(async () => replicas.every((x) => starts.has(x)), 5000, 'the replicas to start');
    const alone = await stack.request('DELETE', `/api/tasks/${replicas[0]}`);
    expect(alone.status).toBe(409);
    expect(alone.body.error.message).toContain('replica');
    const del = await stack.request('DELETE', `/api/tasks/${id}`);
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ id, state: 'cancelled', wasRunning: true });
    expect(del.body.replicas.map((x: { state: string }) => x.state)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    await until(async () => replicas.every((x) => reasons.has(x)), 3000, 'every replica aborted');
    expect((await stack.request('GET', `/api/tasks/${id}`)).body).toMatchObject({ id, state: 'cancelled', type: 'hold' });
    for (const x of replicas) expect((await client.get(x))?.state).toBe('cancelled');
    expect((await stack.request('DELETE', `/api/tasks/${id}`)).status).toBe(200);
  });
});
