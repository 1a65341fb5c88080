// A task as the API shows it, built from its BullMQ job hash (or tombstone).
import type { CancelledRecord } from '../swarm/records.ts';
import type { TaskState, TaskView } from './schema.ts';

/** The job hash field where the agent host records which agent ran the task. */
export const AGENT_FIELD = 'sqAgent';

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

/** `raw` is getTask's reply: state, then the job hash as field, value, … */
export function taskViewFromJob(id: string, node: string, raw: string[]): TaskView {
  const [bullState, ...flat] = raw;
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
  const state: TaskState =
    bullState === 'completed' || bullState === 'failed' || bullState === 'delayed' || bullState === 'active' ? bullState : 'waiting';
  return {
    id,
    type: h.name ?? '',
    state,
    node,
    agentId: h[AGENT_FIELD] ?? null,
    attempts: num(h.atm) ?? 0,
    result: state === 'completed' ? json(h.returnvalue) : null,
    error: h.failedReason ? h.failedReason : null,
    createdAt: num(h.timestamp) ?? 0,
    startedAt: num(h.processedOn),
    finishedAt: state === 'completed' || state === 'failed' ? num(h.finishedOn) : null,
  };
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
    startedAt: null,
    finishedAt: t.cancelledAt,
  };
}
