// A task as the API shows it, built from its BullMQ job hash (or tombstone).
import type { TaskJob } from '../../queues/getTask.ts';
import type { CancelledRecord } from '../swarm/records.ts';
import type { TaskState, TaskView } from './schema.ts';
import { decodeProgress } from './progress.ts';
import { approvalViewOf, type ApprovalTerms } from './approval.ts';
import { envelopeKey } from './nodeJob.ts';

/** The job hash field where the agent host records which agent ran the task. */
export const AGENT_FIELD = 'sqAgent';

/**
 * The job hash field where a keyed task's key is recorded as it is placed in
 * the fair order (includes/fairPlace.lua): it marks the job placed. A keyed task
 * an idle node took as it came is not placed, and its key is in its envelope only.
 */
export const KEY_FIELD = 'sqKey';

function num(v: string | undefined): number | null {
  if (v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

function json(v: string | undefined): unknown {
  if (v === undefined) return null;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** The usage a task's processor reported (addTaskUsage-1.lua), if any. */
export function usageOfJob(h: Record<string, string>): TaskView['usage'] {
  if (h.sqUsageReports === undefined) return undefined;
  const n = (v: string | undefined) => (Number.isFinite(Number(v)) ? Number(v) : 0);
  return { tokens: n(h.sqTokens), inputTokens: n(h.sqInputTokens), outputTokens: n(h.sqOutputTokens), costUsd: n(h.sqCostUsd), reports: n(h.sqUsageReports) };
}

/** The key a job's data (its envelope) carries, if any and a key name (as a host reads it); parsed only when it could. */
export function keyOfJob(data: string | undefined): string | undefined {
  if (data === undefined || !data.includes('"key"')) return undefined;
  try {
    return envelopeKey(JSON.parse(data));
  } catch {
    return undefined;
  }
}

/** The budget in a job's data (its envelope), if it carries one; parsed only when it could. */
export function budgetOfJob(data: string | undefined): TaskView['budget'] {
  if (data === undefined || !data.includes('"budget"')) return undefined;
  try {
    const b = (JSON.parse(data) as { budget?: { tokens?: unknown; costUsd?: unknown } } | null)?.budget;
    if (!b) return undefined;
    return { ...(typeof b.tokens === 'number' ? { tokens: b.tokens } : {}), ...(typeof b.costUsd === 'number' ? { costUsd: b.costUsd } : {}) };
  } catch {
    return undefined;
  }
}

/** The approval terms in a job's data (its envelope), if it carries any; the data is parsed only when it could. */
export function approvalTermsOf(data: string | undefined): ApprovalTerms | undefined {
  if (data === undefined || !data.includes('"approval"')) return undefined;
  try {
    const env = JSON.parse(data) as { approval?: { timeoutMs?: unknown } } | null;
    const t = env?.approval?.timeoutMs;
    return typeof t === 'number' ? { timeoutMs: t } : undefined;
  } catch {
    return undefined;
  }
}

/** `job` is what getTask read: the job hash and where BullMQ holds it. */
export function taskViewFromJob(id: string, node: string, job: TaskJob): TaskView {
  const { state: bullState, hash: h } = job;
  let state: TaskState =
    bullState === 'completed' || bullState === 'failed' || bullState === 'delayed' || bullState === 'active' ? bullState : 'waiting';
  const terms = approvalTermsOf(h.data);
  const approval = terms && approvalViewOf(terms, h, { waitingForDeadline: bullState === 'delayed', failed: bullState === 'failed' });
  if (approval?.awaitingNow) state = 'awaiting-approval';
  return {
    id,
    type: h.name ?? '',
    state,
    node,
    // An output awaiting approval names its agent before the finish records it.
    agentId: h[AGENT_FIELD] ?? approval?.view.agentId ?? null,
    attempts: num(h.atm) ?? 0,
    result: state === 'completed' ? json(h.returnvalue) : null,
    error: h.failedReason ? h.failedReason : null,
    createdAt: num(h.timestamp) ?? 0,
    startedAt: num(h.processedOn),
    finishedAt: state === 'completed' || state === 'failed' ? num(h.finishedOn) : null,
    progress: decodeProgress(h.progress),
    ...(approval ? { approval: approval.view } : {}),
    ...optional('key', h[KEY_FIELD] || keyOfJob(h.data)),
    ...optional('usage', usageOfJob(h)),
    ...optional('budget', budgetOfJob(h.data)),
  };
}

function optional<K extends string, V>(name: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [name]: v }) as { [P in K]?: V };
}

export function taskViewFromTombstone(t: CancelledRecord): TaskView {
  return {
    id: t.id,
    type: t.type,
    state: 'cancelled',
    node: t.node,
    agentId: null,
    attempts: t.attempts,
    result: null,
    error: null,
    createdAt: t.createdAt,
    startedAt: t.startedAt ?? null,
    finishedAt: t.cancelledAt,
    progress: null,
  };
}
