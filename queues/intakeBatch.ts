// The intake queue taken and finished in batches (takeIntake-11.lua,
// finishIntake-15.lua, intakeStalled-9.lua): BullMQ's own moveToActive,
// moveToFinished and stalled check, run for many jobs in one command each
// instead of a Worker's round trip per job. The jobs go through the states a
// Worker gives them (active and locked, then completed or failed), so
// producers, QueueEvents and Bull Board see what they always saw.
import { Job, raw2NextJobData, type Queue } from 'bullmq';
import type { RedisClient } from './redisTarget.ts';
import { scripts } from './scripts.ts';

export interface TakenIntake {
  jobs: Job[];
  /** BullMQ's: when the queue's rate limit lets the next job go (0: not limited). */
  limitUntil: number;
  /** BullMQ's: when its next delayed job is due (0: none), once the queue had no more to give. */
  delayUntil: number;
}

export interface TakeIntakeRequest {
  token: string;
  lockMs: number;
  /** The taker's name, recorded on each job as a Worker's is. */
  name: string;
  max: number;
}

/** BullMQ's moveToActive keys of `queue` (its RedisQueueBackend builds the same). */
function moveToActiveKeys(queue: Queue): string[] {
  const k = queue.keys;
  return [k.wait, k.active, k.prioritized, k.events, k.stalled, k.limiter, k.delayed, k.paused, k.meta, k.pc, k.marker].map(String);
}

export async function takeIntake(redis: RedisClient, queue: Queue, r: TakeIntakeRequest): Promise<TakenIntake> {
  const reply = (await scripts.takeIntake.run(redis, moveToActiveKeys(queue), [queue.keys[''] ?? '', Date.now(), r.token, r.lockMs, r.name, r.max])) as unknown[];
  const jobs: Job[] = [];
  for (let i = 0; i + 3 < reply.length; i += 2) {
    // Decoded as BullMQ decodes its own moveToActive's reply (raw2NextJobData: typed any[] by BullMQ).
    const [json, id] = raw2NextJobData([reply[i], reply[i + 1]]) as [Parameters<typeof Job.fromJSON>[1], string];
    jobs.push(Job.fromJSON(queue, json, String(id)));
  }
  return { jobs, limitUntil: Number(reply[reply.length - 2] ?? 0), delayUntil: Number(reply[reply.length - 1] ?? 0) };
}

export type IntakeOutcome = { completed: unknown } | { failed: string };

export interface IntakeFinish {
  job: Job;
  token: string;
  outcome: IntakeOutcome;
}

/** The part of BullMQ's Redis backend that builds a finish's keys and arguments (protected in its typings). */
interface FinishArgsBuilder {
  moveToCompletedArgs(job: Job, returnvalue: string, removeOnComplete: unknown, token: string, fetchNext: boolean): unknown[];
  moveToFailedArgs(job: Job, failedReason: string, removeOnFail: unknown, token: string, fetchNext: boolean): unknown[];
}

const FINISH_KEYS = 14;
const FINISH_ARGS = 8;

/** finishIntake-15's and landIntake-15's keys: BullMQ's finishing keys of the intake queue, both outcomes'. */
function finishKeys(queue: Queue): string[] {
  const k = queue.keys;
  return [k.wait, k.active, k.prioritized, k.events, k.stalled, k.limiter, k.delayed, k.paused, k.meta, k.pc, k.completed, k.failed, queue.toKey('metrics:completed'), queue.toKey('metrics:failed'), k.marker].map(String);
}

/** BullMQ's moveToFinished arguments 1–8 for finishing `job` so, as BullMQ's own builder makes them (includes/finishIntakeJob.lua takes them). */
function finishArgsOf(queue: Queue, job: Job, outcome: IntakeOutcome, token: string): (string | number | Buffer)[] {
  const builder = (queue as unknown as { backend: FinishArgsBuilder }).backend;
  const built =
    'completed' in outcome
      ? builder.moveToCompletedArgs(job, JSON.stringify(outcome.completed) ?? 'null', job.opts.removeOnComplete, token, false)
      : builder.moveToFailedArgs(job, outcome.failed, job.opts.removeOnFail, token, false);
  return built.slice(FINISH_KEYS, FINISH_KEYS + FINISH_ARGS) as (string | number | Buffer)[];
}

