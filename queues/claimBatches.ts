// Taking over the fan-out of staged batches that are due (see claimBatches-1.lua).
import type { Cluster, Redis } from 'ioredis';
import { swarmKeys } from './keys.ts';
import { scripts } from './scripts.ts';

export interface ClaimBatchesRequest {
  prefix: string;
  /** How long the taker has before another may take the batch over in turn. */
  leaseMs: number;
  /** One batch (taken only if due), or any due ones, at most `limit`. */
  which: { batchId: string } | { limit: number };
}

/** The batch ids taken. */
export async function claimBatches(redis: Redis | Cluster, r: ClaimBatchesRequest): Promise<string[]> {
  const one = 'batchId' in r.which ? r.which.batchId : '';
  const limit = 'limit' in r.which ? r.which.limit : 1;
  const res = await scripts.claimBatches.run(redis, [swarmKeys(r.prefix).batches], [r.leaseMs, limit, one]);
  return (res as unknown[]).map(String);
}
