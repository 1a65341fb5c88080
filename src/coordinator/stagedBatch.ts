// A batch submit that stays all or none on a Redis Cluster, where one MULTI
// cannot reach the node queues of several slot groups. Three steps:
//   1. stage: every task of the batch, with its pre-chosen id, written at once
//      in the swarm's slot (stageBatch-3.lua). From here the batch is
//      acknowledged: all of it will be added, none of it is lost.
//   2. fan out: one MULTI per slot group adds that group's tasks to their node
//      queues under their ids, and in the same MULTI marks the group done for
//      this batch (`batch-added`, in the group's slot). A job may name another
//      queue of its own slot (a replicated task's parent, consensus-{swarm}).
//   3. finish: the staged records are dropped.
// A submitter that dies between the steps leaves the batch staged, and it falls
// due `leaseMs` after staging. Then whoever comes next takes it over (one at a
// time: claimBatches-1.lua) and redoes step 2 for the groups not marked done,
// then step 3: a reader of one of its tasks (readTask), or the leading
// coordinator's sweep (batchSweeper.ts). Re-adding a job id that exists is a
// no-op in BullMQ, and a group marked done is never added again, so a takeover
// neither loses nor duplicates a task (docs/cluster.md says the one narrow case
// left). Until then a staged task reads as waiting, never as missing.
//
// On one server the groups' adds and markers go in one MULTI: the steps are the
// same, the fan-out is one round trip.
import { randomBytes } from 'node:crypto';
import { Job, type JobsOptions, type Queue } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import { z } from 'zod';
import { claimBatches } from '../../queues/claimBatches.ts';
import { batchAddedKey, bullKey, CONSENSUS_QUEUE, hashTagOf, nodeQueueName, REPLICA_OF_FIELD, swarmKeys } from '../../queues/keys.ts';
import { isCluster, type RedisClient } from '../../queues/redisTarget.ts';
import { stageBatch } from '../../queues/stageBatch.ts';
import { nodeOfTaskId } from '../tasks/ids.ts';
import type { TaskView } from '../tasks/schema.ts';
import { failedAdd, forgetWaiting, noteWaitingMany, queueKeyedAdd, settlePlacing, type KeyedJob } from '../keys/keyedAdd.ts';

/** What is staged for one task: its job as it will be added, and which batch it is in. */
export const stagedTaskSchema = z.object({
  batch: z.string(),
  queue: z.string().optional(),
  replicaOf: z.string().optional(),
  key: z.string().optional(),
  inc: z.int().min(1).optional(),
  name: z.string(),
  data: z.unknown(),
  opts: z.record(z.string(), z.unknown()),
});
type StagedTask = z.infer<typeof stagedTaskSchema>;

/** A task of a batch, as its node queue's job: routed (its id names its node), shaped, not yet added. */
export interface BatchJob {
  id: string;
  /** Its queue when not its node's (a replicated task's parent: the consensus queue). */
  queue?: string;
  /** A replica of this replicated task: marked to stay on its node (keys.ts REPLICA_OF_FIELD). */
  replicaOf?: string;
  /** Its key and the key's tag step: added with its place in the fair order (src/keys/keyedAdd.ts). */
  key?: string;
  inc?: number;
  name: string;
  data: unknown;
  opts: JobsOptions;
}

function queueOf(j: BatchJob): string {
  return j.queue ?? nodeQueueName(nodeOfTaskId(j.id)!);
}

export interface BatchFanOut {
  redis: RedisClient;
  prefix: string;
  /** The BullMQ queue of that name. */
  queueFor: (queueName: string) => Queue;
  /**
   * How long a group's done mark lives: as long as finished tasks are kept
   * (tasks.keepCompletedSeconds), so a takeover never re-adds a task that ran
   * and was removed.
   */
  keepSeconds: number;
  /** How long the submitter (or a taker) has to fan a batch out before another may take it over. */
  leaseMs: number;
}

/** Default lease: a fan-out takes milliseconds; a takeover waits far past that, so it rarely races a slow submitter. */
export const BATCH_LEASE_MS = 10_000;

export function newBatchId(): string {
  return randomBytes(9).toString('base64url');
}

/**
 * Submits the jobs all or none: staged (acknowledged once this step is done),
 * then fanned out and finished. A failure after staging is reported to
 * `onLate` and not thrown: the batch is durable, and the next reader or the
 * leader's sweep finishes it.
 */
