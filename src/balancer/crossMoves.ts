// Carrying out moves between slot groups (planned by groupPlan.ts). The owner
// of the source group moves out: it holds that group's fence, which the claim
// (step 1) checks; the landing in the target group needs no fence, since it is
// idempotent per claim (queues/crossMove.ts). Each round first finishes the
// claims a mover left in the groups this coordinator holds (it died, or was
// deposed, between the steps), so a claimed task is never left out of every queue.
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { claimCrossMove, claimedJobs, finishCrossMove, pendingCrossMoves, type ClaimedJob } from '../../queues/crossMove.ts';
import type { Logger } from '../log.ts';

/** Jobs per claim: each claim carries its jobs' hashes in one script's arguments. */
export const CROSS_MOVE_BATCH = 100;

export interface CrossMoveContext {
  redis: RedisClient;
  prefix: string;
  logger: Logger;
}

/** Step 1 and, at once, steps 2–4: up to `max` waiting jobs from `from` to `to` (another group). Returns how many moved. */
export async function moveAcrossGroups(c: CrossMoveContext, m: { from: string; to: string; max: number; token: number }): Promise<number> {
  let moved = 0;
  while (moved < m.max) {
    const claim = `${m.token}.${randomUUID()}`;
    const ids = await claimCrossMove(c.redis, { prefix: c.prefix, from: m.from, to: m.to, max: Math.min(CROSS_MOVE_BATCH, m.max - moved), token: m.token, claim });
    if (!ids.length) break;
    const jobs = await claimedJobs(c.redis, c.prefix, m.from, ids);
    await finishCrossMove(c.redis, c.prefix, claim, m.to, jobs);
    moved += ids.length;
    if (ids.length < CROSS_MOVE_BATCH) break;
  }
  return moved;
}

/** Finishes every claim left in the given groups; returns how many tasks it landed now. */
export async function finishPendingMoves(c: CrossMoveContext, groups: Iterable<string>): Promise<number> {
  let landed = 0;
  for (const group of groups) {
    const { jobs, unreadable } = await pendingCrossMoves(c.redis, c.prefix, group);
    if (unreadable.length) c.logger.warn({ group, tasks: unreadable }, 'cross-group move claims that do not parse are left in place; inspect the group\'s moving hash');
    const byClaim = new Map<string, ClaimedJob[]>();
    for (const j of jobs) byClaim.set(`${j.claim}\u0000${j.to}`, [...(byClaim.get(`${j.claim}\u0000${j.to}`) ?? []), j]);
    for (const list of byClaim.values()) {
      // The hash gives no order: newest first, as the claim took them, so they land oldest behind.
      list.sort((a, b) => createdAt(b) - createdAt(a));
      const n = await finishCrossMove(c.redis, c.prefix, list[0]!.claim, list[0]!.to, list);
      landed += n;
      c.logger.info({ group, to: list[0]!.to, tasks: list.length, added: n }, 'finished a cross-group move left half done');
    }
  }
  return landed;
}

function createdAt(j: ClaimedJob): number {
  const i = j.hash.findIndex((f, k) => k % 2 === 0 && f === 'timestamp');
  return i >= 0 ? Number(j.hash[i + 1]) || 0 : 0;
}