/**
 * Finishes taken intake jobs in one command: each completed with its value or
 * failed with its reason, with the arguments BullMQ's own builder makes for
 * it. Returns BullMQ's code per job: 0 done, negative when the job is not
 * this token's any more (its lock lapsed and another taker has it).
 */
export async function finishIntake(redis: RedisClient, queue: Queue, finishes: readonly IntakeFinish[]): Promise<number[]> {
  if (finishes.length === 0) return [];
  const args: (string | number | Buffer)[] = [queue.keys[''] ?? ''];
  for (const f of finishes) args.push(...finishArgsOf(queue, f.job, f.outcome, f.token));
  const codes = (await scripts.finishIntake.run(redis, finishKeys(queue), args)) as number[];
  return codes.map(Number);
}

/** BullMQ's adds the landing runs, by the names BullMQ's builder gives them. */
export const LANDING_ADDS = ['addStandardJob', 'addPrioritizedJob'] as const;
/** BullMQ's adds take 9 keys and 3 arguments. */
const ADD_ARITY = 12;

export interface IntakeLanding {
  job: Job;
  /** The task's `{ id, node }`, the intake job's return value. */
  completed: unknown;
  /** BullMQ's add of the task, built and not sent (one of LANDING_ADDS). */
  add: { command: string; args: readonly (string | number | Buffer)[] };
  /** The task's id (recorded if its job could not be completed, so a taker again routes it to this task). */
  taskId: string;
}

/** What landing a job did: done, its task id recorded by an earlier taker (route it step by step), or not this token's. */
export type LandingCode = 'landed' | 'recorded' | 'not-ours' | number;

/**
 * On one Redis: each job's task added and the job completed in one step for
 * the batch (landIntake-15.lua), both or neither per job. `records` says
 * where the swarm's intake records are (a job routed step by step before) and
 * how long one written here is kept.
 */
export async function landIntake(redis: RedisClient, queue: Queue, token: string, records: { prefix: string; keepSeconds: number }, lands: readonly IntakeLanding[]): Promise<LandingCode[]> {
  if (lands.length === 0) return [];
  const args: (string | number | Buffer)[] = [queue.keys[''] ?? '', token, records.prefix, records.keepSeconds];
  for (const l of lands) {
    if (l.add.args.length !== ADD_ARITY || !(LANDING_ADDS as readonly string[]).includes(l.add.command)) throw new Error(`landIntake runs BullMQ's ${LANDING_ADDS.join(' or ')} with ${ADD_ARITY} keys and arguments, got ${l.add.command} with ${l.add.args.length}`);
    args.push(...finishArgsOf(queue, l.job, { completed: l.completed }, token), l.add.command, ...l.add.args, l.taskId);
  }
  const codes = (await scripts.landIntake.run(redis, finishKeys(queue), args)) as number[];
  return codes.map((c) => (c === 0 ? 'landed' : c === -100 ? 'recorded' : c === -6 ? 'not-ours' : Number(c)));
}

/** BullMQ's stalled check of the intake queue, as its Workers run it every stalledIntervalMs; returns the ids moved back to waiting. */
export async function checkIntakeStalled(redis: RedisClient, queue: Queue, o: { maxStalledCount: number; stalledIntervalMs: number }): Promise<string[]> {
  const k = queue.keys;
  const keys = [k.stalled, k.wait, k.active, k['stalled-check'], k.meta, k.paused, k.marker, k.events, k.repeat].map(String);
  return ((await scripts.intakeStalled.run(redis, keys, [o.maxStalledCount, queue.keys[''] ?? '', Date.now(), o.stalledIntervalMs])) as unknown[]).map(String);
}
