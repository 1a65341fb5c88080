// The pure part of approval (src/tasks/approval.ts): what a host does with an
// approval task it picks up, given the job's fields and the time, and how the
// task view reads those fields.
import { describe, expect, it } from 'vitest';
import {
  approvalTerms,
  approvalViewOf,
  APPROVAL_DEFAULT_TIMEOUT_MS,
  AWAITING_FIELD,
  DECISION_FIELD,
  DECISIONS_FIELD,
  pickupOf,
  rejectBodySchema,
  type Awaiting,
  type Decision,
} from '../../src/tasks/approval.ts';
import { taskInputSchema } from '../../src/tasks/schema.ts';
import { meaningOf, snapshotOf } from '../../src/tasks/taskEvents.ts';
import { taskViewFromJob } from '../../src/tasks/view.ts';

const awaiting: Awaiting = { output: { draft: 'hello' }, agent: 'h1-a1', since: 1_000, deadline: 61_000, round: 1 };
const approved: Decision = { decision: 'approved', by: { via: 'token', address: '127.0.0.1' }, at: 2_000, round: 1 };
const rejected: Decision = { decision: 'rejected', by: { via: 'session', session: 'abc123', name: 'ana' }, at: 2_000, round: 1, reason: 'too short', retry: false };
const retry: Decision = { ...rejected, retry: true };
const fields = (a?: Awaiting, d?: Decision) => ({ awaiting: a ? JSON.stringify(a) : null, decision: d ? JSON.stringify(d) : '' });

describe('the approval option', () => {
  it('is required: true with an optional time limit, a week by default; false or absent asks for none', () => {
    expect(approvalTerms({ required: true })).toEqual({ timeoutMs: APPROVAL_DEFAULT_TIMEOUT_MS });
    expect(approvalTerms({ required: true, timeoutMs: 5000 })).toEqual({ timeoutMs: 5000 });
    expect(approvalTerms({ required: false, timeoutMs: 5000 })).toBeUndefined();
    expect(approvalTerms(undefined)).toBeUndefined();
    expect(taskInputSchema.safeParse({ type: 'echo', approval: { required: true, timeoutMs: 50 } }).success).toBe(false);
    expect(taskInputSchema.safeParse({ type: 'echo', approval: { required: true, timeoutMs: 31 * 24 * 3600 * 1000 } }).success).toBe(false);
    expect(taskInputSchema.safeParse({ type: 'echo', approval: { required: true, by: 'x' } }).success).toBe(false);
    expect(taskInputSchema.safeParse({ type: 'echo', approval: { timeoutMs: 1000 } }).success).toBe(false);
  });

  it('a rejection needs a reason', () => {
    expect(rejectBodySchema.safeParse({}).success).toBe(false);
    expect(rejectBodySchema.safeParse({ reason: '   ' }).success).toBe(false);
    expect(rejectBodySchema.safeParse({ reason: 'no', retry: 'yes' }).success).toBe(false);
    expect(rejectBodySchema.parse({ reason: ' no ', retry: true })).toEqual({ reason: 'no', retry: true });
  });
});

describe('what a host does with an approval task it picks up', () => {
  it('runs it the first time', () => {
    expect(pickupOf('t', fields(), 0)).toEqual({ kind: 'run', round: 1 });
  });

  it('completes an approved one with the output that waited, as its agent', () => {
    expect(pickupOf('t', fields(awaiting, approved), 5_000)).toEqual({ kind: 'complete', output: { draft: 'hello' }, agent: 'h1-a1' });
    // The deadline does not matter once decided.
    expect(pickupOf('t', fields(awaiting, approved), 999_999).kind).toBe('complete');
  });

  it('fails a rejected one with who and why; with retry it runs again, told the reason', () => {
    const fail = pickupOf('t', fields(awaiting, rejected), 5_000);
    expect(fail).toMatchObject({ kind: 'fail', timedOut: false, agent: 'h1-a1' });
    expect(fail.kind === 'fail' && fail.reason).toBe('task t was rejected by ana (a browser session (abc123)): too short');
    expect(pickupOf('t', fields(awaiting, retry), 5_000)).toEqual({ kind: 'run', round: 2, feedback: 'too short' });
  });

  it('with no decision: fails as timed out from its deadline on, waits again before it', () => {
    const late = pickupOf('t', fields(awaiting), 61_000);
    expect(late).toMatchObject({ kind: 'fail', timedOut: true, round: 1 });
    expect(late.kind === 'fail' && late.reason).toMatch(/^approval of task t timed out: no one approved or rejected its output within 60000 ms/);
    expect(pickupOf('t', fields(awaiting), 60_999)).toEqual({ kind: 'hold', awaiting });
  });

  it('refuses records it cannot read rather than complete or rerun', () => {
    expect(pickupOf('t', { awaiting: '{"output":1}', decision: '' }, 0)).toMatchObject({ kind: 'fail', timedOut: false });
    expect(pickupOf('t', { awaiting: JSON.stringify(awaiting), decision: 'not json' }, 0)).toMatchObject({ kind: 'fail', timedOut: false });
  });
});