export async function submitStaged(f: BatchFanOut, jobs: readonly BatchJob[], onLate: (err: Error) => void, batchId = newBatchId()): Promise<void> {
  if (!jobs.length) return;
  const at = Date.now();
  // The job keeps its staging time, so a task added later by a takeover still says when it was submitted.
  const stamped = jobs.map((j) => ({ ...j, opts: { ...j.opts, timestamp: at } }));
  await stageBatch(f.redis, {
    prefix: f.prefix,
    batchId,
    leaseMs: f.leaseMs,
    tasks: stamped.map((j) => ({
      id: j.id,
      json: JSON.stringify({
        batch: batchId,
        name: j.name,
        data: j.data,
        opts: j.opts,
        ...(j.queue ? { queue: j.queue } : {}),
        ...(j.replicaOf ? { replicaOf: j.replicaOf } : {}),
        ...(j.key !== undefined ? { key: j.key, inc: j.inc ?? 1 } : {}),
      } satisfies StagedTask),
    })),
  });
  try {
    await addGroups(f, batchId, stamped);
    await finishBatch(f, batchId, stamped.map((j) => j.id));
  } catch (err) {
    onLate(err as Error);
  }
}

/** The jobs by hash tag (slot group): each group's MULTI touches one hash slot. */
function bySlotGroup(jobs: readonly BatchJob[]): Map<string, BatchJob[]> {
  const groups = new Map<string, BatchJob[]>();
  for (const j of jobs) {
    const g = hashTagOf(queueOf(j));
    const list = groups.get(g);
    if (list) list.push(j);
    else groups.set(g, [j]);
  }
  return groups;
}

/** Step 2: each group's jobs and its done mark, one MULTI a group (one for all on one server). */
async function addGroups(f: BatchFanOut, batchId: string, jobs: readonly BatchJob[]): Promise<void> {
  const groups = [...bySlotGroup(jobs).values()];
  const parts = isCluster(f.redis) ? groups : [groups.flat()];
  await Promise.all(parts.map((part) => addPart(f, batchId, part)));
}

async function addPart(f: BatchFanOut, batchId: string, jobs: readonly BatchJob[]): Promise<void> {
  const first = f.queueFor(queueOf(jobs[0]!));
  // BullMQ's own client: its scripts are defined on it, and Job.addJob queues them on its MULTI.
  const multi = (await first.getBackend().client).multi();
  // The transaction BullMQ hands out is ioredis's MULTI; its typing names only the commands BullMQ uses.
  const plain = multi as unknown as ChainableCommander;
  const marked = new Set<string>();
  // Keyed jobs: where their placing's reply is, and their waiting records, sent before the EXEC (src/keys/keyedAdd.ts).
  const keyed: { job: KeyedJob; reply: number }[] = [];
  const waitingByKey = new Map<string, string[]>();
  let replyCount = 0;
  for (const j of jobs) {
    const queue = queueOf(j);
    const node = nodeOfTaskId(j.id);
    if (j.key !== undefined && node !== undefined && j.queue === undefined) {
      const job: KeyedJob = { id: j.id, node, name: j.name, data: j.data, opts: j.opts, key: j.key, inc: j.inc ?? 1 };
      queueKeyedAdd(plain, f.queueFor(queue), f.prefix, job);
      keyed.push({ job, reply: replyCount + 1 });
      replyCount += 2;
      waitingByKey.set(j.key, [...(waitingByKey.get(j.key) ?? []), j.id]);
    } else {
      // Queued synchronously; the promise settles with the MULTI, whose replies are checked below.
      new Job(f.queueFor(queue), j.name, j.data, j.opts, j.id).addJob(multi).catch(() => {});
      replyCount++;
    }
    // The object form: BullMQ's client hands out a pipeline whose hset takes a field map (three arguments would be read as one).
    if (j.replicaOf) {
      plain.hset(bullKey(f.prefix, queue, j.id), { [REPLICA_OF_FIELD]: j.replicaOf });
      replyCount++;
    }
    const g = hashTagOf(queue);
    if (!marked.has(g)) {
      marked.add(g);
      plain.set(batchAddedKey(f.prefix, g, batchId), '1', 'EX', f.keepSeconds);
      replyCount++;
    }
  }
  const waiting = [...waitingByKey].map(([key, ids]) => noteWaitingMany(f.redis, f.prefix, key, ids).catch(() => {}));
  const replies = (await multi.exec()) ?? [];
  await Promise.all(waiting);
  const placings = new Set(keyed.map((k) => k.reply));
  const failed = replies.find((r, i) => !placings.has(i) && failedAdd(r));
  if (failed) {
    await Promise.all(keyed.map((k) => forgetWaiting(f.redis, f.prefix, k.job.key, k.job.id).catch(() => {})));
    throw failedAdd(failed);
  }
  for (const k of keyed) {
    if ((await settlePlacing(f.redis, f.prefix, k.job, replies[k.reply])) === -1) await forgetWaiting(f.redis, f.prefix, k.job.key, k.job.id);
  }
}

