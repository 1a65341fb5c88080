// Cancelling a task that has not started: refused for a replicated task, a
// no-op for one already cancelled, and a conflict naming the state once it has begun.
import type { RedisClient } from '../../queues/redisTarget.ts';
import { cancelTask } from '../../queues/cancelTask.ts';
import { SwarmError } from '../errors.ts';
import type { TaskView } from '../tasks/schema.ts';

export interface Cancelling {
  redis: RedisClient;
  prefix: string;
  /** Reads the task as the router does (wherever it moved). */
  get: (id: string) => Promise<TaskView | null>;
}

/** Refusals the task as read decides before asking Redis: there is none, or it is replicated. */
export function checkCancellable(id: string, view: TaskView | null): asserts view is TaskView {
  if (!view) throw notFound(id);
  if (view.consensus) throw new SwarmError('conflict', `task ${id} is a replicated task; cancelling one is not supported yet`, { state: view.state });
}

/** The task as it is once cancelled. */
export async function cancelNotStarted(c: Cancelling, id: string): Promise<TaskView> {
  const view = await c.get(id);
  checkCancellable(id, view);
  if (view.state === 'cancelled') return view;
  const res = await cancelTask(c.redis, { prefix: c.prefix, node: view.node, id, now: Date.now() });
  if (res === 'not-found') {
    // Read but not in its queue: a task of a batch still being fanned out (stagedBatch.ts), there in a moment.
    if ((await c.get(id))?.state === 'waiting') throw new SwarmError('conflict', `task ${id} is still being added to its node's queue (its batch is being fanned out); retry the cancel in a moment`, { state: 'waiting' });
    throw notFound(id);
  }
  if (res === 'not-cancellable') {
    // Read as waiting but not in its queue's waiting structures: claimed by a move to another slot group, in its new queue in a moment.
    if ((await c.get(id))?.state === 'waiting') throw new SwarmError('conflict', `task ${id} is being moved to a node of another slot group; retry the cancel in a moment`, { state: 'waiting' });
    throw new SwarmError('conflict', `task ${id} has already started or finished; only a task that has not started can be cancelled`, {
      state: (await c.get(id))?.state ?? view.state,
    });
  }
  return (await c.get(id))!;
}

function notFound(id: string): SwarmError {
  return new SwarmError('not_found', `no task ${id}`);
}
