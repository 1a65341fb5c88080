// A BullMQ queue's jobs by state, read as six plain counts on a pipeline (no
// script: each is O(1)), for the leader's tracker and for /metrics alike.
import type { ChainableCommander } from 'ioredis';
import { bullKey } from './keys.ts';

export interface QueueCounts {
  /** wait + prioritized */
  waiting: number;
  active: number;
  delayed: number;
  /** Finished tasks BullMQ still keeps (retention: tasks.keep*Seconds). */
  completed: number;
  failed: number;
}

const COMMANDS_PER_QUEUE = 6;

/** Puts the counts of `queue` on a pipeline; read them back with countsAt. */
export function queueCounts(p: ChainableCommander, prefix: string, queue: string): void {
  p.llen(bullKey(prefix, queue, 'wait'));
  p.zcard(bullKey(prefix, queue, 'prioritized'));
  p.llen(bullKey(prefix, queue, 'active'));
  p.zcard(bullKey(prefix, queue, 'delayed'));
  p.zcard(bullKey(prefix, queue, 'completed'));
  p.zcard(bullKey(prefix, queue, 'failed'));
}

/** The counts of the q-th queue queueCounts put on the pipeline, from its replies (a reply missing reads as 0). */
export function countsAt(rows: readonly [Error | null, unknown][], q: number): QueueCounts {
  const num = (i: number) => Number(rows[i]?.[1] ?? 0);
  const b = q * COMMANDS_PER_QUEUE;
  return { waiting: num(b) + num(b + 1), active: num(b + 2), delayed: num(b + 3), completed: num(b + 4), failed: num(b + 5) };
}

/** The index of the first reply after the counts of `queues` queues: what a caller put on the pipeline next. */
export function afterCounts(queues: number): number {
  return queues * COMMANDS_PER_QUEUE;
}
