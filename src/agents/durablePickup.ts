// With replicated durability, a task runs only once a replica holds its
// pickup. BullMQ moves a job to active (and locks it) on the Worker's
// connection; Redis replicates that asynchronously, so a master lost while the
// agent runs the task may take the move along: the promoted replica still has
// the job waiting, and another agent runs it a second time (the first finish is
// then refused). A WAIT on the connection that did the move, before the
// processor starts, closes that window: a pickup the replica lacks is handed
// back without running. The cost is one WAIT per task picked up, with
// `replicated` only.
import type { Job } from 'bullmq';
import { awaitReplicas, NotReplicatedError, type DurabilityPolicy } from '../../queues/durability.ts';
import { isCluster, type RedisClient } from '../../queues/redisTarget.ts';
import { NOT_OURS } from '../durability.ts';


const HAND_BACK_TRIES = 5;

export type Pickup = { confirmed: true } | { confirmed: false; why: string };

/** When each watched connection was last (re)connected: ms since the epoch. */
const readyAt = new WeakMap<object, number>();

/**
 * Starts noting when `client` (re)connects, for confirmPickup; call it before
 * its Worker takes a job. A WAIT covers the writes of the socket it is sent
 * on, so a pickup sent before the last reconnect (on a socket to a primary
 * since lost) cannot be confirmed by one. A Cluster client's sockets are its
 * masters' (their WAIT is checked in queues/durability.ts).
 */
export function watchReconnects(client: RedisClient): void {
  if (isCluster(client) || readyAt.has(client)) return;
  readyAt.set(client, client.status === 'ready' ? 0 : Date.now());
  client.on('ready', () => readyAt.set(client, Date.now()));
}

/**
 * Resolves `confirmed` once a replica holds the pickup of `job` (at once with
 * `fast`). Otherwise hands the job back to waiting (no attempt spent) and says
 * why: where the pickup was lost, the job is already waiting on the promoted
 * replica and BullMQ refuses the hand-back, which is then done; where Redis
 * does not answer, the hand-back is tried again a few times, after which the
 * job's lock lapses and BullMQ's stalled check returns it to waiting.
 */
export async function confirmPickup(client: RedisClient, job: Job, token: string, policy: DurabilityPolicy): Promise<Pickup> {
  if (policy.mode === 'fast') return { confirmed: true };
  try {
    // processedOn is the Worker's clock when it sent the move: a reconnect since may have left it on the lost primary.
    if ((readyAt.get(client) ?? 0) >= (job.processedOn ?? 0)) throw new NotReplicatedError('the connection that picked it up was made again since', '');
    await awaitReplicas(client, [`${job.queueQualifiedName}:${job.id ?? ''}`], policy);
    return { confirmed: true };
  } catch (err) {
    if (!(err instanceof NotReplicatedError)) throw err;
    const why = `the pickup of job ${job.id ?? ''} is not confirmed by a replica: ${err.message}`;
    for (let tries = 1; ; tries++) {
      try {
        await job.moveToWait(token);
        return { confirmed: false, why };
      } catch (moveErr) {
        if (NOT_OURS.test((moveErr as Error).message) || tries >= HAND_BACK_TRIES) return { confirmed: false, why };
        await new Promise((r) => setTimeout(r, Math.min(1000, policy.timeoutMs)));
      }
    }
  }
}
