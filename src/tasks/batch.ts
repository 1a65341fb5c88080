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
