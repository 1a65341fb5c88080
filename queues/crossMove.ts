// Moving waiting jobs to a node of another slot group, in steps that each stay
// in one slot: claim in the source group, fenced (claimCrossMove-7.lua); land
// in the target node's queue under the same ids, idempotent per claim
// (landCrossMove-10.lua); finish the claim in the source group
// (finishCrossMove-2.lua). A claim left by a mover that
// died is found with pendingCrossMoves and finished by whoever holds the group next.
import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import { bullKey, groupKeys, nodeQueueName, slotGroupOf } from './keys.ts';
import { scripts } from './scripts.ts';

export interface CrossClaimRequest {
  prefix: string;
  from: string;
  to: string;
  max: number;
  /** The source group's partition token. */
  token: number;
  /** Unique per claim: the landing marks carry it. */
  claim: string;
}

/** A claimed job as the source group records it: everything needed to add it again elsewhere. */
const claimedJobSchema = z.object({
  claim: z.string(),
  from: z.string(),
  fromPrefix: z.string(),
  to: z.string(),
  kind: z.enum(['plain', 'prioritized']),
  hash: z.array(z.string()),
  // cjson writes an empty list as {}.
  logs: z.union([z.array(z.string()), z.object({}).transform(() => [] as string[])]),
});
export type ClaimedJob = z.infer<typeof claimedJobSchema> & { id: string };

const jobPrefix = (prefix: string, node: string) => bullKey(prefix, nodeQueueName(node), '');

/** Step 1. The claimed job ids (newest first; none while a checkpoint holds the group still); throws when the token is stale. */
export async function claimCrossMove(redis: Redis | Cluster, r: CrossClaimRequest): Promise<string[]> {
  if (slotGroupOf(r.from) === slotGroupOf(r.to)) throw new Error(`cross-group move from ${r.from} to ${r.to} refused: both are in ${slotGroupOf(r.from)} (moveJobs moves within a group in one step)`);
  const src = nodeQueueName(r.from);
  const k = (s: string) => bullKey(r.prefix, src, s);
  const g = groupKeys(r.prefix, r.from);
  const res = await scripts.claimCrossMove.run(redis, [k('wait'), k('prioritized'), k('events'), g.moving, g.moved, g.fence, g.crossMoveFreeze], [jobPrefix(r.prefix, r.from), r.max, r.to, r.token, r.claim, r.from]);
  if (res === -1) throw new Error(`move from ${r.from} to ${r.to} refused: fencing token ${r.token} is no longer current (a newer owner holds ${slotGroupOf(r.from)})`);
  return (res as unknown[]).map(String);
}

/** The claims recorded in a group (its moving hash) and not finished yet; records that do not parse are left and named. */
export async function pendingCrossMoves(redis: Redis | Cluster, prefix: string, group: string): Promise<{ jobs: ClaimedJob[]; unreadable: string[] }> {
  const raw = await redis.hgetall(groupKeys(prefix, group).moving); // a group name is its own slot group (slotGroupOf)
  const jobs: ClaimedJob[] = [];
  const unreadable: string[] = [];
  for (const [id, json] of Object.entries(raw)) {
    const rec = parseClaim(id, json);
    if (rec) jobs.push(rec);
    else unreadable.push(id);
  }
  return { jobs, unreadable };
}

/** A claim record of a group's `moving` hash (task id → JSON), or undefined when it does not parse. */
export function parseClaim(id: string, json: string | null | undefined): ClaimedJob | undefined {
  let parsed: unknown;
  try {
    parsed = json ? JSON.parse(json) : undefined;
  } catch {
    parsed = undefined;
  }
  const rec = claimedJobSchema.safeParse(parsed);
  return rec.success ? { ...rec.data, id } : undefined;
}

/** Reads the claim records of the given ids in the source node's group (in the order given). */
export async function claimedJobs(redis: Redis | Cluster, prefix: string, from: string, ids: readonly string[]): Promise<ClaimedJob[]> {
  if (!ids.length) return [];
  const raw = await redis.hmget(groupKeys(prefix, from).moving, ...ids);
  // One that does not parse stays claimed; the group's next round names it (pendingCrossMoves).
  return ids.flatMap((id, i) => parseClaim(id, raw[i]) ?? []);
}

/**
 * How long a landing mark is kept: a claim is landed at most once within this
 * long of its first landing. A mover paused longer than this between reading
 * its claim and landing it (an hour, where a lease lasts seconds) could add a
 * task again that has since moved on, finished and been removed, or been cancelled.
 */
export const LANDING_MARK_MS = 3_600_000;

/** Steps 2 and 3 for jobs of one claim going to one node: land them (once), then finish the claim. Returns how many were added now. */
export async function finishCrossMove(redis: Redis | Cluster, prefix: string, claim: string, to: string, jobs: readonly ClaimedJob[]): Promise<number> {
  const added = await landCrossMove(redis, prefix, claim, to, jobs);
  await settleCrossMove(redis, prefix, claim, jobs);
  return added;
}

/** Step 2: the claimed jobs into the target node's queue under their ids, each once per claim. Returns how many were added now. */
export async function landCrossMove(redis: Redis | Cluster, prefix: string, claim: string, to: string, jobs: readonly ClaimedJob[]): Promise<number> {
  if (!jobs.length) return 0;
  const dst = nodeQueueName(to);
  const k = (s: string) => bullKey(prefix, dst, s);
  const tg = groupKeys(prefix, to);
  return Number(
    await scripts.landCrossMove.run(
      redis,
      [k('wait'), k('prioritized'), k('pc'), k('marker'), k('meta'), k('active'), k('events'), tg.moved, tg.arrivals, tg.moving],
      [jobPrefix(prefix, to), to, claim, JSON.stringify(jobs.map((j) => ({ id: j.id, kind: j.kind, hash: j.hash, logs: j.logs }))), LANDING_MARK_MS],
    ),
  );
}

/** Step 3, once landed: the claim records and old job hashes out of the source group. */
export async function settleCrossMove(redis: Redis | Cluster, prefix: string, claim: string, jobs: readonly ClaimedJob[]): Promise<void> {
  if (!jobs.length) return;
  const byFrom = new Map<string, ClaimedJob[]>();
  for (const j of jobs) byFrom.set(j.from, [...(byFrom.get(j.from) ?? []), j]);
  for (const [from, list] of byFrom) {
    await scripts.finishCrossMove.run(redis, [groupKeys(prefix, from).moving, groupKeys(prefix, from).crossMoveFreeze], [jobPrefix(prefix, from), claim, ...list.map((j) => j.id)]);
  }
}
