// Adding a task that carries a key: BullMQ's add and the task's place in its
// node's fair order (fairTag-5.lua) in one MULTI on the node's slot, and the
// key's waiting record: on one Redis written by the placing itself, on a
// Cluster (the key's slot) sent beside it, so the submit is still one round
// trip. Used by the single submit and by a batch's fan-out.
import { Job, type JobsOptions, type Queue } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import { fairTag, queueFairTag, type FairTagRequest } from '../../queues/fairTag.ts';
import { keyStateKeys } from '../../queues/keys.ts';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { bandOf } from './fairOrder.ts';

/** A job to add with its key: where its tag goes, and the key's tag step. */
export interface KeyedJob {
  id: string;
  node: string;
  name: string;
  data: unknown;
  opts: JobsOptions;
  key: string;
  inc: number;
  /** The placing records it as waiting for its key too (one Redis: the key's slot and the node's on one server). */
  waitingInPlacing?: boolean;
}

export function fairRequest(prefix: string, j: KeyedJob): FairTagRequest {
  return { prefix, node: j.node, id: j.id, key: j.key, inc: j.inc, band: bandOf(j.opts.priority), ...(j.waitingInPlacing ? { waitingKey: keyStateKeys(prefix, j.key).waiting } : {}) };
}

/** Queues the job's add and its placing on `multi` (BullMQ's transaction); the replies are checked by `checkKeyedReplies`. */
export function queueKeyedAdd(multi: ChainableCommander, queue: Queue, prefix: string, j: KeyedJob): void {
  // Queued synchronously; the promise settles with the MULTI, whose replies are checked after.
  // BullMQ's transaction type is ioredis's MULTI under another name.
  new Job(queue, j.name, j.data, j.opts, j.id).addJob(multi as unknown as Parameters<Job['addJob']>[0]).catch(() => {});
  queueFairTag(multi, fairRequest(prefix, j));
}

/**
 * BullMQ's own add of the job, its command and keys and arguments as BullMQ
 * builds them, without sending it: so addKeyed-13.lua can run BullMQ's add and
 * the placing as one script (queues/addKeyed.ts). BullMQ's checks of the job's
 * options run as for any add (a bad option throws here).
 */
export function bullmqAddOf(queue: Queue, j: Pick<KeyedJob, 'id' | 'name' | 'data' | 'opts'>): { command: string; args: (string | number | Buffer)[] } | undefined {
  let captured: { command: string; args: (string | number | Buffer)[] } | undefined;
  // BullMQ hands its command to the client's runCommand; a recorder in its place keeps it.
  const recorder = {
    runCommand(command: string, args: (string | number | Buffer)[]) {
      captured = { command, args };
      return Promise.resolve(j.id);
    },
  };
  new Job(queue, j.name, j.data, j.opts, j.id).addJob(recorder as unknown as Parameters<Job['addJob']>[0]).catch(() => {});
  return captured;
}

/**
 * After the MULTI: a placing that could not run (its script not loaded after a
 * Redis restart or failover: a MULTI cannot fall back to EVAL) is run alone.
 * Returns the tag, or -1 when the job was there before.
 */
export async function settlePlacing(redis: RedisClient, prefix: string, j: KeyedJob, reply: [Error | null, unknown] | undefined): Promise<number> {
  if (reply && !reply[0]) return Number(reply[1]);
  if (reply?.[0] && !reply[0].message.includes('NOSCRIPT')) throw reply[0];
  // Alone it falls back to EVAL by itself (queues/scripts.ts).
  return await fairTag(redis, fairRequest(prefix, j));
}

/** Records the task as waiting for its key (what swarmq_key_waiting counts); sent before the MULTI's EXEC. */
export function noteWaiting(redis: RedisClient, prefix: string, key: string, id: string): Promise<unknown> {
  return redis.zadd(keyStateKeys(prefix, key).waiting, 'NX', Date.now(), id);
}

/** Many tasks of one key recorded as waiting in one command (a batch's fan-out). */
export function noteWaitingMany(redis: RedisClient, prefix: string, key: string, ids: readonly string[]): Promise<unknown> {
  const now = Date.now();
  return redis.zadd(keyStateKeys(prefix, key).waiting, 'NX', ...ids.flatMap((id) => [now, id]));
}

/** A task added before (its tag says so) may have started since: its waiting record is dropped rather than left for ever. */
export async function forgetWaiting(redis: RedisClient, prefix: string, key: string, id: string): Promise<void> {
  await redis.zrem(keyStateKeys(prefix, key).waiting, id);
}

/** A waiting task of the key was cancelled: it no longer counts as waiting, nor as held for a slot. */
export async function forgetCancelled(redis: RedisClient, prefix: string, key: string, node: string, id: string): Promise<void> {
  const k = keyStateKeys(prefix, key);
  await redis.multi().zrem(k.waiting, id).zrem(k.held, `${node}|${id}`).exec();
}

/** One add of the MULTI failed: BullMQ's error, or its negative code. */
export function failedAdd(reply: [Error | null, unknown] | undefined): Error | undefined {
  if (!reply) return new Error('the MULTI returned no reply for the add');
  if (reply[0]) return reply[0];
  if (typeof reply[1] === 'number' && reply[1] < 0) return new Error(`adding the job failed with BullMQ code ${reply[1]}`);
  return undefined;
}
