// A replicated task rejected with retry runs again (docs/approval.md#replicated-tasks):
// a new revision, whose replicas run on the nodes the previous revision's ran
// on (preferring the same agents), their processors told the rejection's reason
// as ctx.feedback, and whose outputs go to a vote of its own (keys.ts
// revisionId: its own round, seat claims and output proofs). The driver that
// holds the task's lock adds the replicas, records the revision in the job's
// data, and waits for them as for the first ones: in a flow, as the parent's new
// children (BullMQ's moveToWaitingChildren); on a Redis Cluster, where there is
// no flow, by looking at their states (judgeReplicated.ts).
//
// Every step may be repeated by a driver that takes the task over after a
// crash: the replicas' ids come from the task, the revision and their place,
// so adding them again adds nothing (BullMQ adds an id once), and the data
// names the revision only once they are all in their queues.
import { createHash } from 'node:crypto';
import { Job, Queue, type JobsOptions } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import { bullKey, nodeQueueName, REPLICA_OF_FIELD } from '../../../queues/keys.ts';
import type { RedisClient } from '../../../queues/redisTarget.ts';
import { nodeOfTaskId } from '../../tasks/ids.ts';
import type { TaskEnvelope } from '../../tasks/schema.ts';
import type { ReplicatedData } from './judgeReplicated.ts';
import { revisionId } from './keys.ts';

export interface RevisionReplica {
  id: string;
  node: string;
  name: string;
  data: TaskEnvelope;
  opts: JobsOptions;
}

/** A replica's id in its node: `<node>.` and 12 characters derived from the revision and its place, as TASK_ID wants them. */
function replicaId(node: string, runId: string, index: number): string {
  return `${node}.${createHash('sha256').update(`${runId}#${index}`).digest('base64url').slice(0, 12)}`;
}

/**
 * Pure: the replicas of `revision`, one for each of the previous revision's,
 * on its node, preferring the agent that ran it. A string: why there are none
 * (a task submitted before swarmq kept what its replicas are made of).
 */
export function revisionReplicas(taskId: string, data: ReplicatedData, revision: number, feedback: string): RevisionReplica[] | string {
  const r = data.replicated;
  if (!r.rerun) return `task ${taskId} was submitted before swarmq could run a replicated task again (it keeps what its replicas are made of since): submit it again`;
  const runId = revisionId(taskId, revision);
  const out: RevisionReplica[] = [];
  for (const [i, previous] of r.replicaTasks.entries()) {
    const node = nodeOfTaskId(previous);
    if (node === undefined) return `task ${taskId}: its replica ${previous} names no node`;
    const prefer = data.outcome?.agents[i] ?? '';
    const envelope = { ...(r.rerun.envelope as unknown as Omit<TaskEnvelope, 'replica'>), replica: { of: runId, prefer, feedback, revision } } satisfies TaskEnvelope;
    out.push({ id: replicaId(node, runId, i), node, name: r.type, data: envelope, opts: { ...(r.rerun.opts as JobsOptions) } });
  }
  return out;
}

/**
 * Adds the replicas to their node queues: as children of `parent` (a flow), or
 * on a Cluster each marked in the MULTI that adds it to stay on its node (as
 * the first revision's are), since the balancer would otherwise move it.
 */
export async function addRevisionReplicas(redis: RedisClient, prefix: string, parent: Job, replicas: readonly RevisionReplica[], flowless: boolean): Promise<void> {
  for (const r of replicas) {
    const queue = new Queue(nodeQueueName(r.node), { connection: redis, prefix });
    queue.on('error', () => {});
    try {
      if (!flowless) {
        await queue.add(r.name, r.data, { ...r.opts, jobId: r.id, parent: { id: parent.id!, queue: parent.queueQualifiedName } });
        continue;
      }
      const { ignoreDependencyOnFailure: _flowOnly, ...opts } = r.opts;
      const multi = (await queue.getBackend().client).multi();
      // Queued synchronously; the MULTI's replies are checked below. BullMQ's transaction is ioredis's MULTI.
      new Job(queue, r.name, r.data, { ...opts, jobId: r.id }, r.id).addJob(multi).catch(() => {});
      (multi as unknown as ChainableCommander).hset(bullKey(prefix, nodeQueueName(r.node), r.id), { [REPLICA_OF_FIELD]: parent.id! });
      const replies = (await multi.exec()) ?? [];
      const failed = replies.find(([err, v]) => err || (typeof v === 'number' && v < 0));
      if (failed) throw failed[0] ?? new Error(`adding replica ${r.id} failed with BullMQ code ${String(failed[1])}`);
    } finally {
      await queue.close();
    }
  }
}
