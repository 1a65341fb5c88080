// Moving waiting jobs between node queues (see moveJobs-12.lua).
import type { Redis } from 'ioredis';
import { bullKey, nodeQueueName, swarmKeys } from './keys.ts';
import { scripts } from './scripts.ts';

export interface MoveRequest {
  prefix: string;
  from: string;
  to: string;
  max: number;
  /** The mover's fencing token and where the current one lives; omit for a host moving work out of its own emptied node. */
  fence?: { key: string; token: string };
  /** Move just this job (when it is waiting) instead of the newest `max`. */
  jobId?: string;
}

/** Returns how many jobs moved; throws when the fencing token is stale. */
export async function moveWaitingJobs(redis: Redis, r: MoveRequest): Promise<number> {
  // The script reads an empty token as "no fence": a fence must carry a real one.
  if (r.fence && r.fence.token === '') throw new Error(`move from ${r.from} to ${r.to} refused: empty fencing token`);
  const src = nodeQueueName(r.from);
  const dst = nodeQueueName(r.to);
  const k = (q: string, s: string) => bullKey(r.prefix, q, s);
  const moved = Number(
    await scripts.moveJobs.run(
      redis,
      [
        k(src, 'wait'), k(src, 'prioritized'), k(src, 'events'),
        k(dst, 'wait'), k(dst, 'prioritized'), k(dst, 'pc'), k(dst, 'marker'), k(dst, 'meta'), k(dst, 'active'), k(dst, 'events'),
        swarmKeys(r.prefix).moved, r.fence?.key ?? swarmKeys(r.prefix).moved,
      ],
      [k(src, ''), k(dst, ''), r.max, r.to, r.fence?.token ?? '', r.jobId ?? ''],
    ),
  );
  if (moved === -1) throw new Error(`move from ${r.from} to ${r.to} refused: fencing token ${r.fence?.token} is no longer current`);
  return moved;
}
