// Approval before a result counts, end to end on real Redis over HTTP (behind
// the API token): a task's output waits in awaiting-approval while its agent
// takes other work; approving completes it with that output, rejecting fails
// it or runs it again with the reason as ctx.feedback; a deadline with no
// decision fails it. Who decided and when is on the task and in an
// approval:decided event. Errors write nothing. And approve, reject and the
// deadline racing end each task one way only.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { builtinProcessors } from '../../processors/builtins.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { swarmKeys } from '../../queues/keys.ts';
import type { TaskView } from '../../src/tasks/schema.ts';
import { redisForFile } from '../support/redis.ts';
import { stackForFile } from '../support/stack.ts';
import { dump, until } from '../support/swarm.ts';

const TOKEN = 'approval-test-token-0123456789';
/** Runs of each task's processor: the ctx it saw. */
const runs = new Map<string, { feedback: string | undefined; revision: number | undefined; agent: string }[]>();

const processors: ProcessorMap = {
  ...builtinProcessors,
  draft: (payload, ctx) => {
    const seen = runs.get(ctx.taskId) ?? [];
    seen.push({ feedback: ctx.feedback, revision: ctx.revision, agent: ctx.agentId });
    runs.set(ctx.taskId, seen);
    const topic = (payload as { topic?: string } | null)?.topic ?? '?';
    return { text: ctx.feedback ? `draft of ${topic}, ${ctx.feedback}` : `draft of ${topic}`, revision: ctx.revision ?? 1 };
  },
};

const redis = redisForFile();
const stack = stackForFile(redis, {
  agents: [
    { type: 'worker', count: 2, capacity: 8 },
    { type: 'solo', count: 1, capacity: 1 },
  ],
  processors,
  hostId: 'h1',
  config: { http: { apiToken: TOKEN } },
});

const auth = { authorization: `Bearer ${TOKEN}` };
const api = (method: string, path: string, body?: unknown) => stack.request(method, path, body, auth);

