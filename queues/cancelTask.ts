// Cancelling a task that has not started (see cancelTask-9.lua).
import type { Cluster, Redis } from 'ioredis';
import { bullKey, groupKeys, nodeQueueName } from './keys.ts';
import { scripts } from './scripts.ts';

export interface CancelRequest {
  prefix: string;
  /** The node whose queue holds the task. */
  node: string;
  id: string;
  /** When it is cancelled (ms), for its tombstone. */
  now: number;
}

/** cancelled; already-cancelled; not-cancellable: started or finished; not-found: no such task there. */
export type CancelResult = 'cancelled' | 'already-cancelled' | 'not-cancellable' | 'not-found';

export async function cancelTask(redis: Redis | Cluster, r: CancelRequest): Promise<CancelResult> {
  const k = (s: string) => bullKey(r.prefix, nodeQueueName(r.node), s);
  const res = Number(
    await scripts.cancelTask.run(
      redis,
      [k(r.id), k('wait'), k('paused'), k('prioritized'), k('delayed'), k('events'), groupKeys(r.prefix, r.node).cancelled, k(`${r.id}:lock`), k(`${r.id}:logs`)],
      [r.id, r.now, r.node],
    ),
  );
  return res === 1 ? 'cancelled' : res === 2 ? 'already-cancelled' : res === -1 ? 'not-found' : 'not-cancellable';
}
