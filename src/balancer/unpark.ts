// Tasks parked to wait for a capable agent (`waitForAgent`) go to a node as soon
// as the snapshot shows one: the leading coordinator routes each and moves it
// there atomically, one job at a time, with its fencing token.
import type { Redis } from 'ioredis';
import { bullKey, nodeQueueName, PARKED_NODE } from '../../queues/keys.ts';
import { moveWaitingJobs } from '../../queues/moveJobs.ts';
import { routeLeastLoaded } from '../routing/leastLoaded.ts';
import type { NodeView } from '../routing/snapshot.ts';
import type { Affinity } from '../tasks/schema.ts';

const BATCH = 200;

export async function unparkTasks(redis: Redis, prefix: string, nodes: readonly NodeView[], fence: { key: string; token: string }): Promise<{ id: string; to: string }[]> {
  const q = nodeQueueName(PARKED_NODE);
  const [[, plain], [, prioritized]] = (await redis
    .pipeline()
    .lrange(bullKey(prefix, q, 'wait'), 0, BATCH - 1)
    .zrange(bullKey(prefix, q, 'prioritized'), '0', String(BATCH - 1))
    .exec()) as [[unknown, string[]], [unknown, string[]]];
  const ids = [...prioritized, ...plain.reverse()]; // most urgent, then oldest, first
  if (!ids.length) return [];
  const p = redis.pipeline();
  for (const id of ids) p.hmget(bullKey(prefix, q, id), 'name', 'data');
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
    if ((await moveWaitingJobs(redis, { prefix, from: PARKED_NODE, to: decision.node, max: 1, jobId: id, fence })) === 1) moved.push({ id, to: decision.node });
  }
  return moved;
}
