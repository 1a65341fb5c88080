// Replicas of one replicated task run on distinct agents: before an agent runs
// a replica it claims its seat in the task's claims hash (agent → replica job
// id), atomically, so no two replicas of a task are ever run by one agent,
// whichever hosts and node runners pick them up.
import type { Redis } from 'ioredis';

/** How long claims are kept: longer than any replicated task stays unjudged in practice; they only guard distinctness. */
const CLAIMS_TTL_SECONDS = 7 * 24 * 3600;

/** After this, a replica that found no free agent of its own here is offered again (moveToDelayed). */
export const REPLICA_RETRY_MS = 100;

export function replicaClaimsKey(prefix: string, taskId: string): string {
  return `${prefix}:{swarm}:replicas:${taskId}`;
}

// The first candidate no other replica of the task holds. A replica that held
// another agent (an earlier attempt that failed or stalled there) gives that
// one up: its output will come from the new agent, and only outputs must come
// from distinct agents.
const CLAIM = `
local claims = redis.call('HGETALL', KEYS[1])
local mine, holder = nil, {}
for i = 1, #claims, 2 do
  holder[claims[i]] = claims[i + 1]
  if claims[i + 1] == ARGV[1] then mine = claims[i] end
end
for i = 3, #ARGV do
  local a = ARGV[i]
  if holder[a] == nil or holder[a] == ARGV[1] then
    if mine and mine ~= a then redis.call('HDEL', KEYS[1], mine) end
    redis.call('HSET', KEYS[1], a, ARGV[1])
    redis.call('EXPIRE', KEYS[1], ARGV[2])
    return a
  end
end
return false
`;

/**
 * Claims one of `candidates` (agents of this node runner with a free slot, the
 * preferred one first) for replica `jobId` of task `taskId`. Null: every
 * candidate already ran or runs another replica of the task.
 */
export async function claimReplicaSeat(redis: Redis, prefix: string, taskId: string, jobId: string, candidates: readonly string[]): Promise<string | null> {
  if (!candidates.length) return null;
  const got = (await redis.eval(CLAIM, 1, replicaClaimsKey(prefix, taskId), jobId, String(CLAIMS_TTL_SECONDS), ...candidates)) as string | null;
  return got ?? null;
}
