// Cancelling a task that is running (see cancelRunning-9.lua): the check that
// it is still active and the cancel mark are one step, so a task that has
// completed is never cancelled, and one cancelled never records a result.
import type { Cluster, Redis } from 'ioredis';
import { bullKey, groupKeys, nodeQueueName } from './keys.ts';
import { scripts } from './scripts.ts';

export interface CancelRunningRequest {
  prefix: string;
  /** The node whose queue holds the task. */
  node: string;
  id: string;
  /** When it is cancelled (ms), for its tombstone. */
  now: number;
  /** A replica of a replicated task is cancelled only with its task (whose parent job is gone first). */
  replica?: boolean;
}

/** The tombstone JSON is returned as written, for the caller to parse (src/swarm/records.ts). */
export type CancelRunningResult =
  | { outcome: 'cancelled'; host: string | null; tombstone: string }
  | { outcome: 'already-cancelled'; tombstone: string }
  | { outcome: 'finished'; state: 'completed' | 'failed' }
  | { outcome: 'not-active' }
  | { outcome: 'replica' }
  | { outcome: 'not-found' };

export async function cancelRunning(redis: Redis | Cluster, r: CancelRunningRequest): Promise<CancelRunningResult> {
  const k = (s: string) => bullKey(r.prefix, nodeQueueName(r.node), s);
  const reply = (await scripts.cancelRunning.run(
    redis,
    [k(r.id), k('active'), k('completed'), k('failed'), k('events'), groupKeys(r.prefix, r.node).cancelled, k(`${r.id}:lock`), k(`${r.id}:logs`), k('stalled')],
    [r.id, r.now, r.node, r.replica ? '1' : '0'],
  )) as unknown[];
  const [code, a, b] = reply.map((v) => (v === null || v === undefined ? '' : String(v)));
  if (code === '1') return { outcome: 'cancelled', host: a ? a : null, tombstone: b ?? '' };
  if (code === '2') return { outcome: 'already-cancelled', tombstone: a ?? '' };
  if (code === '-1') return { outcome: 'not-found' };
  if (a === 'completed' || a === 'failed') return { outcome: 'finished', state: a };
  if (a === 'replica') return { outcome: 'replica' };
  return { outcome: 'not-active' };
}