async function submit(extra: Record<string, unknown> = {}, payload: unknown = { topic: 'tides' }): Promise<string> {
  const r = await api('POST', '/api/tasks', { type: 'draft', payload, approval: { required: true }, ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return r.body.id as string;
}

async function view(id: string): Promise<TaskView> {
  const r = await api('GET', `/api/tasks/${id}`);
  expect(r.status).toBe(200);
  return r.body as TaskView;
}

async function awaiting(id: string, timeoutMs = 5000): Promise<TaskView> {
  return await until(async () => {
    const v = await view(id);
    return v.state === 'awaiting-approval' ? v : undefined;
  }, timeoutMs, `task ${id} to await approval`);
}

async function finished(id: string): Promise<TaskView> {
  return await until(async () => {
    const v = await view(id);
    return v.state === 'completed' || v.state === 'failed' || v.state === 'cancelled' ? v : undefined;
  }, 5000, `task ${id} to finish`);
}

async function decidedEvents(task: string): Promise<Record<string, unknown>[]> {
  const entries = await redis.connection.xrange(swarmKeys(stack.config.prefix).events, '-', '+');
  return entries.flatMap(([, f]) => (f[1] === 'approval:decided' ? [JSON.parse(f[3]!) as Record<string, unknown>] : [])).filter((e) => e.task === task);
}

describe('a task that needs approval', () => {
  it('waits with its output while its agent takes other work; approving completes it with that output, recorded with who and when', async () => {
    const id = await submit({ affinity: { agentType: 'solo' } });
    const v = await awaiting(id);
    expect(v).toMatchObject({ state: 'awaiting-approval', result: null, agentId: 'h1-a3' });
    expect(v.approval).toMatchObject({ state: 'awaiting', round: 1, output: { text: 'draft of tides', revision: 1 }, agentId: 'h1-a3', decisions: [] });
    expect(v.approval!.deadline! - v.approval!.awaitingSince!).toBe(7 * 24 * 3600 * 1000);
    // The only solo agent is free: another task runs on it while the first waits.
    const other = await api('POST', '/api/tasks', { type: 'echo', payload: 'meanwhile', affinity: { agentType: 'solo' } });
    expect((await finished(other.body.id)).result).toBe('meanwhile');
    expect((await view(id)).state).toBe('awaiting-approval');
    // Listed with its output.
    const list = await api('GET', '/api/approvals');
    expect(list.status).toBe(200);
    expect(list.body.tasks.map((t: TaskView) => t.id)).toContain(id);
    expect(list.body.total).toBeGreaterThanOrEqual(1);

    const before = Date.now();
    const r = await api('POST', `/api/tasks/${id}/approve`, { by: 'ana' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.approval).toMatchObject({ state: 'approved' });
    const done = await finished(id);
    expect(done).toMatchObject({ state: 'completed', result: { text: 'draft of tides', revision: 1 }, agentId: 'h1-a3' });
    const d = done.approval!.decisions;
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ decision: 'approved', round: 1, by: { via: 'token', name: 'ana', address: expect.stringMatching(/127\.0\.0\.1/) } });
    expect(d[0]!.at).toBeGreaterThanOrEqual(before);
    expect(runs.get(id)).toHaveLength(1);
    expect(await decidedEvents(id)).toEqual([expect.objectContaining({ task: id, type: 'draft', decision: 'approved', round: 1, by: expect.objectContaining({ via: 'token', name: 'ana' }) })]);
    expect((await api('GET', '/api/approvals')).body.tasks.map((t: TaskView) => t.id)).not.toContain(id);
  });

  it('rejected, fails with the reason and who rejected it', async () => {
    const id = await submit();
    await awaiting(id);
    const r = await api('POST', `/api/tasks/${id}/reject`, { reason: 'off topic' });
    expect(r.status).toBe(200);
    const done = await finished(id);
    expect(done.state).toBe('failed');
    expect(done.error).toBe(`task ${id} was rejected by the API token: off topic`);
    expect(done.approval).toMatchObject({ state: 'rejected', decisions: [{ decision: 'rejected', reason: 'off topic', retry: false }] });
    expect(runs.get(id)).toHaveLength(1);
    expect(await decidedEvents(id)).toEqual([expect.objectContaining({ decision: 'rejected', reason: 'off topic', retry: false })]);
  });

  it('rejected with retry, runs again with the reason as ctx.feedback, and its new output awaits; a decision on the old one is refused', async () => {
    const id = await submit({}, { topic: 'moths' });
    await awaiting(id);
    expect((await api('POST', `/api/tasks/${id}/reject`, { reason: 'shorter please', retry: true })).status).toBe(200);
    const again = await until(async () => {
      const v = await view(id);
      return v.state === 'awaiting-approval' && v.approval?.round === 2 ? v : undefined;
    }, 5000, 'the second output to await');
    expect(runs.get(id)?.map((x) => [x.feedback, x.revision])).toEqual([
      [undefined, undefined],
      ['shorter please', 2],
    ]);
    expect(again.approval).toMatchObject({ state: 'awaiting', round: 2, output: { text: 'draft of moths, shorter please', revision: 2 } });
    // Someone who saw the first output may not approve the second by mistake.
    const stale = await api('POST', `/api/tasks/${id}/approve`, { round: 1 });
    expect(stale.status).toBe(409);
    expect(stale.body.error.message).toContain('output 2');
    expect((await api('POST', `/api/tasks/${id}/approve`, { round: 2 })).status).toBe(200);
    const done = await finished(id);
    // Two runs, one attempt: a rejection is not a failure, so it spends none of the task's attempts.
    expect(done).toMatchObject({ state: 'completed', result: { text: 'draft of moths, shorter please', revision: 2 }, attempts: 1 });
    expect(done.approval!.decisions.map((x) => [x.decision, x.round])).toEqual([
      ['rejected', 1],
      ['approved', 2],
    ]);
  });

  it('times out with no decision: fails saying so, with an approval:decided timed-out event; a late approval is refused', async () => {
    const id = await submit({ approval: { required: true, timeoutMs: 300 } });
    const v = await awaiting(id);
    expect(v.approval!.deadline! - v.approval!.awaitingSince!).toBe(300);
    const done = await finished(id);
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(new RegExp(`^approval of task ${id.replace('.', '\\.')} timed out: no one approved or rejected its output within 300 ms`));
    expect(done.approval?.state).toBe('timed-out');
    const late = await api('POST', `/api/tasks/${id}/approve`);
    expect(late.status).toBe(409);
    expect(late.body.error.details).toMatchObject({ state: 'failed', approval: 'timed-out' });
    expect(await decidedEvents(id)).toEqual([expect.objectContaining({ decision: 'timed-out', round: 1, node: done.node })]);
  });

  it('can be cancelled while it awaits', async () => {
    const id = await submit();
    await awaiting(id);
    const r = await api('DELETE', `/api/tasks/${id}`);
    expect(r.status).toBe(200);
    expect(r.body.state).toBe('cancelled');
    const after = await api('POST', `/api/tasks/${id}/approve`);
    expect(after.status).toBe(409);
    expect(after.body.error.message).toContain('cancelled');
  });
});

describe('errors are values and write nothing', () => {
  it('404 for no such task, 409 with the state for one not awaiting, 400 for bad bodies, 401 without the token', async () => {
    const plain = await api('POST', '/api/tasks', { type: 'echo', payload: 'x' });
    await finished(plain.body.id);
    const waiting = await submit();
    await awaiting(waiting);
    const before = await dump(redis.connection, stack.config.prefix);
    // What changes by itself (heartbeats, memberships and leases, loads, events, BullMQ's stalled checks and the
    // marker its idle Workers pop and set) is left out.
    const stable = (d: Record<string, string>) => Object.fromEntries(Object.entries(d).filter(([k]) => !/:\{swarm\}:(hosts|coordinators|coordinator-details|events|loads|loads-version|summary.*|lease.*|session:.*)$|partition|stalled-check$|:metrics:|:events$|:marker$/.test(k)));

    expect((await api('POST', '/api/tasks/n1.nosuchtaskxx/approve')).status).toBe(404);
    expect((await api('POST', `/api/tasks/${encodeURIComponent(`${waiting}:lock`)}/approve`)).status).toBe(404);
    const notNeeded = await api('POST', `/api/tasks/${plain.body.id}/approve`);
    expect(notNeeded.status).toBe(409);
    expect(notNeeded.body.error).toMatchObject({ code: 'conflict', details: { state: 'completed' } });
    expect(notNeeded.body.error.message).toContain('does not require approval');
    for (const body of [{}, { reason: '' }, { reason: 'x', retry: 'yes' }, { reason: 'x', extra: 1 }, { reason: 'x'.repeat(4097) }]) {
      const r = await api('POST', `/api/tasks/${waiting}/reject`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
    }
    expect((await api('POST', `/api/tasks/${waiting}/approve`, { by: 5 })).status).toBe(400);
    expect((await api('POST', `/api/tasks/${waiting}/approve`, { round: 0 })).status).toBe(400);
    expect((await stack.request('POST', `/api/tasks/${waiting}/approve`, 'by=ana', { ...auth, 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await api('GET', '/api/approvals?limit=0')).status).toBe(400);
    expect((await api('GET', '/api/approvals?state=x')).status).toBe(400);
    expect((await stack.request('POST', `/api/tasks/${waiting}/approve`)).status).toBe(401);
    expect(stable(await dump(redis.connection, stack.config.prefix))).toEqual(stable(before));
    expect((await view(waiting)).state).toBe('awaiting-approval');

    // A decided task: a second decision is a conflict naming the first.
    expect((await api('POST', `/api/tasks/${waiting}/reject`, { reason: 'no' })).status).toBe(200);
    const again = await api('POST', `/api/tasks/${waiting}/approve`);
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/already rejected by the API token at /);
  });

  it('a task still running is a 409 saying it has no output yet', async () => {
    const id = await submit({ type: 'sleep', payload: { ms: 800 } });
    await until(async () => (await view(id)).state === 'active', 3000, 'the task to start');
    const r = await api('POST', `/api/tasks/${id}/approve`);
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ details: { state: 'active', approval: 'pending' } });
    expect(r.body.error.message).toContain('no output awaiting approval yet');
  });
});

describe('approve, reject and the deadline racing', () => {
  it('end every task one way only: completed with its output iff an approval won, else failed, rejected or timed out (60 races)', async () => {
    type Race = { id: string; approve: number; reject: number };
    const races: Race[] = [];
    const lane = async (lane: number) => {
      for (let i = 0; i < 10; i++) {
        const id = await submit({ approval: { required: true, timeoutMs: 400 } }, { topic: `race-${lane}-${i}` });
        const v = await awaiting(id);
        // Around the deadline: well before, just before, at it, just after.
        const at = v.approval!.deadline! + ((lane * 10 + i) % 9) * 12 - 60;
        await sleep(Math.max(0, at - Date.now()));
        const [a, r] = await Promise.all([api('POST', `/api/tasks/${id}/approve`), api('POST', `/api/tasks/${id}/reject`, { reason: 'lost the race' })]);
        races.push({ id, approve: a.status, reject: r.status });
      }
    };
    await Promise.all(Array.from({ length: 6 }, (_, i) => lane(i)));
    const outcomes = { approved: 0, rejected: 0, timedOut: 0 };
    for (const race of races) {
      expect([race.approve, race.reject].every((s) => s === 200 || s === 409), JSON.stringify(race)).toBe(true);
      expect(race.approve === 200 && race.reject === 200, race.id).toBe(false);
      const done = await finished(race.id);
      const decisions = done.approval!.decisions;
      if (race.approve === 200) {
        outcomes.approved++;
        expect(done, race.id).toMatchObject({ state: 'completed', result: { text: expect.stringMatching(/^draft of race-/) } });
        expect(decisions.map((d) => d.decision)).toEqual(['approved']);
      } else if (race.reject === 200) {
        outcomes.rejected++;
        expect(done, race.id).toMatchObject({ state: 'failed', result: null });
        expect(done.error).toContain('lost the race');
        expect(decisions.map((d) => d.decision)).toEqual(['rejected']);
      } else {
        outcomes.timedOut++;
        expect(done, race.id).toMatchObject({ state: 'failed', result: null, approval: { state: 'timed-out' } });
        expect(done.error).toContain('timed out');
        expect(decisions).toEqual([]);
      }
      expect(runs.get(race.id), race.id).toHaveLength(1);
      expect((await decidedEvents(race.id)).length, race.id).toBe(1);
    }
    // A decision before the deadline and the deadline itself both won sometimes, or the race was not a race.
    expect(outcomes.approved + outcomes.rejected).toBeGreaterThan(0);
    expect(outcomes.timedOut).toBeGreaterThan(0);
  });
});
