// What a batch of tasks may hold, decided before anything is routed or written.
import { SwarmError } from '../errors.ts';
import type { TaskInput } from './schema.ts';

/** A batch holds 1 to `max` tasks (http.maxBatch). */
export function checkBatchSize(count: number, max: number): void {
  if (count === 0 || count > max) {
    throw new SwarmError('invalid_request', `a batch holds 1 to ${max} tasks, got ${count}`, [{ path: 'tasks', message: `1 to ${max} tasks` }]);
  }
}

/** Replicated tasks are submitted one at a time: the error names the first in the batch. */
export function checkNoReplicated(tasks: readonly TaskInput[]): void {
  const replicated = tasks.findIndex((t) => t.consensus !== undefined);
  if (replicated >= 0) throw new SwarmError('invalid_request', 'a batch cannot hold replicated tasks (consensus) yet; submit them one at a time', [{ path: `tasks.${replicated}.consensus`, message: 'not in a batch' }]);
}

const BATCH_ID = /^[A-Za-z0-9_-]{12}$/;

/** A batch id as POST /api/tasks/batch returns them (stagedBatch.ts newBatchId); anything else names no batch and builds no key (a 400). */
export function checkBatchId(id: string): void {
  if (!BATCH_ID.test(id)) throw new SwarmError('invalid_request', `"${id.slice(0, 40)}" is not a batch id (the batchId POST /api/tasks/batch returns: 12 letters, digits, - or _)`, [{ path: 'id', message: 'not a batch id' }]);
}
