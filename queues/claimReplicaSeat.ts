// One agent per replica of a replicated task (see claimReplicaSeat-1.lua).
import type { Cluster, Redis } from 'ioredis';
import { scripts } from './scripts.ts';

/** The task's claims hash: agent → replica job id. */
export function replicaClaimsKey(prefix: string, taskId: string): string {
  return `${prefix}:{swarm}:replicas:${taskId}`;
}

export interface ReplicaSeatRequest {
  prefix: string;
  /** The replicated task. */
  taskId: string;
  /** The replica's job id. */
  jobId: string;
  /** Agents that could run it, the preferred one first. */
  candidates: readonly string[];
  /** How long the claims hash is kept. */
  ttlSeconds: number;
}

/** The agent that now holds the replica's seat, or null when every candidate holds another replica of the task. */
export async function claimReplicaSeat(redis: Redis | Cluster, r: ReplicaSeatRequest): Promise<string | null> {
  const got = await scripts.claimReplicaSeat.run(redis, [replicaClaimsKey(r.prefix, r.taskId)], [r.jobId, r.ttlSeconds, ...r.candidates]);
  return typeof got === 'string' ? got : null;
}
