// Reading one task by id, wherever it is now: its node's queue, the node it was
// moved to, the cancelled records, a batch staged but not yet fanned out
// (stagedBatch.ts), or (a replicated task) the consensus queue.
import type { Queue } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { groupKeys } from '../../queues/keys.ts';
import { getTask, parseTaskJob, queueGetTask } from '../../queues/getTask.ts';
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
  if (isReplicatedTaskId(id)) read = () => replicatedTaskView(r.consensusQueue(), id);
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
  // One slot group's keys: the node's queue, and where its tasks moved or were cancelled.
  const group = groupKeys(r.prefix, encoded);
  // A task can move again between reading where it went and reading it there:
  // then the moved record has changed, and we look again.
  for (let tries = 0; ; tries++) {
    const [moved, tomb, reply] = (await execPipeline(r.redis, (p) => {
      p.hget(group.moved, id);
      p.hget(group.cancelled, id);
      queueGetTask(p, { prefix: r.prefix, node: encoded, id });
    })) as [string | null, string | null, unknown];
    const raw = parseTaskJob(reply);
    if (!moved || moved === encoded) {
      if (raw) return taskViewFromJob(id, encoded, raw);
      if (tomb) return tombstoneView(tomb);
      // The reads are not one atomic step: a move between the first and the last
      // leaves no job here and no moved record read yet. Look again if it moved.
      if (tries < 5 && (await r.redis.hget(group.moved, id)) !== moved) continue;
      return null;
    }
    // Moves stay within a group, except a parked task's, which goes anywhere.
    const there = groupKeys(r.prefix, moved);
    const again = await getTask(r.redis, { prefix: r.prefix, node: moved, id });
    if (again) return taskViewFromJob(id, moved, again);
    if (raw) return taskViewFromJob(id, encoded, raw); // claimed from the parked queue, not yet in its node's
    const tombThere = there.cancelled === group.cancelled ? tomb : await r.redis.hget(there.cancelled, id);
    if (tombThere) return tombstoneView(tombThere);
    if (tries >= 5 || (await r.redis.hget(group.moved, id)) === moved) return null;
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

function tombstoneView(json: string): TaskView | null {
  const t = cancelledRecordSchema.safeParse(JSON.parse(json));
  return t.success ? taskViewFromTombstone(t.data) : null;
}