describe('the task view', () => {
  const data = JSON.stringify({ payload: 1, approval: { timeoutMs: 60_000 } });
  const hash = (extra: Record<string, string>) => ({ name: 'write', data, timestamp: '1', atm: '0', ...extra });

  it('says awaiting-approval, with the output and its agent, while the output waits in the delayed set', () => {
    const v = taskViewFromJob('t', 'n1', { state: 'delayed', hash: hash({ [AWAITING_FIELD]: JSON.stringify(awaiting), [DECISION_FIELD]: '' }) });
    expect(v).toMatchObject({ state: 'awaiting-approval', agentId: 'h1-a1', result: null });
    expect(v.approval).toEqual({ timeoutMs: 60_000, state: 'awaiting', round: 1, output: { draft: 'hello' }, agentId: 'h1-a1', awaitingSince: 1_000, deadline: 61_000, decisions: [] });
    expect(snapshotOf(v)).toEqual([{ type: 'awaiting-approval', data: { deadline: 61_000 } }]);
  });

  it('reads the decisions, oldest first, and the state they leave', () => {
    const both = `${JSON.stringify(retry)},${JSON.stringify({ ...approved, round: 2 })}`;
    const done = taskViewFromJob('t', 'n1', { state: 'completed', hash: hash({ [AWAITING_FIELD]: JSON.stringify({ ...awaiting, round: 2 }), [DECISION_FIELD]: JSON.stringify({ ...approved, round: 2 }), [DECISIONS_FIELD]: both, returnvalue: '{"draft":"hello"}' }) });
    expect(done.state).toBe('completed');
    expect(done.approval).toMatchObject({ state: 'approved', round: 2 });
    expect(done.approval?.decisions.map((d) => d.decision)).toEqual(['rejected', 'approved']);
    // Rejected with retry and running again: pending, on its next round.
    const rerun = taskViewFromJob('t', 'n1', { state: 'active', hash: hash({ [AWAITING_FIELD]: JSON.stringify(awaiting), [DECISION_FIELD]: JSON.stringify(retry), [DECISIONS_FIELD]: JSON.stringify(retry) }) });
    expect(rerun).toMatchObject({ state: 'active', approval: { state: 'pending', round: 2 } });
    // Failed with no decision: timed out.
    const late = taskViewFromJob('t', 'n1', { state: 'failed', hash: hash({ [AWAITING_FIELD]: JSON.stringify(awaiting), [DECISION_FIELD]: '', failedReason: 'approval … timed out' }) });
    expect(late.approval?.state).toBe('timed-out');
  });

  it('is plain for a task that asks no approval, and a retry backoff in the delayed set is not awaiting', () => {
    const plain = taskViewFromJob('t', 'n1', { state: 'delayed', hash: { name: 'echo', data: '{"payload":{"approval":true}}', timestamp: '1' } });
    expect(plain.state).toBe('delayed');
    expect(plain.approval).toBeUndefined();
    expect(approvalViewOf({ timeoutMs: 1 }, {}, { waitingForDeadline: true, failed: false })).toMatchObject({ awaitingNow: false, view: { state: 'pending', output: null } });
  });

  it('a watch reads the awaiting and decided entries of the queue stream', () => {
    expect(meaningOf('t', 'n1', ['event', 'awaiting-approval', 'jobId', 't', 'deadline', '61000'])).toEqual({ kind: 'event', event: { type: 'awaiting-approval', data: { deadline: 61_000 } } });
    expect(meaningOf('t', 'n1', ['event', 'approval-decided', 'jobId', 't', 'data', JSON.stringify(rejected)])).toEqual({ kind: 'event', event: { type: 'approval-decided', data: { decision: rejected } } });
    expect(meaningOf('t', 'n1', ['event', 'waiting', 'jobId', 't', 'prev', 'delayed'])).toEqual({ kind: 'none' });
  });
});
