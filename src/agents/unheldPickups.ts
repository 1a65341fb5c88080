// A fetch whose reply a dropped connection cut off: Redis moved the job to
// active, locked it and named this host on it (`pb`), but the Worker never got
// it, and ioredis sent the fetch again after the reconnect, which took another
// job. Nobody renews the first job's lock, so BullMQ's stalled check would give
// it back only after a lock duration and a stalled interval (up to 60 s with
// the defaults). After a reconnect the host hands such jobs back at once: each
// active job that names this host, was taken before the connection dropped,
// and is held by none of its Workers goes back to waiting, unrun, through
// BullMQ's own move (which checks the job's lock token), so a job anyone holds
// meanwhile is never touched.
import { Job, type Worker } from 'bullmq';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { slotPipeline } from '../../queues/slotPipeline.ts';

/** An active job as read: who took it (`pb`), when (`processedOn`), and its lock's token. */
export interface ActiveRow {
  id: string;
  takenBy: string | null;
  takenAt: number | null;
  lockToken: string | null;
}

/**
 * The jobs to hand back: taken by `hostId` before `since` (the drop), still
 * locked (a lock gone means BullMQ's stalled check or a recovery has it), and
 * not in `held` (what this host's Workers run or are finishing).
 */
export function unheldPickups(rows: readonly ActiveRow[], hostId: string, since: number, held: ReadonlySet<string>): { id: string; token: string }[] {
  const out: { id: string; token: string }[] = [];
  for (const r of rows) {
    if (r.takenBy !== hostId || r.takenAt === null || r.takenAt >= since || r.lockToken === null || held.has(r.id)) continue;
    out.push({ id: r.id, token: r.lockToken });
  }
  return out;
}

/** Reads the node queue's active jobs and hands back those `unheldPickups` picks; resolves with their ids. */
export async function handBackUnheld(redis: RedisClient, worker: Worker, jobKeyPrefix: string, hostId: string, since: number, held: ReadonlySet<string>): Promise<string[]> {
  const ids = await redis.lrange(`${jobKeyPrefix}active`, 0, -1);
  if (ids.length === 0) return [];
  const p = slotPipeline(redis);
  for (const id of ids) p.hmget(`${jobKeyPrefix}${id}`, 'pb', 'processedOn').get(`${jobKeyPrefix}${id}:lock`);
  const replies = (await p.exec()) ?? [];
  const rows: ActiveRow[] = ids.map((id, i) => {
    const [pb, processedOn] = (replies[2 * i]?.[1] ?? [null, null]) as (string | null)[];
    const lock = (replies[2 * i + 1]?.[1] ?? null) as string | null;
    return { id, takenBy: pb ?? null, takenAt: processedOn ? Number(processedOn) : null, lockToken: lock };
  });
  const handedBack: string[] = [];
  for (const { id, token } of unheldPickups(rows, hostId, since, held)) {
    const job = await Job.fromId(worker, id);
    // BullMQ refuses the move if the lock's token changed since it was read: whoever holds the job now keeps it.
    if (job && (await job.moveToWait(token).then(() => true, () => false))) handedBack.push(id);
  }
  return handedBack;
}
