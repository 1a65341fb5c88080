// The intake queue: producers that only have BullMQ (any language) add
// `queue.add(type, payload, { priority, attempts, approval, key })` to `<prefix>:intake`; the
// coordinator validates and routes each job to a node queue.
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { INTAKE_QUEUE, nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { isRedisDown, SwarmError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { newTaskId } from '../tasks/ids.ts';
import type { Submitted, TaskRouter } from './router.ts';

export interface IntakeOptions {
  router: TaskRouter;
  /** Worker connection (blocking-capable: maxRetriesPerRequest null). */
  connection: RedisClient;
  prefix: string;
  keepSeconds: number;
  /** The HTTP body limit (http.bodyLimitBytes), applied to a job's data as JSON. */
  maxBytes: number;
  concurrency?: number;
  logger: Logger;
}

const RETRY_TRANSIENT_MS = 1000;

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
function checkBytes(data: unknown, max: number): void {
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

export function startIntake(o: IntakeOptions): Worker {
  const keys = swarmKeys(o.prefix);
  const process = async (job: Job, token?: string): Promise<Submitted> => {
    try {
      const task = o.router.validate({
        type: job.name,
        ...(job.data === undefined ? {} : { payload: job.data }),
        ...(job.opts.priority ? { priority: job.opts.priority } : {}),
        ...(job.opts.attempts && job.opts.attempts > 1 ? { attempts: job.opts.attempts } : {}),
        // Not one of BullMQ's options: a producer adds it beside them (`{ approval: { required: true } }`), and BullMQ keeps it with the job.
        ...(approvalOf(job) !== undefined ? { approval: approvalOf(job) } : {}),
        // A key rides in the job's options (BullMQ keeps options it does not know): `{ key: 'acme' }`.
        ...(keyOf(job) !== undefined ? { key: keyOf(job) } : {}),
        ...(budgetOf(job) !== undefined ? { budget: budgetOf(job) } : {}),
      });
      checkBytes(job.data, o.maxBytes);
      // A spent key's task is refused before anything is written; a re-run whose task is already in (its id recorded) goes on.
      if (task.key !== undefined && (await o.router.budgets.has(task.key)) && !(await o.connection.exists(keys.intakeTask(job.id ?? '')))) await o.router.budgets.check(task.key);
      const planned = newTaskId(await o.router.route(task));
      // A re-run of this intake job (its coordinator died mid-way) reuses the first id,
      // and BullMQ's add of an existing id is a no-op: one intake job, one task.
      const writtenAt = Date.now();
      const previous = (await o.connection.set(keys.intakeTask(job.id ?? ''), planned, 'EX', o.keepSeconds, 'NX', 'GET')) as string | null;
      const submitted = await o.router.enqueue(task, previous ?? planned);
      // The intake job is done (its producer's acknowledgement) only once the task and its id are on a replica.
      const what = `the task of intake job ${job.id}`;
      await Promise.all([
        o.router.confirm([o.router.queueKey(nodeQueueName(submitted.node))], what, undefined, writtenAt),
        o.router.confirm([keys.intakeTask(job.id ?? '')], what, o.connection, writtenAt),
      ]);
      return submitted;
    } catch (err) {
      const verdict = intakeVerdict(err, job.attemptsStarted);
      // Visible in Bull Board as the failure reason; the producer's attempts are the task's, not this routing's.
      if (!verdict.defer) throw new UnrecoverableError(verdict.reason);
      // Try again later without spending one of the producer's attempts.
      o.logger.warn({ jobId: job.id, err: (err as Error).message, tries: job.attemptsStarted }, 'intake job deferred after a transient error');
      await job.moveToDelayed(Date.now() + RETRY_TRANSIENT_MS, token);
      throw new DelayedError();
    }
  };
  const worker = new Worker(INTAKE_QUEUE, process, {
    connection: o.connection,
    prefix: o.prefix,
    concurrency: o.concurrency ?? 50,
    name: 'swarmq-intake',
  });
  worker.on('error', (err) => o.logger.error({ err: err.message }, 'intake worker error'));
  return worker;
}
