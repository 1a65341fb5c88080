// A dead host's active jobs back to waiting, at once (see recoverJobs-6.lua).
import type { Cluster, Redis } from 'ioredis';
import { bullKey } from './keys.ts';
import { scripts } from './scripts.ts';

export interface RecoverRequest {
  prefix: string;
  /** The node queue to look in (as the nodes hash records it). */
  queue: string;
  /** The dead host: its Worker name, which BullMQ records on each job it takes (`pb`). */
  hostId: string;
  /** BullMQ's maxStalledCount: a job stalled more often than this fails when next taken. */
  maxStalledCount: number;
}

/** The ids of the jobs handed back. */
export async function recoverJobs(redis: Redis | Cluster, r: RecoverRequest): Promise<string[]> {
  const k = (s: string) => bullKey(r.prefix, r.queue, s);
  const ids = await scripts.recoverJobs.run(redis, [k('active'), k('wait'), k('stalled'), k('meta'), k('marker'), k('events')], [k(''), r.hostId, r.maxStalledCount]);
  return Array.isArray(ids) ? ids.map(String) : [];
}
