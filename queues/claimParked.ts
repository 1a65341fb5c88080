// First half of taking a parked task to a node (see claimParked-6.lua).
import type { Cluster, Redis } from 'ioredis';
import { bullKey, groupKeys, nodeQueueName, PARKED_NODE } from './keys.ts';
import { scripts } from './scripts.ts';

export interface ClaimParkedRequest {
  prefix: string;
  /** The parked task's job id. */
  jobId: string;
  /** The node it is going to. */
  target: string;
  /** The leader's fencing token. */
  token: number;
}

/** claimed: out of the parked queue, recorded as going to the target; gone: not waiting there any more; stale: the token is no longer current. */
export type ClaimParkedResult = 'claimed' | 'gone' | 'stale';

export async function claimParked(redis: Redis | Cluster, r: ClaimParkedRequest): Promise<ClaimParkedResult> {
  const k = (s: string) => bullKey(r.prefix, nodeQueueName(PARKED_NODE), s);
  const g = groupKeys(r.prefix, PARKED_NODE);
  const res = Number(await scripts.claimParked.run(redis, [k('wait'), k('prioritized'), k('events'), g.moved, g.unparking, g.fence], [r.jobId, r.target, r.token]));
  return res === 1 ? 'claimed' : res === -1 ? 'stale' : 'gone';
}
