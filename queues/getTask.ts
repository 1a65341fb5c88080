// A task's job hash and its state, read in one step (see getTask-9.lua).
import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { bullKey, nodeQueueName } from './keys.ts';
import { scripts } from './scripts.ts';

export interface GetTaskRequest {
  prefix: string;
  /** The node whose queue to read. */
  node: string;
  id: string;
}

/** Where BullMQ holds the job; unknown: its hash exists but no list or set names it (between two steps of a script elsewhere). */
export type JobState = 'completed' | 'failed' | 'delayed' | 'waiting' | 'active' | 'unknown';

export interface TaskJob {
  state: JobState;
  /** The job hash, field → value. */
  hash: Record<string, string>;
}

const STATES: ReadonlySet<string> = new Set<JobState>(['completed', 'failed', 'delayed', 'waiting', 'active', 'unknown']);

function encode(r: GetTaskRequest): { keys: string[]; args: string[] } {
  const k = (s: string) => bullKey(r.prefix, nodeQueueName(r.node), s);
  return { keys: [k(r.id), k('wait'), k('active'), k('paused'), k('prioritized'), k('delayed'), k('completed'), k('failed'), k('waiting-children')], args: [r.id] };
}

/** The job, or null when the node's queue has no job of that id. */
export async function getTask(redis: Redis | Cluster, r: GetTaskRequest): Promise<TaskJob | null> {
  const { keys, args } = encode(r);
  return parseTaskJob(await scripts.getTask.run(redis, keys, args));
}

/** The same read queued on a pipeline (scripts loaded: see loadScripts); parse its reply with parseTaskJob. */
export function queueGetTask(pipeline: ChainableCommander, r: GetTaskRequest): void {
  const { keys, args } = encode(r);
  scripts.getTask.queue(pipeline, keys, args);
}

/** The script's reply: nil, or { state, field, value, … }. */
export function parseTaskJob(reply: unknown): TaskJob | null {
  if (!Array.isArray(reply) || reply.length === 0) return null;
  const [state, ...flat] = reply.map(String);
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!;
  return { state: STATES.has(state!) ? (state as JobState) : 'unknown', hash };
}
