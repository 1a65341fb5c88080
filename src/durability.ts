// The swarm's durability setting applied at an acknowledgement: with
// `replicated`, the writes behind it must reach a replica first (queues/durability.ts),
// and a write that did not is refused as a 503 naming durability, so a caller
// retries (with an idempotency key, safely) rather than trust a task a
// failover could lose.
import { awaitReplicas, NotReplicatedError, type DurabilityPolicy } from '../queues/durability.ts';
import type { RedisClient } from '../queues/redisTarget.ts';
import { isRedisDown, SwarmError } from './errors.ts';

/** Waits for the replicas of what `client` wrote to the slots of `keys`; a SwarmError (503 not_replicated) if they do not confirm. */
export async function confirmDurable(client: RedisClient, keys: readonly string[], policy: DurabilityPolicy, what: string, writtenAt?: number): Promise<void> {
  try {
    await awaitReplicas(client, keys, policy, writtenAt);
  } catch (err) {
    if (!(err instanceof NotReplicatedError)) throw err;
    throw new SwarmError(
      'not_replicated',
      `${what} is not acknowledged: durability is replicated and ${err.message}. It may or may not have been kept; retry (with an idempotencyKey to be safe), or check the replicas (SWARMQ_DURABILITY_TIMEOUT_MS)`,
      { durability: policy.mode, replicas: policy.replicas, timeoutMs: policy.timeoutMs },
    );
  }
}

/** What a finish of BullMQ's goes through: RedisQueueBackend.moveToFinished, protected in its typings. */
type MoveToFinished = (jobId: string, args: unknown[]) => Promise<unknown>;
type FinishArgs = (...a: unknown[]) => unknown[];
interface FinishingBackend {
  moveToFinished: MoveToFinished;
  moveToFinishedArgs: FinishArgs;
  queue: { toKey(type: string): string };
}

/** Redis refusing a command it did not run: a read-only replica, a server loading, a Cluster slot unserved or moving. */
const REFUSED = /READONLY|LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN/;

/** BullMQ's refusals of a finish or a move because the job is not ours any more (finished-errors.ts). */
export const NOT_OURS = /Missing key for job|Missing lock for job|Lock mismatch for job|is not in the \w+ state/;

/**
 * With replicated durability, a Worker's finish (the job's outcome recorded
 * by BullMQ's moveToFinished script, on the Worker's own connection, the
 * shared one it was given) counts only once a replica has it: a WAIT follows
 * it on that connection (`client`, the one given to the Worker). If the master
 * dies before its replica confirms, the finish may be gone with it, and the job
 * would look active, then stalled, and run again: so once Redis answers again
 * (the replica promoted) the finish is sent again with the same arguments (same
 * lock token). Where the first one was kept, the job is no longer active and
 * BullMQ refuses the second: that refusal means it was kept. The next job is
 * not fetched in the same call (fetchNext), so a repeated finish cannot take a
 * second job.
 *
 * Redis refusing the finish for a while (read-only while a primary is demoted,
 * loading, a Cluster's slot unserved) is sent again too: BullMQ takes any error
 * but a closed connection for the job's failure, and a failed job with attempts
 * left runs again, after its processor already ran. All this for as long as the
 * job's lock would hold (`lockMs`, not renewed while it finishes): past it,
 * BullMQ's stalled check may have given the job to another Worker; a finish
 * still unconfirmed by then is taken as it stands.
 * Returns false when `backend` is not BullMQ's Redis backend (nothing done).
 */
export function durableFinishes(worker: { backend: unknown }, client: RedisClient, policy: DurabilityPolicy, onRetry?: (jobId: string, why: string) => void, lockMs = 30_000): boolean {
  if (policy.mode === 'fast') return true;
  const backend = worker.backend as Partial<FinishingBackend>;
  if (typeof backend.moveToFinished !== 'function' || typeof backend.moveToFinishedArgs !== 'function' || !backend.queue) return false;
  const b = backend as FinishingBackend;
  const finish = b.moveToFinished.bind(b);
  const args = b.moveToFinishedArgs.bind(b);
  // fetchNext is the 8th argument of moveToFinishedArgs.
  b.moveToFinishedArgs = (...a: unknown[]) => args(...a.slice(0, 7), false, ...a.slice(8));
  b.moveToFinished = async (jobId, finishArgs) => {
    const key = b.queue.toKey(jobId);
    const giveUpAt = Date.now() + lockMs;
    let result: unknown;
    // A finish Redis may have applied: answered, or cut off with its answer (a refusal below is never applied).
    let sent = false;
    for (let tries = 1; ; tries++) {
      const sentAt = Date.now();
      try {
        const answer = await finish(jobId, finishArgs);
        if (!sent) result = answer;
        sent = true;
      } catch (err) {
        const message = (err as Error).message;
        // Refused as not ours after a finish was sent: that one is what Redis kept. Otherwise BullMQ's lost lock.
        if (NOT_OURS.test(message)) {
          if (sent) return result;
          throw err;
        }
        if (!isRedisDown(err) && !sent) throw err;
        if (!REFUSED.test(message)) sent = true;
        if (Date.now() >= giveUpAt) {
          if (!sent) throw err;
          onRetry?.(jobId, `${message}; the finish sent before is taken as it stands (the job's lock is over)`);
          return result;
        }
        onRetry?.(jobId, message);
        await new Promise((r) => setTimeout(r, Math.min(1000, policy.timeoutMs)));
        continue;
      }
      try {
        await awaitReplicas(client, [key], policy, sentAt);
        return result;
      } catch (err) {
        if (!(err instanceof NotReplicatedError)) throw err;
        if (Date.now() >= giveUpAt) {
          onRetry?.(jobId, `${err.message}; not confirmed by a replica within the job's lock, so taken as it stands`);
          return result;
        }
        onRetry?.(jobId, err.message);
      }
    }
  };
  return true;
}
