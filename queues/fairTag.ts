// A keyed task's place in its node's fair order (see fairTag-5.lua), queued on
// the MULTI that adds its job, or run alone when that one could not run.
import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { bullKey, fairClocksKey, nodeQueueName } from './keys.ts';
import { scripts } from './scripts.ts';

export interface FairTagRequest {
  prefix: string;
  node: string;
  id: string;
  key: string;
  /** The key's tag step per task: 1000 / its weight, an integer ≥ 1 (src/keys/fairOrder.ts). */
  inc: number;
  /** The task's priority, 0 for none. */
  band: number;
  /** The key's waiting zset, to record the task in as it is placed: only where the node's and the key's slots share a server (one Redis). */
  waitingKey?: string;
}

function encode(r: FairTagRequest): { keys: string[]; args: (string | number)[] } {
  const q = nodeQueueName(r.node);
  const fair = fairClocksKey(r.prefix, r.node, r.band);
  return {
    keys: [bullKey(r.prefix, q, r.id), bullKey(r.prefix, q, 'wait'), bullKey(r.prefix, q, 'prioritized'), fair, r.waitingKey ?? fair],
    args: [r.id, r.key, r.inc, r.band, r.waitingKey !== undefined ? 1 : 0, Date.now()],
  };
}

/** Queued after the job's add on the same MULTI (the script must be loaded: loadScripts). */
export function queueFairTag(multi: ChainableCommander, r: FairTagRequest): void {
  const { keys, args } = encode(r);
  scripts.fairTag.queue(multi, keys, args);
}

/** The tag given; -1 placed before; -2 not where a fresh add puts it (left as is). */
export async function fairTag(redis: Redis | Cluster, r: FairTagRequest): Promise<number> {
  const { keys, args } = encode(r);
  return Number(await scripts.fairTag.run(redis, keys, args));
}
