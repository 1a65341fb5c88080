// Cancelling a task: a waiting one is taken from its queue (cancelTask-9.lua);
// a running one is taken from its worker with a tombstone in one step that
// first checks it is still active (cancelRunning-9.lua), and its host is told
// (hostNotices) so it aborts the processor's signal. A finished task is a
// conflict naming its state; a repeated cancel answers the task as cancelled.
import type { RedisClient } from '../../queues/redisTarget.ts';
import { cancelTask } from '../../queues/cancelTask.ts';
import { cancelRunning } from '../../queues/cancelRunning.ts';
import { SwarmError } from '../errors.ts';
import { cancelledRecordSchema } from '../swarm/records.ts';
import type { TaskView } from '../tasks/schema.ts';
import { taskViewFromTombstone } from '../tasks/view.ts';
import { forgetCancelled } from '../keys/keyedAdd.ts';

/** A cancelled task as a cancel answers it: wasRunning says whether an agent had started it. */
export type CancelledView = TaskView & { wasRunning: boolean };

export interface Cancelling {
  redis: RedisClient;
  prefix: string;
  /** Reads the task as the router does (wherever it moved). */
  get: (id: string) => Promise<TaskView | null>;
  /** Wakes the host running cancelled tasks (they are already cancelled in Redis); collected, sent by the caller. */
  notice: (host: string, taskId: string) => void;
}

/** Refusals the task as read decides before asking Redis: there is none, or it is replicated (cancelled with its replicas: cancelReplicated.ts). */
export function checkCancellable(id: string, view: TaskView | null): asserts view is TaskView {
  if (!view) throw notFound(id);
  if (view.consensus) throw new SwarmError('conflict', `task ${id} is a replicated task; cancel it as a whole, not through this path`, { state: view.state });
}

/** A cancelled task read back: it started iff its tombstone says when. */
export function asCancelled(view: TaskView): CancelledView {
  return { ...view, wasRunning: view.startedAt !== null };
}

// A task between two states (moved back to waiting after a lost lock, a retry's delay ending) is tried again, a few times.
const TRIES = 4;

/** The task as it is once cancelled, waiting or running. */
export async function cancelOne(c: Cancelling, id: string, opts: { replica?: boolean } = {}): Promise<CancelledView> {
  for (let tries = 0; ; tries++) {
    const view = await c.get(id);
    checkCancellable(id, view);
    if (view.state === 'cancelled') return asCancelled(view);
    if (view.state === 'completed' || view.state === 'failed') throw finished(id, view.state);
    const now = Date.now();
    if (view.state !== 'active') {
      const res = await cancelTask(c.redis, { prefix: c.prefix, node: view.node, id, now });
      // A keyed task no longer waits for its key (a running one's slot is freed by its host as its run ends).
      if (res === 'cancelled' && view.key !== undefined) await forgetCancelled(c.redis, c.prefix, view.key, view.node, id);
      if (res === 'cancelled' || res === 'already-cancelled') return asCancelled((await c.get(id)) ?? view);
      if (res === 'not-found') {
        // Read but not in its queue: a task of a batch still being fanned out (stagedBatch.ts), there in a moment.
        if ((await c.get(id))?.state === 'waiting') throw new SwarmError('conflict', `task ${id} is still being added to its node's queue (its batch is being fanned out); retry the cancel in a moment`, { state: 'waiting' });
        throw notFound(id);
      }
      // not-cancellable: started meanwhile (then the running cancel below), finished, or being moved.
    }
    const run = await cancelRunning(c.redis, { prefix: c.prefix, node: view.node, id, now, replica: opts.replica === true });
    switch (run.outcome) {
      case 'cancelled':
        if (run.host) c.notice(run.host, id);
        return { ...tombstoneView(run.tombstone, id), wasRunning: true };
      case 'already-cancelled':
        return asCancelled(tombstoneView(run.tombstone, id));
      case 'finished':
        throw finished(id, run.state);
      case 'replica':
        throw new SwarmError('conflict', `task ${id} is a replica of a replicated task; cancel that task (its r- id), which cancels all its replicas`, { state: 'active' });
      case 'not-found':
      case 'not-active':
        break;
    }
    if (tries + 1 >= TRIES) {
      // Neither waiting nor running where it was read: claimed by a move to a node of another slot group, in its new queue in a moment.
      const state = (await c.get(id))?.state ?? view.state;
      throw new SwarmError('conflict', `task ${id} is being moved between nodes (${state}); retry the cancel in a moment`, { state });
    }
  }
}

function tombstoneView(json: string, id: string): TaskView {
  const t = cancelledRecordSchema.safeParse(JSON.parse(json));
  if (!t.success) throw new Error(`the cancel record of task ${id} does not parse: ${t.error.message}`);
  return taskViewFromTombstone(t.data);
}

function finished(id: string, state: string): SwarmError {
  return new SwarmError('conflict', `task ${id} has already ${state === 'completed' ? 'completed' : 'failed'}; a finished task cannot be cancelled`, { state });
}

function notFound(id: string): SwarmError {
  return new SwarmError('not_found', `no task ${id}`);
}
