// Coordinator leadership: the lease and its fencing token (see acquireLease-3.lua).
import type { Cluster, Redis } from 'ioredis';
import { swarmKeys } from './keys.ts';
import { scripts } from './scripts.ts';

export interface LeaseRequest {
  prefix: string;
  /** The coordinator asking. */
  candidate: string;
  /** How long the lease lasts unless renewed. */
  ttlMs: number;
}

/** Acquires or renews the lease: the candidate's fencing token when it holds the lease now, else 0. */
export async function acquireLease(redis: Redis | Cluster, r: LeaseRequest): Promise<number> {
  const k = swarmKeys(r.prefix);
  return Number(await scripts.acquireLease.run(redis, [k.lease, k.leaseOwner, k.leaseCounter], [r.candidate, r.ttlMs]));
}