/** Step 3: the staged records dropped, the batch no longer due. */
async function finishBatch(f: BatchFanOut, batchId: string, ids: readonly string[]): Promise<void> {
  const k = swarmKeys(f.prefix);
  await f.redis.multi().hdel(k.staged, ...ids).del(k.batch(batchId)).zrem(k.batches, batchId).exec();
}

/**
 * Takes over one staged batch if it is due, and finishes its fan-out.
 * Resolves with whether it took it.
 */
export async function resumeBatch(f: BatchFanOut, batchId: string): Promise<boolean> {
  const [taken] = await claimBatches(f.redis, { prefix: f.prefix, leaseMs: f.leaseMs, which: { batchId } });
  if (taken === undefined) return false;
  await finishTaken(f, batchId);
  return true;
}

/** Takes over up to `limit` due batches and finishes each; resolves with how many. */
export async function resumeDueBatches(f: BatchFanOut, limit = 20): Promise<number> {
  const taken = await claimBatches(f.redis, { prefix: f.prefix, leaseMs: f.leaseMs, which: { limit } });
  for (const batchId of taken) await finishTaken(f, batchId);
  return taken.length;
}

async function finishTaken(f: BatchFanOut, batchId: string): Promise<void> {
  const k = swarmKeys(f.prefix);
  const idsJson = await f.redis.get(k.batch(batchId));
  if (idsJson === null) {
    await f.redis.zrem(k.batches, batchId); // finished by someone else meanwhile
    return;
  }
  const ids = z.array(z.string()).parse(JSON.parse(idsJson));
  const staged = ids.length ? await f.redis.hmget(k.staged, ...ids) : [];
  const jobs: BatchJob[] = [];
  staged.forEach((json, i) => {
    if (json === null) return;
    const t = stagedTaskSchema.parse(JSON.parse(json));
    jobs.push({
      id: ids[i]!,
      name: t.name,
      data: t.data,
      opts: t.opts as JobsOptions,
      ...(t.queue ? { queue: t.queue } : {}),
      ...(t.replicaOf ? { replicaOf: t.replicaOf } : {}),
      ...(t.key !== undefined ? { key: t.key, inc: t.inc ?? 1 } : {}),
    });
  });
  // Groups marked done were added whole, in the MULTI that marked them: never again.
  const groups = [...bySlotGroup(jobs).entries()];
  const done = await Promise.all(groups.map(([tag]) => f.redis.exists(batchAddedKey(f.prefix, tag, batchId))));
  const todo = groups.filter((_, i) => done[i] === 0).flatMap(([, list]) => list);
  if (todo.length) await addGroups(f, batchId, todo);
  await finishBatch(f, batchId, ids);
}

/** A task of a staged batch, as it reads until it is in its node's queue: waiting. */
export interface StagedRead {
  view: TaskView;
  batch: string;
}

/** The staged task of that id, or null: none is staged (never was, or its batch is fanned out). */
export async function readStaged(redis: RedisClient, prefix: string, id: string): Promise<StagedRead | null> {
  const json = await redis.hget(swarmKeys(prefix).staged, id);
  if (json === null) return null;
  const t = stagedTaskSchema.safeParse(JSON.parse(json));
  if (!t.success) return null;
  const at = typeof t.data.opts.timestamp === 'number' ? t.data.opts.timestamp : 0;
  return {
    batch: t.data.batch,
    view: { id, type: t.data.name, state: 'waiting', node: nodeOfTaskId(id) ?? CONSENSUS_QUEUE, agentId: null, attempts: 0, result: null, error: null, createdAt: at, startedAt: null, finishedAt: null, progress: null },
  };
}
