// A counter raised to at least a value, never lowered (see raiseCounter-1.lua).
import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { bullKey, swarmKeys } from './keys.ts';
import { scripts } from './scripts.ts';

/** nodes: the node sequence (node ids n<seq>); jobs: a queue's job id counter (BullMQ's numeric ids). */
export type Counter = { of: 'nodes' } | { of: 'jobs'; queue: string };

export interface RaiseCounterRequest {
  prefix: string;
  counter: Counter;
  atLeast: number;
}

function encode(r: RaiseCounterRequest): { keys: string[]; args: number[] } {
  const key = r.counter.of === 'nodes' ? swarmKeys(r.prefix).nodeSeq : bullKey(r.prefix, r.counter.queue, 'id');
  return { keys: [key], args: [r.atLeast] };
}

export async function raiseCounter(redis: Redis | Cluster, r: RaiseCounterRequest): Promise<void> {
  const { keys, args } = encode(r);
  await scripts.raiseCounter.run(redis, keys, args);
}

/** The same on a MULTI, sent with its text (EVAL): a script missing inside a MULTI could not be retried. */
export function queueRaiseCounter(multi: ChainableCommander, r: RaiseCounterRequest): void {
  const { keys, args } = encode(r);
  scripts.raiseCounter.queueWithText(multi, keys, args);
}
