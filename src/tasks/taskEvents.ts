// What a watcher of one task sees (GET /api/tasks/:id/events, swarm.watch),
// made from the entries BullMQ and swarmq's scripts write to the task's queue's
// events stream (`<prefix>:<queue>:events`), or from the task's view when a
// watch starts or the stream no longer has what happened. Pure: no Redis here.
import { z } from 'zod';
import { isStreamId } from '../swarm/events.ts';
import { decodeProgress } from './progress.ts';
import type { TaskView } from './schema.ts';
import { decisionSchema, type Decision } from './approval.ts';

export const TASK_EVENT_TYPES = ['started', 'progress', 'retrying', 'awaiting-approval', 'approval-decided', 'finished'] as const;
export type TaskEventType = (typeof TASK_EVENT_TYPES)[number];

export interface TaskEventData {
  /** An agent took the task (again, after a retry). */
  started: { node: string };
  /** The latest value its processor reported (coalesced: intermediate values may be skipped, the last one never is). */
  progress: { value: unknown };
  /**
   * The task left its agent and will run again: a failed attempt with attempts
   * left, or handed back unrun (its host shutting down, its agent retiring, a
   * stalled lock). `delayedUntil`: with a backoff, not before then (ms).
   */
  retrying: { delayedUntil: number | null };
  /** Its agent finished and its output awaits approval until `deadline` (ms); GET the task for the output. */
  'awaiting-approval': { deadline: number | null };
  /** Someone approved or rejected the output (then `finished`, or with a retry `started` again). */
  'approval-decided': { decision: Decision | null };
  /** The end: nothing follows. */
  finished: { state: 'completed' | 'failed' | 'cancelled'; result: unknown; error: string | null };
}

export interface TaskEvent<T extends TaskEventType = TaskEventType> {
  /** Where to resume after this event: `<node>@<stream entry id>` (Last-Event-ID, or swarm.watch's `after`). */
  id: string;
  type: T;
  taskId: string;
  data: TaskEventData[T];
}

/** What an entry of a queue's events stream means for the watched task. */
export type StreamMeaning =
  | { kind: 'event'; event: { [T in TaskEventType]: { type: T; data: TaskEventData[T] } }[TaskEventType] }
  /** The balancer moved the waiting task to this node's queue (moveJobs-12.lua): follow it there. */
  | { kind: 'moved'; to: string }
  | { kind: 'none' };

const NONE: StreamMeaning = { kind: 'none' };

function fieldsOf(flat: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
  return m;
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The meaning of one stream entry (its flat field list) for task `taskId` on node `node`. */
export function meaningOf(taskId: string, node: string, flat: readonly string[]): StreamMeaning {
  const f = fieldsOf(flat);
  if (f.get('jobId') !== taskId) return NONE;
  switch (f.get('event')) {
    case 'active':
      return { kind: 'event', event: { type: 'started', data: { node } } };
    case 'progress':
      return { kind: 'event', event: { type: 'progress', data: { value: decodeProgress(f.get('data')) } } };
    case 'delayed': {
      const until = Number(f.get('delay'));
      return { kind: 'event', event: { type: 'retrying', data: { delayedUntil: Number.isFinite(until) && until > 0 ? until : null } } };
    }
    case 'waiting':
      // Back from its agent (retryJob, moveJobFromActiveToWait); a task added or moved in is not news.
      return f.get('prev') === 'active' ? { kind: 'event', event: { type: 'retrying', data: { delayedUntil: null } } } : NONE;
    case 'completed':
      return { kind: 'event', event: { type: 'finished', data: { state: 'completed', result: parseJson(f.get('returnvalue')), error: null } } };
    case 'failed':
      // BullMQ writes `failed` only for a final failure; a retry is `delayed` or `waiting`.
      return { kind: 'event', event: { type: 'finished', data: { state: 'failed', result: null, error: f.get('failedReason') ?? null } } };
    case 'removed':
      return { kind: 'event', event: { type: 'finished', data: { state: 'cancelled', result: null, error: null } } };
    case 'awaiting-approval': {
      const deadline = Number(f.get('deadline'));
      return { kind: 'event', event: { type: 'awaiting-approval', data: { deadline: Number.isFinite(deadline) ? deadline : null } } };
    }
    case 'approval-decided': {
      const d = decisionSchema.safeParse(parseJson(f.get('data')));
      return { kind: 'event', event: { type: 'approval-decided', data: { decision: d.success ? d.data : null } } };
    }
    case 'moved': {
      const to = f.get('to');
      return to ? { kind: 'moved', to } : NONE;
    }
    default:
      return NONE;
  }
}

const FINAL = new Set(['completed', 'failed', 'cancelled']);

export function isFinalView(v: TaskView): boolean {
  return FINAL.has(v.state);
}

/** The `finished` event a final view stands for (when the stream no longer has it, or the task ended before the watch). */
export function finishedOf(v: TaskView): TaskEventData['finished'] {
  return { state: v.state as TaskEventData['finished']['state'], result: v.result, error: v.error };
}

/**
 * What a watcher starting now is told about the past: `started` if the task
 * runs, then its latest progress; `awaiting-approval` if its output waits for
 * a decision; or only `finished` if it has ended.
 */
export function snapshotOf(v: TaskView): { [T in TaskEventType]: { type: T; data: TaskEventData[T] } }[TaskEventType][] {
  if (isFinalView(v)) return [{ type: 'finished', data: finishedOf(v) }];
  const out: { [T in TaskEventType]: { type: T; data: TaskEventData[T] } }[TaskEventType][] = [];
  if (v.state === 'active') out.push({ type: 'started', data: { node: v.node } });
  if (v.state === 'active' && v.progress !== null) out.push({ type: 'progress', data: { value: v.progress } });
  if (v.state === 'awaiting-approval') out.push({ type: 'awaiting-approval', data: { deadline: v.approval?.deadline ?? null } });
  return out;
}

/** A resume point: the node whose stream it is in, and the entry id there. */
export interface ResumePoint {
  node: string;
  entry: string;
}

const RESUME = /^([A-Za-z0-9{}_-]{1,64})@(\d+-\d+)$/;

export const resumePointSchema = z
  .string()
  .transform((s, ctx) => {
    const m = RESUME.exec(s);
    if (!m || !isStreamId(m[2]!)) {
      ctx.addIssue({ code: 'custom', message: 'an event id from this task\'s stream: <node>@<ms>-<seq>' });
      return z.NEVER;
    }
    return { node: m[1]!, entry: m[2]! } satisfies ResumePoint;
  });

export function formatResumePoint(p: ResumePoint): string {
  return `${p.node}@${p.entry}`;
}

/**
 * Where to read another node's stream from, given a position in the old one:
 * entry ids are Redis' clock (ms) and a sequence, so "every entry of that
 * millisecond or later" misses nothing the task did after it left. (A task
 * that moves back to a node it ran on before may repeat an older event there.)
 */
export function sameTimeIn(entry: string): string {
  const ms = BigInt(entry.split('-')[0]!);
  return ms === 0n ? '0-0' : `${ms - 1n}-18446744073709551615`;
}
