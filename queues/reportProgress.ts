// A running task's latest progress, written by the holder of its lock (see reportProgress-4.lua).
import type { Cluster, Redis } from 'ioredis';
import { bullKey } from './keys.ts';
import { scripts } from './scripts.ts';

export interface ProgressReport {
  prefix: string;
  /** The BullMQ queue the job is in (a node's queue). */
  queue: string;
  id: string;
  /** The job's lock token, as the Worker handed it to the processor. */
  token: string;
  /** The value, already encoded as JSON (src/tasks/progress.ts). */
  json: string;
}

/** recorded; gone: no such job any more; not-holder: the lock is another's (or expired). */
export type ProgressResult = 'recorded' | 'gone' | 'not-holder';

export async function reportProgress(redis: Redis | Cluster, r: ProgressReport): Promise<ProgressResult> {
  const k = (s: string) => bullKey(r.prefix, r.queue, s);
  const res = Number(await scripts.reportProgress.run(redis, [k(r.id), k(`${r.id}:lock`), k('events'), k('meta')], [r.id, r.token, r.json]));
  return res === 0 ? 'recorded' : res === -1 ? 'gone' : 'not-holder';
}
