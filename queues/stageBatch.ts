// A batch of tasks staged in the swarm's slot, all at once (see stageBatch-3.lua).
import type { Cluster, Redis } from 'ioredis';
import { swarmKeys } from './keys.ts';
import { scripts } from './scripts.ts';

export interface StageBatchRequest {
  prefix: string;
  batchId: string;
  /** How long the submitter has to fan the batch out before another may take it over. */
  leaseMs: number;
  /** Each task's id and what is staged for it (JSON). */
  tasks: readonly { id: string; json: string }[];
}

/** Stages the batch; resolves with when (Redis's clock, ms) it is due for a takeover. */
export async function stageBatch(redis: Redis | Cluster, r: StageBatchRequest): Promise<number> {
  const k = swarmKeys(r.prefix);
  const args = [r.batchId, r.leaseMs, JSON.stringify(r.tasks.map((t) => t.id)), ...r.tasks.flatMap((t) => [t.id, t.json])];
  return Number(await scripts.stageBatch.run(redis, [k.batches, k.batch(r.batchId), k.staged], args));
}
