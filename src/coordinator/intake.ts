// The intake queue: producers that only have BullMQ (any language) add
// `queue.add(type, payload, { priority, attempts, approval, key })` to `<prefix>:{intake}`; the
// coordinator validates and routes each job to a node queue (intakeDrain.ts).
// Here: what a job asks for, and what an error routing it means.
import type { Job } from 'bullmq';
import { isRedisDown, SwarmError } from '../errors.ts';

/** Starts of an intake job after which an error that is neither bad input nor Redis trouble fails it: a bug stays a bug. */
export const MAX_INTAKE_TRIES = 5;

export type IntakeVerdict = { defer: true } | { defer: false; reason: string };

/**
 * What an error routing an intake job means for it. Redis not answering is
 * transient: the job waits and tries again, however long that takes. Anything
 * a SwarmError says (bad input, an unknown type, over a limit) no retry can
 * fix: it fails now. Anything else may be a passing fault: a few more tries,
 * then it fails with the reason rather than loop for ever.
 */
export function intakeVerdict(err: unknown, started: number): IntakeVerdict {
  // Not on a replica yet (a failover under way, or a slow replica): routed again later, to the same id.
  if (isRedisDown(err) || (err instanceof SwarmError && (err.code === 'redis_unavailable' || err.code === 'not_replicated'))) return { defer: true };
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof SwarmError) return { defer: false, reason: message };
  if (started < MAX_INTAKE_TRIES) return { defer: true };
  return { defer: false, reason: `${message} (failed ${started} tries)` };
}

/** A job's data is held to the HTTP body limit. Measured after the depth check, since JSON.stringify recurses. */
export function checkBytes(data: unknown, max: number): void {
  const bytes = Buffer.byteLength(JSON.stringify(data) ?? '');
  if (bytes > max) throw new SwarmError('payload_too_large', `job data is ${bytes} bytes of JSON, over the limit of ${max} bytes; split it or raise http.bodyLimitBytes (SWARMQ_BODY_LIMIT_BYTES)`);
}

/** An intake job's `approval` option (src/tasks/approval.ts), as the producer wrote it: validated with the task. */
function approvalOf(job: Job): unknown {
  return (job.opts as { approval?: unknown }).approval;
}

/** The key an intake job names in its options, as given (validated with the task). */
function keyOf(job: Job): unknown {
  return (job.opts as { key?: unknown }).key;
}

/** The task's own budget an intake job names in its options (`{ budget: { tokens: 20000 } }`), as given. */
function budgetOf(job: Job): unknown {
  return (job.opts as { budget?: unknown }).budget;
}

/** The task an intake job asks for, as the router validates it: its name is the type, its data the payload, the rest from its options. */
export function intakeTaskInput(job: Job): Record<string, unknown> {
  return {
    type: job.name,
    ...(job.data === undefined ? {} : { payload: job.data }),
    ...(job.opts.priority ? { priority: job.opts.priority } : {}),
    ...(job.opts.attempts && job.opts.attempts > 1 ? { attempts: job.opts.attempts } : {}),
    // Not one of BullMQ's options: a producer adds it beside them (`{ approval: { required: true } }`), and BullMQ keeps it with the job.
    ...(approvalOf(job) !== undefined ? { approval: approvalOf(job) } : {}),
    // A key rides in the job's options (BullMQ keeps options it does not know): `{ key: 'acme' }`.
    ...(keyOf(job) !== undefined ? { key: keyOf(job) } : {}),
    ...(budgetOf(job) !== undefined ? { budget: budgetOf(job) } : {}),
  };
}
