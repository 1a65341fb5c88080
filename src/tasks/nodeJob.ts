// What a routed task becomes in its node queue: the job's data (the envelope an
// agent reads) and BullMQ's options for it (id, priority, retries, how long it is kept).
import type { JobsOptions } from 'bullmq';
import type { SwarmConfig } from '../config/schema.ts';
import type { TaskEnvelope, TaskInput } from './schema.ts';
import { approvalTerms } from './approval.ts';
import { KEY_NAME } from '../../queues/keys.ts';

/**
 * The key a job's data (its envelope) names, if it is a key name: swarmq's
 * submit checked it; one put straight into a node queue that is not a key name
 * counts as none, for the host that runs it, the view and a checkpoint alike.
 */
export function envelopeKey(data: unknown): string | undefined {
  const key = data !== null && typeof data === 'object' ? (data as { key?: unknown }).key : undefined;
  return typeof key === 'string' && KEY_NAME.test(key) ? key : undefined;
}

export function taskEnvelope(task: TaskInput): TaskEnvelope {
  const approval = approvalTerms(task.approval);
  return {
    payload: task.payload ?? null,
    ...(task.timeoutMs !== undefined ? { timeoutMs: task.timeoutMs } : {}),
    ...(task.affinity !== undefined ? { affinity: task.affinity } : {}),
    ...(approval ? { approval } : {}),
    ...(task.key !== undefined ? { key: task.key } : {}),
    ...(task.budget !== undefined ? { budget: task.budget } : {}),
  };
}

/** The job's options under its task id; a task that names no attempts gets the swarm's default. */
export function taskJobOptions(task: TaskInput, id: string, tasks: SwarmConfig['tasks']): JobsOptions {
  const attempts = task.attempts ?? tasks.defaultAttempts;
  return {
    jobId: id,
    ...(task.priority !== undefined ? { priority: task.priority } : {}),
    attempts,
    ...(attempts > 1 ? { backoff: { type: 'exponential', delay: tasks.backoffMs } } : {}),
    removeOnComplete: { age: tasks.keepCompletedSeconds },
    removeOnFail: { age: tasks.keepFailedSeconds },
  };
}
