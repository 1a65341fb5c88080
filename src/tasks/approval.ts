// Approval before a result counts: a task submitted with `approval: { required:
// true }` does not complete when its agent returns. Its output waits, with the
// task, in state `awaiting-approval` (BullMQ's delayed set until the approval's
// deadline, the output in the job hash: src/tasks/approvalHold.ts), and the
// agent takes other work. A person approves it (it completes with that output)
// or rejects it (it fails, or with `retry` runs again with the reason as
// `ctx.feedback`); a deadline reached with no decision fails it.
//
// This file is the pure part: the option's schema, the records kept in the job
// hash, what a host does with a job it picks up given those records
// (`pickupOf`), and the task view's `approval`. No Redis, no clock of its own.
import { z } from 'zod';

/** With no `timeoutMs`: a week. A task nobody decides on should end, not sit in Redis for ever; ask for up to 30 days. */
export const APPROVAL_DEFAULT_TIMEOUT_MS = 7 * 24 * 3600 * 1000;
export const APPROVAL_MAX_TIMEOUT_MS = 30 * 24 * 3600 * 1000;
/** Shorter than this is a typo more often than a wish (and tests need no less). */
export const APPROVAL_MIN_TIMEOUT_MS = 100;

/** Job hash fields (node queues and the consensus queue), written only by the scripts in queues/ and the host's finish. */
export const AWAITING_FIELD = 'sqAwaiting';
/** The decision on the current awaiting output; '' while there is none. */
export const DECISION_FIELD = 'sqDecision';
/** Every decision so far, as comma-joined JSON objects (Lua appends without decoding, so nothing is re-encoded). */
export const DECISIONS_FIELD = 'sqDecisions';

/** What a producer writes on a task. `required: false` is the same as no approval. */
export const approvalOptionSchema = z.strictObject({
  required: z.boolean(),
  /** How long the output waits for a decision once its agent has finished (default a week). */
  timeoutMs: z.int().min(APPROVAL_MIN_TIMEOUT_MS).max(APPROVAL_MAX_TIMEOUT_MS).optional(),
});
export type ApprovalOption = z.infer<typeof approvalOptionSchema>;

/** What the job's data carries (src/tasks/nodeJob.ts): approval is required, with this time limit. */
export interface ApprovalTerms {
  timeoutMs: number;
}

/** The terms a task's option asks for, or undefined when it asks for none. */
export function approvalTerms(option: ApprovalOption | undefined): ApprovalTerms | undefined {
  return option?.required ? { timeoutMs: option.timeoutMs ?? APPROVAL_DEFAULT_TIMEOUT_MS } : undefined;
}

/**
 * Who decided, as far as swarmq can tell. Over HTTP the auth layer knows how
 * the caller got in: the API token (`token`), a browser session opened with it
 * (`session`: the first characters of the session's id hash, enough to tell
 * sessions apart, useless to open one), or no token configured (`open`). Over
 * Redis (`client`, `cli`) nothing is known but that the caller could write the
 * task's queue. `name` is what the caller said it is: recorded, not verified.
 */
export const approverSchema = z.strictObject({
  via: z.enum(['token', 'session', 'open', 'client', 'cli']),
  session: z.string().max(64).optional(),
  /** The HTTP caller's address as express sees it (SWARMQ_TRUST_PROXY decides whether a proxy may tell it). */
  address: z.string().max(128).optional(),
  name: z.string().min(1).max(128).optional(),
});
export type Approver = z.infer<typeof approverSchema>;

export const decisionSchema = z.strictObject({
  decision: z.enum(['approved', 'rejected']),
  by: approverSchema,
  at: z.number(),
  /** Which output it decided on: 1 for the first, one more after each rejection with retry. */
  round: z.int().min(1),
  reason: z.string().optional(),
  retry: z.boolean().optional(),
});
export type Decision = z.infer<typeof decisionSchema>;

/** What waits: the output, the agent that made it, since when and until when. */
export const awaitingSchema = z.strictObject({
  output: z.unknown(),
  agent: z.string().nullable(),
  since: z.number(),
  deadline: z.number(),
  round: z.int().min(1),
});
export type Awaiting = z.infer<typeof awaitingSchema>;

/** A rejection's reason and the caller's stated name: bounded, since they land in Redis, events and the next attempt. */
export const REASON_MAX = 4096;
export const approveBodySchema = z.strictObject({ by: z.string().trim().min(1).max(128).optional() });
export const rejectBodySchema = z.strictObject({
  reason: z.string().trim().min(1, 'say why: the reason is recorded, and with retry it is what the next attempt is told').max(REASON_MAX),
  retry: z.boolean().optional(),
  by: z.string().trim().min(1).max(128).optional(),
});

