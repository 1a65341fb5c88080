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
import { awaitReplicas, connectionMadeAt, NotReplicatedError, watchConnection, type DurabilityPolicy } from '../../queues/durability.ts';
import type { Redis } from 'ioredis';
import { isCluster, type RedisClient } from '../../queues/redisTarget.ts';
import { serverOf } from '../../queues/serverOf.ts';
import { NOT_OURS } from '../durability.ts';

/** How long a hand-back is tried by default (a caller that knows its lock passes its duration). */
const HAND_BACK_MS = 5000;

export type Pickup = { confirmed: true } | { confirmed: false; why: string };

/**
 * Starts noting when `client` (re)connects, for confirmPickup; call it before
 * its Worker takes a job. A WAIT covers the writes of the socket it is sent
 * on, so a pickup sent before the last reconnect (on a socket to a primary
 * since lost) cannot be confirmed by one. On a Cluster each node's connection
 * is watched, those ioredis adds later too: after a failover the slot's new
 * master is a node this client connects to only then (commands go to masters
 * only), so a WAIT there would confirm nothing of a pickup made on the old one.
 */
export function watchReconnects(client: RedisClient): void {
  if (!isCluster(client)) return watchConnection(client);
  for (const node of client.nodes('all')) watchConnection(node);
  client.on('+node', (node: Redis) => watchConnection(node));
}

/** When the connection a WAIT about `key` would go on was last made (undefined: not watched, or no master serves the slot now). */
async function connectedAt(client: RedisClient, key: string): Promise<number | undefined> {
  const server = await serverOf(client, key);
  return server && connectionMadeAt(server.redis);
}

/**
 * Resolves `confirmed` once a replica holds the pickup of `job` (at once with
 * `fast`). Otherwise hands the job back to waiting (no attempt spent) and says
 * why: where the pickup was lost, the job is already waiting on the promoted
 * replica and BullMQ refuses the hand-back, which is then done; where Redis
 * does not answer (a failover under way), the hand-back is tried again, once a
 * second, for `handBackMs`: the job's lock, which its Worker keeps renewing
 * meanwhile. Past that the lock lapses and BullMQ's stalled check returns the
 * job to waiting, a lock duration and a stalled interval later.
 */
export async function confirmPickup(client: RedisClient, job: Job, token: string, policy: DurabilityPolicy, handBackMs = HAND_BACK_MS): Promise<Pickup> {
  if (policy.mode === 'fast') return { confirmed: true };
  try {
    const key = `${job.queueQualifiedName}:${job.id ?? ''}`;
    // processedOn is the Worker's clock when it sent the move: a reconnect since may have left it on the lost primary.
    const since = await connectedAt(client, key);
    const pickedAt = job.processedOn ?? 0;
    if (since === undefined || since >= pickedAt) throw new NotReplicatedError('the connection that picked it up was made again since, or goes to another master now', '');
    // Dated by the pickup: a reconnect before the WAIT is answered makes it confirm nothing of it.
    await awaitReplicas(client, [key], policy, pickedAt);
    return { confirmed: true };
  } catch (err) {
    if (!(err instanceof NotReplicatedError)) throw err;
    const why = `the pickup of job ${job.id ?? ''} is not confirmed by a replica: ${err.message}`;
    const giveUpAt = Date.now() + handBackMs;
    for (;;) {
      try {
        await job.moveToWait(token);
        return { confirmed: false, why };
      } catch (moveErr) {
        if (NOT_OURS.test((moveErr as Error).message) || Date.now() >= giveUpAt) return { confirmed: false, why };
        await new Promise((r) => setTimeout(r, Math.min(1000, policy.timeoutMs)));
      }
    }
  }
}
