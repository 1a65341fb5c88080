// Reading one task by id, wherever it is now: its node's queue, the node it was
// moved to (following moves from group to group), the cancelled records, a batch staged but not yet fanned out
// (stagedBatch.ts), or (a replicated task) the consensus queue.
import type { Queue } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { groupKeys, swarmKeys } from '../../queues/keys.ts';
import { parseTaskJob, queueGetTask } from '../../queues/getTask.ts';
import { loadScripts } from '../../queues/scripts.ts';
import { isReplicatedTaskId, replicatedTaskView } from '../consensus/runtime/judgeReplicated.ts';
import { cancelledRecordSchema } from '../swarm/records.ts';
import { isIssuedTaskId, nodeOfTaskId } from '../tasks/ids.ts';
import type { TaskView } from '../tasks/schema.ts';
import { taskViewFromJob, taskViewFromTombstone } from '../tasks/view.ts';
import { slotPipeline } from '../../queues/slotPipeline.ts';
import { readStaged } from './stagedBatch.ts';

export interface TaskReads {
  redis: RedisClient;
  prefix: string;
  /** Opened only when a replicated task is read. */
  consensusQueue: () => Queue;
  /**
   * Takes over a staged batch's fan-out if it is due (stagedBatch.ts resumeBatch):
   * a reader of a task whose submitter died finishes the submit. Without it a
   * staged task reads as waiting until the leader's sweep adds it.
   */
  resumeBatch?: (batchId: string) => Promise<boolean>;
}

/** The task, or null when there is none of that id; a Redis failure throws, never reads as "not found". */
export async function readTask(r: TaskReads, id: string): Promise<TaskView | null> {
  if (!isIssuedTaskId(id)) return null; // no such task, and no key built from it
  let read: () => Promise<TaskView | null>;
  if (isReplicatedTaskId(id)) read = async () => (await replicatedTaskView(r.consensusQueue(), id, r.redis, r.prefix)) ?? (await replicatedTombstone(r, id));
  else {
    const encoded = nodeOfTaskId(id);
    if (!encoded) return null;
    read = () => readQueued(r, encoded, id);
  }
  const queued = await read();
  if (queued) return queued;
  // Not in a queue: maybe its batch is staged and not fanned out yet (it waits).
  const staged = await readStaged(r.redis, r.prefix, id);
  // None staged now: either none was, or its fan-out finished since the read above.
  if (!staged) return await read();
  if (r.resumeBatch && (await r.resumeBatch(staged.batch))) return (await read()) ?? staged.view;
  return staged.view;
}

/** The task in its node's queue, where it moved, or its tombstone; null when none of these has it. */
async function readQueued(r: TaskReads, encoded: string, id: string): Promise<TaskView | null> {
  // The reads are not one atomic step: a move between two of them can leave the
  // task found nowhere. Then walk once more, and again while the moved records read keep changing.
  let last: string | undefined;
  for (let tries = 0; ; tries++) {
    const { view, trail } = await followMoves(r, encoded, id);
    if (view || tries >= 5 || trail === last) return view;
    last = trail;
  }
}

/**
 * Follows the task from the group its id names, one group's records a step:
 * the group's `moved` hash says where the task went from there (within the
 * group, or, after a cross-group move or an unparking, into another group,
 * which records its own moves). Each group's record is rewritten whenever the
 * task enters, moves within or leaves it, so the records lead from group to
 * group in the order of the moves, and end where the task is.
 */
async function followMoves(r: TaskReads, encoded: string, id: string): Promise<{ view: TaskView | null; trail: string }> {
  const seen = new Set<string>();
  const trail: string[] = [];
  let at = encoded;
  // A job hash that no queue structure names: claimed to leave for another group, not landed (or not finished) yet.
  let claimed: TaskView | null = null;
  for (;;) {
    seen.add(at);
    const group = groupKeys(r.prefix, at);
    // One slot group's keys: the node's queue, and where its tasks moved or were cancelled.
    const [moved, tomb, reply] = (await execPipeline(r.redis, (p) => {
      p.hget(group.moved, id);
      p.hget(group.cancelled, id);
      queueGetTask(p, { prefix: r.prefix, node: at, id });
    })) as [string | null, string | null, unknown];
    trail.push(moved ?? '');
    const raw = parseTaskJob(reply);
    if (raw && raw.state !== 'unknown') return { view: taskViewFromJob(id, at, raw), trail: trail.join() };
    if (raw) claimed = taskViewFromJob(id, at, raw);
    // A cancelled task never moves again: its tombstone is final.
    if (tomb) return { view: tombstoneView(tomb), trail: trail.join() };
    if (moved && !seen.has(moved)) {
      at = moved;
      continue;
    }
    return { view: claimed, trail: trail.join() };
  }
}

/**
 * Runs a pipeline and returns its values, throwing its first error (a Redis
 * failure must never read as "not found"). A Redis that restarted has lost our
 * scripts: load them and run the pipeline once more.
 */
async function execPipeline(redis: RedisClient, build: (p: ChainableCommander) => void): Promise<unknown[]> {
  for (let attempt = 0; ; attempt++) {
    const p = slotPipeline(redis);
    build(p);
    const results = (await p.exec()) ?? [];
    const err = results.find(([e]) => e)?.[0];
    if (!err) return results.map(([, v]) => v);
    if (attempt === 0 && err.message.includes('NOSCRIPT')) {
      await loadScripts(redis);
      continue;
    }
    throw err;
  }
}

/** A replicated task cancelled (cancelReplicated-16.lua): its parent job is gone, its tombstone stays. */
async function replicatedTombstone(r: TaskReads, id: string): Promise<TaskView | null> {
  const json = await r.redis.hget(swarmKeys(r.prefix).cancelledReplicated, id);
  return json === null ? null : tombstoneView(json);
}

function tombstoneView(json: string): TaskView | null {
  const t = cancelledRecordSchema.safeParse(JSON.parse(json));
  return t.success ? taskViewFromTombstone(t.data) : null;
}
