// Moving waiting jobs between node queues of one slot group (see moveJobs-12.lua).
import type { Cluster, Redis } from 'ioredis';
import { bullKey, groupKeys, nodeQueueName, slotGroupOf } from './keys.ts';
import { scripts } from './scripts.ts';

export interface MoveRequest {
  prefix: string;
  from: string;
  to: string;
  max: number;
  /** The mover's leader token; omit for a host moving work out of its own emptied node. */
  fence?: { token: string };
  /** Move just this job (when it is waiting) instead of the newest `max`. */
  jobId?: string;
}

/** Returns how many jobs moved; throws when the fencing token is stale or the nodes are in different slot groups. */
export async function moveWaitingJobs(redis: Redis | Cluster, r: MoveRequest): Promise<number> {
  // The script reads an empty token as "no fence": a fence must carry a real one.
  if (r.fence && !/^[1-9][0-9]*$/.test(r.fence.token)) throw new Error(`move from ${r.from} to ${r.to} refused: fencing token "${r.fence.token}" is not a positive integer`);
  if (slotGroupOf(r.from) !== slotGroupOf(r.to)) {
    throw new Error(`move from ${r.from} to ${r.to} refused: jobs move only within a slot group (${slotGroupOf(r.from)} ≠ ${slotGroupOf(r.to)}), whose queues share a Redis Cluster slot`);
  }
  const src = nodeQueueName(r.from);
  const dst = nodeQueueName(r.to);
  const k = (q: string, s: string) => bullKey(r.prefix, q, s);
  const group = groupKeys(r.prefix, r.from);
  const moved = Number(
    await scripts.moveJobs.run(
      redis,
      [
        k(src, 'wait'), k(src, 'prioritized'), k(src, 'events'),
        k(dst, 'wait'), k(dst, 'prioritized'), k(dst, 'pc'), k(dst, 'marker'), k(dst, 'meta'), k(dst, 'active'), k(dst, 'events'),
        group.moved, group.fence,
      ],
      [k(src, ''), k(dst, ''), r.max, r.to, r.fence?.token ?? '', r.jobId ?? ''],
    ),
  );
  if (moved === -1) throw new Error(`move from ${r.from} to ${r.to} refused: fencing token ${r.fence?.token} is no longer current (a newer leader has moved work in ${slotGroupOf(r.from)})`);
  return moved;
}

/** Raises a group's fence to a new leader's token; returns the fence now in place. */
export async function raiseFence(redis: Redis | Cluster, prefix: string, nodeId: string, token: number): Promise<number> {
  return Number(await scripts.raiseFence.run(redis, [groupKeys(prefix, nodeId).fence], [token]));
}
