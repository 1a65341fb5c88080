// Replicas of one replicated task run on distinct agents: before an agent runs
// a replica it claims its seat in the task's claims hash (agent → replica job
// id), atomically, so no two replicas of a task are ever run by one agent,
// whichever hosts and node runners pick them up (queues/commands/claimReplicaSeat-1.lua).
import type { RedisClient } from '../../queues/redisTarget.ts';
import { claimReplicaSeat as claimSeat } from '../../queues/claimReplicaSeat.ts';

/** How long claims are kept: longer than any replicated task stays unjudged in practice; they only guard distinctness. */
const CLAIMS_TTL_SECONDS = 7 * 24 * 3600;

/** After this, a replica that found no free agent of its own here is offered again (moveToDelayed). */
export const REPLICA_RETRY_MS = 100;

/**
 * Claims one of `candidates` (agents of this node runner with a free slot, the
 * preferred one first) for replica `jobId` of task `taskId`. Null: every
 * candidate already ran or runs another replica of the task.
 */
export async function claimReplicaSeat(redis: RedisClient, prefix: string, taskId: string, jobId: string, candidates: readonly string[]): Promise<string | null> {
  if (!candidates.length) return null;
  return await claimSeat(redis, { prefix, taskId, jobId, candidates, ttlSeconds: CLAIMS_TTL_SECONDS });
}
