// The intake queue: producers that only have BullMQ (any language) add
// `queue.add(type, payload, { priority, attempts })` to `<prefix>:intake`; the
// coordinator validates and routes each job to a node queue.
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { INTAKE_QUEUE, swarmKeys } from '../../queues/keys.ts';
import { SwarmError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { newTaskId } from '../tasks/ids.ts';
import type { Submitted, TaskRouter } from './router.ts';

export interface IntakeOptions {
  router: TaskRouter;
  /** Worker connection (blocking-capable: maxRetriesPerRequest null). */
  connection: Redis;
  prefix: string;
  keepSeconds: number;
  concurrency?: number;
  logger: Logger;
}

const RETRY_TRANSIENT_MS = 1000;

export function startIntake(o: IntakeOptions): Worker {
  const keys = swarmKeys(o.prefix);
  const process = async (job: Job, token?: string): Promise<Submitted> => {
    try {
      const task = o.router.validate({
        type: job.name,
        ...(job.data === undefined ? {} : { payload: job.data }),
        ...(job.opts.priority ? { priority: job.opts.priority } : {}),
        ...(job.opts.attempts && job.opts.attempts > 1 ? { attempts: job.opts.attempts } : {}),
      });
      const planned = newTaskId(await o.router.route(task));
      // A re-run of this intake job (its coordinator died mid-way) reuses the first id,
      // and BullMQ's add of an existing id is a no-op: one intake job, one task.
      const previous = (await o.connection.set(keys.intakeTask(job.id ?? ''), planned, 'EX', o.keepSeconds, 'NX', 'GET')) as string | null;
      return await o.router.enqueue(task, previous ?? planned);
    } catch (err) {
      if (err instanceof SwarmError && err.status < 500) {
        // Visible in Bull Board as the failure reason; no retry can fix bad input.
        throw new UnrecoverableError(err.message);
      }
      // Redis trouble: try again later without spending one of the producer's attempts.
      o.logger.warn({ jobId: job.id, err: (err as Error).message }, 'intake job deferred after a transient error');
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
