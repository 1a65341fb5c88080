// A processor asking for its task to run again later without spending an
// attempt (an HTTP agent's service answered 429 with Retry-After). A processor
// holds neither the job nor its lock token, so it throws this, and the node
// runner, which holds both, hands the job back: `handBackLater` is that step.
import { DelayedError, type Job } from 'bullmq';

export class RetryLaterError extends Error {
  override readonly name = 'RetryLaterError';
  constructor(
    readonly delayMs: number,
    message: string,
  ) {
    super(message);
  }
}

export function isRetryLater(err: unknown): err is RetryLaterError {
  return err instanceof RetryLaterError;
}

/**
 * Delays the job by the error's delay, keeping its attempts (BullMQ's
 * moveToDelayed skips the attempt), and ends this run as BullMQ expects a
 * processor that moved its own job to end: with a DelayedError.
 */
export async function handBackLater(job: Job, token: string, err: RetryLaterError): Promise<never> {
  await job.moveToDelayed(Date.now() + err.delayMs, token);
  throw new DelayedError(err.message);
}
