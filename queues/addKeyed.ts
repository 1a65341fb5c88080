// A keyed task with no priority added and placed in one script (addKeyed-13.lua):
// BullMQ's own add, as BullMQ built its keys and arguments, then the placing.
import type { Cluster, Redis } from 'ioredis';
import { bullKey, fairClocksKey, nodeQueueName } from './keys.ts';
import { scripts } from './scripts.ts';

/** BullMQ's addStandardJob takes 9 keys and 3 arguments. */
export const BULLMQ_ADD_ARITY = 12;

export interface AddKeyedRequest {
  prefix: string;
  node: string;
  id: string;
  key: string;
  /** The key's tag step (src/keys/fairOrder.ts). */
  inc: number;
  /** BullMQ's addStandardJob keys then arguments for this job, as BullMQ built them. */
  bullmq: readonly (string | number | Buffer)[];
  /** The key's waiting zset, recorded in the same script: only on one Redis (on a Cluster it is in another slot). */
  waitingKey?: string;
}

/** What the script did: the job id (or BullMQ's negative error code) and the tag (-1 added before, -2 left where the add put it). */
export interface AddKeyedReply {
  added: string | number;
  tag: number;
}

export async function addKeyed(redis: Redis | Cluster, r: AddKeyedRequest): Promise<AddKeyedReply> {
  if (r.bullmq.length !== BULLMQ_ADD_ARITY) throw new Error(`addKeyed takes BullMQ's ${BULLMQ_ADD_ARITY} keys and arguments, got ${r.bullmq.length}`);
  const q = nodeQueueName(r.node);
  const fair = fairClocksKey(r.prefix, r.node, 0);
  const keys = [...(r.bullmq.slice(0, 9) as string[]), bullKey(r.prefix, q, r.id), bullKey(r.prefix, q, 'prioritized'), fair, r.waitingKey ?? fair];
  const args = [...r.bullmq.slice(9), r.id, r.key, r.inc, r.waitingKey !== undefined ? 1 : 0, Date.now()];
  const reply = (await scripts.addKeyed.run(redis, keys, args)) as [string | number, number];
  return { added: reply[0], tag: Number(reply[1]) };
}
