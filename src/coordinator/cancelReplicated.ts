// Cancelling a replicated task: its parent job first (cancelReplicated-16.lua:
// refused once the vote runs or the task has finished), so no vote can start,
// then every replica, waiting or running, as any task is cancelled.
import { cancelReplicated } from '../../queues/cancelReplicated.ts';
import { SwarmError } from '../errors.ts';
import { cancelledRecordSchema } from '../swarm/records.ts';
import { taskViewFromTombstone } from '../tasks/view.ts';
import { cancelOne, type CancelledView, type Cancelling } from './cancel.ts';

/** Each replica as the cancel left it. */
export interface ReplicaCancel {
  id: string;
  state: string;
  wasRunning: boolean;
}

export type CancelledReplicated = CancelledView & { replicas: ReplicaCancel[] };

// A flowless task's driver holds its job a moment each time it looks at its replicas: wait that out.
const VOTING_TRIES = 10;
const VOTING_PAUSE_MS = 20;

export async function cancelReplicatedTask(c: Cancelling, id: string): Promise<CancelledReplicated> {
  const view = await c.get(id);
  if (!view) throw new SwarmError('not_found', `no task ${id}`);
  if (view.state === 'cancelled') return { ...view, wasRunning: false, replicas: [] };
  const replicaIds = view.consensus?.replicaTasks ?? [];
  for (let tries = 1; ; tries++) {
    const res = await cancelReplicated(c.redis, { prefix: c.prefix, id, now: Date.now() });
    if (res.outcome === 'not-found') throw new SwarmError('not_found', `no task ${id}`);
    if (res.outcome === 'finished') throw new SwarmError('conflict', `task ${id} has already ${res.state}; a finished task cannot be cancelled`, { state: res.state });
    if (res.outcome === 'voting') {
      if (tries < VOTING_TRIES) {
        await new Promise((r) => setTimeout(r, VOTING_PAUSE_MS));
        continue;
      }
      throw new SwarmError('conflict', `task ${id}: its replicas have finished and the vote on their outputs runs; it ends within the vote's timeout`, { state: 'active' });
    }
    const tomb = taskViewFromTombstone(cancelledRecordSchema.parse(JSON.parse(res.tombstone)));
    if (res.outcome === 'already-cancelled') return { ...tomb, wasRunning: false, replicas: [] };
    // The replicas its data named as it was cancelled: after a rejection with retry, the new revision's, even if the view read before was older.
    const replicas = await Promise.all((res.replicas ?? replicaIds).map((r) => cancelReplica(c, r)));
    return { ...tomb, wasRunning: replicas.some((r) => r.wasRunning), replicas };
  }
}

/** A replica cancelled, or left as it is when it had finished (its output no longer counts: there is no vote). */
async function cancelReplica(c: Cancelling, id: string): Promise<ReplicaCancel> {
  try {
    const v = await cancelOne(c, id, { replica: true });
    return { id, state: v.state, wasRunning: v.wasRunning };
  } catch (err) {
    if (err instanceof SwarmError && (err.code === 'conflict' || err.code === 'not_found')) {
      const state = (err.details as { state?: string } | undefined)?.state ?? (err.code === 'not_found' ? 'gone' : 'unknown');
      return { id, state, wasRunning: false };
    }
    throw err;
  }
}
