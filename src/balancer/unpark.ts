// Tasks parked to wait for a capable agent (`waitForAgent`) go to a node as soon
// as the snapshot shows one. The parked queue is a slot group of its own, so the
// leader claims each task with its token (claimParked-6.lua), adds it to the
// node's queue under the same job id, then drops the parked copy; a claim left
// half done by a leader that died is finished by the next one.
//
// Re-adding is safe because BullMQ will not add a job id that exists: the task's
// hash stays in its node queue while it waits, runs, and for
// `keepCompletedSeconds` after it finishes, far longer than a lease takes over.
import { Job, type Queue } from 'bullmq';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { bullKey, groupKeys, nodeQueueName, PARKED_NODE } from '../../queues/keys.ts';
import { claimParked } from '../../queues/claimParked.ts';
import { routeLeastLoaded } from '../routing/leastLoaded.ts';
import type { NodeView } from '../routing/loads.ts';
import type { Affinity } from '../tasks/schema.ts';
import { slotPipeline } from '../../queues/slotPipeline.ts';

const BATCH = 200;

export interface UnparkContext {
  redis: RedisClient;
  prefix: string;
  /** The leader's token. */
  token: number;
  queueFor: (nodeId: string) => Queue;
}

export async function unparkTasks(c: UnparkContext, nodes: readonly NodeView[]): Promise<{ id: string; to: string }[]> {
  await finishClaims(c);
  const q = nodeQueueName(PARKED_NODE);
  const [[, plain], [, prioritized]] = (await slotPipeline(c.redis)
    .lrange(bullKey(c.prefix, q, 'wait'), 0, BATCH - 1)
    .zrange(bullKey(c.prefix, q, 'prioritized'), '0', String(BATCH - 1))
    .exec()) as [[unknown, string[]], [unknown, string[]]];
  const ids = [...prioritized, ...plain.reverse()]; // most urgent, then oldest, first
  if (!ids.length) return [];
  const p = slotPipeline(c.redis);
  for (const id of ids) p.hmget(bullKey(c.prefix, q, id), 'name', 'data');
  const jobs = ((await p.exec()) ?? []).map(([, v]) => v as [string | null, string | null]);
  const moved: { id: string; to: string }[] = [];
  for (const [i, id] of ids.entries()) {
    const [type, data] = jobs[i] ?? [null, null];
    if (!type) continue;
    let affinity: Affinity | undefined;
    try {
      affinity = (JSON.parse(data ?? '{}') as { affinity?: Affinity }).affinity;
    } catch {
      affinity = undefined;
    }
    const decision = routeLeastLoaded({ type, affinity }, nodes);
    if (!decision.ok) continue;
    const claimed = await claimParked(c.redis, { prefix: c.prefix, jobId: id, target: decision.node, token: c.token });
    if (claimed === 'stale') throw new Error(`unparking ${id} refused: leader token ${c.token} is no longer current`);
    if (claimed === 'claimed') {
      await deliver(c, id, decision.node);
      moved.push({ id, to: decision.node });
    }
  }
  return moved;
}

/** Second half: the task into its node's queue under its own id, then the parked copy gone. */
async function deliver(c: UnparkContext, id: string, to: string): Promise<void> {
  const job = await Job.fromId(c.queueFor(PARKED_NODE), id);
  if (job) await c.queueFor(to).add(job.name, job.data, { ...job.opts, jobId: id, timestamp: job.timestamp });
  const q = nodeQueueName(PARKED_NODE);
  await c.redis
    .multi()
    .del(bullKey(c.prefix, q, id), bullKey(c.prefix, q, `${id}:logs`))
    .srem(groupKeys(c.prefix, PARKED_NODE).unparking, id)
    .exec();
}

async function finishClaims(c: UnparkContext): Promise<void> {
  const g = groupKeys(c.prefix, PARKED_NODE);
  const pending = await c.redis.smembers(g.unparking);
  if (!pending.length) return;
  const targets = await c.redis.hmget(g.moved, ...pending);
  for (const [i, id] of pending.entries()) {
    const to = targets[i];
    if (to) await deliver(c, id, to);
  }
}