function parsed<T>(schema: z.ZodType<T>, text: string | null | undefined): T | undefined | 'unreadable' {
  if (text === null || text === undefined || text === '') return undefined;
  try {
    const r = schema.safeParse(JSON.parse(text));
    return r.success ? r.data : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/** What a host does with an approval task it has picked up, from the job's two fields (see the top of the file). */
export type Pickup =
  /** Run the processor: the first time, or again after a rejection with retry (`feedback` is its reason). */
  | { kind: 'run'; round: number; feedback?: string }
  /** Approved: complete with the output that waited, recorded as its agent's. */
  | { kind: 'complete'; output: unknown; agent: string | null }
  /** Rejected without retry, timed out, or records that do not read: fail for good with this reason. */
  | { kind: 'fail'; reason: string; agent: string | null; timedOut: boolean; round: number }
  /** Back in a queue with no decision before its deadline (someone promoted the delayed job): wait for approval again. */
  | { kind: 'hold'; awaiting: Awaiting };

export function describeApprover(by: Approver): string {
  const how = by.via === 'session' ? `a browser session${by.session ? ` (${by.session})` : ''}` : by.via === 'token' ? 'the API token' : by.via === 'open' ? 'an unauthenticated API caller' : `a ${by.via === 'cli' ? 'CLI' : 'client'} with Redis access`;
  return by.name ? `${by.name} (${how})` : how;
}

export function pickupOf(taskId: string, fields: { awaiting: string | null; decision: string | null }, now: number): Pickup {
  const awaiting = parsed(awaitingSchema, fields.awaiting);
  if (awaiting === undefined) return { kind: 'run', round: 1 };
  if (awaiting === 'unreadable') return { kind: 'fail', reason: `task ${taskId}: its awaiting-approval record in Redis does not read; refusing to complete or run it again`, agent: null, timedOut: false, round: 1 };
  const decision = parsed(decisionSchema, fields.decision);
  if (decision === 'unreadable') return { kind: 'fail', reason: `task ${taskId}: its approval decision in Redis does not read; refusing to complete or run it again`, agent: awaiting.agent, timedOut: false, round: awaiting.round };
  if (decision === undefined) {
    if (now < awaiting.deadline) return { kind: 'hold', awaiting };
    return { kind: 'fail', reason: timedOutReason(taskId, awaiting), agent: awaiting.agent, timedOut: true, round: awaiting.round };
  }
  if (decision.decision === 'approved') return { kind: 'complete', output: awaiting.output, agent: awaiting.agent };
  if (decision.retry) return { kind: 'run', round: awaiting.round + 1, feedback: decision.reason ?? '' };
  return { kind: 'fail', reason: `task ${taskId} was rejected by ${describeApprover(decision.by)}: ${decision.reason ?? '(no reason given)'}`, agent: awaiting.agent, timedOut: false, round: awaiting.round };
}

export function timedOutReason(taskId: string, a: Awaiting): string {
  return `approval of task ${taskId} timed out: no one approved or rejected its output within ${a.deadline - a.since} ms (awaiting since ${new Date(a.since).toISOString()}, deadline ${new Date(a.deadline).toISOString()})`;
}

/** GET /api/tasks/:id's `approval`, on tasks that require one. */
export interface ApprovalView {
  timeoutMs: number;
  /**
   * pending: its agent has not finished (or runs again after a rejection with retry);
   * awaiting: its output waits for a decision; approved / rejected: decided;
   * timed-out: its deadline passed with no decision (it fails, or has failed).
   */
  state: 'pending' | 'awaiting' | 'approved' | 'rejected' | 'timed-out';
  /** 1, then one more after each rejection with retry. */
  round: number;
  /** The output that waits or waited for a decision (null before the agent finished). */
  output: unknown;
  agentId: string | null;
  awaitingSince: number | null;
  deadline: number | null;
  /** Every decision, oldest first. */
  decisions: Decision[];
}

function decisionsOf(joined: string | undefined): Decision[] {
  if (!joined) return [];
  try {
    const all = z.array(z.unknown()).parse(JSON.parse(`[${joined}]`));
    return all.flatMap((d) => {
      const r = decisionSchema.safeParse(d);
      return r.success ? [r.data] : [];
    });
  } catch {
    return [];
  }
}

/**
 * The task's approval from its job hash fields, and whether it awaits one now.
 * `waitingForDeadline`: the job is in its queue's delayed set (where only an
 * awaiting output, a retry's backoff or a replica poll put it).
 */
export function approvalViewOf(terms: ApprovalTerms, h: Readonly<Record<string, string>>, o: { waitingForDeadline: boolean; failed: boolean }): { view: ApprovalView; awaitingNow: boolean } {
  const a = parsed(awaitingSchema, h[AWAITING_FIELD]);
  const awaiting = a === 'unreadable' ? undefined : a;
  const current = parsed(decisionSchema, h[DECISION_FIELD]);
  const decision = current === 'unreadable' ? undefined : current;
  const awaitingNow = awaiting !== undefined && decision === undefined && o.waitingForDeadline;
  let state: ApprovalView['state'] = 'pending';
  if (awaiting) {
    if (decision?.decision === 'approved') state = 'approved';
    else if (decision?.decision === 'rejected') state = decision.retry && !o.failed ? 'pending' : 'rejected';
    else if (awaitingNow) state = 'awaiting';
    else if (o.failed) state = 'timed-out';
  }
  // Running again after a rejection with retry: the output shown is the rejected one until a new one waits.
  return {
    awaitingNow,
    view: {
      timeoutMs: terms.timeoutMs,
      state,
      round: awaiting ? (state === 'pending' && decision?.retry ? awaiting.round + 1 : awaiting.round) : 1,
      output: awaiting?.output ?? null,
      agentId: awaiting?.agent ?? null,
      awaitingSince: awaiting?.since ?? null,
      deadline: awaiting?.deadline ?? null,
      decisions: decisionsOf(h[DECISIONS_FIELD]),
    },
  };
}
