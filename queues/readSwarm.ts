// Everything a checkpoint carries, read in one atomic step (see readSwarm-0.lua),
// as typed raw values: no decoding of records or jobs (that is the checkpoint's
// pure core, src/checkpoint/snapshot.ts).
import type { Redis } from 'ioredis';
import { DEAD_LETTER_QUEUE, INTAKE_QUEUE, nodeQueueName, PARKED_NODE, SLOT_GROUP_SIZE } from './keys.ts';
import { scripts } from './scripts.ts';

export interface RawQueue {
  name: string;
  /** The queue's meta says paused. */
  paused: boolean;
  /** Lists as LRANGE gives them (head first: the newest). */
  wait: string[];
  active: string[];
  /** BullMQ's legacy paused list. */
  pausedList: string[];
  /** In priority order. */
  prioritized: string[];
  /** [id, score] in score order; a delayed score is (due ms) × 4096 + a counter. */
  delayed: [string, string][];
  /** [id, finishedOn] (read only when finished tasks are asked for). */
  completed: [string, string][];
  failed: [string, string][];
  /** Parked tasks claimed for a node but not yet dropped from the parked queue (the parked queue only). */
  unparking: string[];
  /** Job hashes by id (missing: listed but no hash). */
  jobs: Map<string, Record<string, string>>;
  /** Intake jobs whose routing chose a task id already: jobId → { taskId, pttl }. */
  intakeTasks: Map<string, { taskId: string; pttl: number }>;
}

export interface RawGroup {
  group: string;
  moved: Record<string, string>;
  cancelled: Record<string, string>;
  /** Tasks claimed to leave for a node of another group (task id → claim JSON, crossMove.ts): in no queue of this group any more, perhaps not yet in their target's. */
  moving: Record<string, string>;
}

export interface RawRoundHash {
  fields: Record<string, string>;
  /** PTTL: -1 no expiry, -2 no such key. */
  pttl: number;
}

export interface RawConsensus {
  queue: RawQueue;
  /** Jobs waiting for their children: replicated tasks whose replicas are still running. */
  waitingChildren: string[];
  /** The round hashes of every proposal job read (not of replicated tasks). */
  rounds: { round: string; state: RawRoundHash; decided: RawRoundHash; rejected: RawRoundHash }[];
}

/** A task of a batch still being fanned out: its id and what is staged for it (JSON, src/coordinator/stagedBatch.ts). */
export interface RawStaged {
  id: string;
  json: string;
}

export interface RawSnapshot {
  /** Redis TIME, in ms (on a Cluster, the swarm slot's master's when its read began). */
  time: number;
  /**
   * `atomic`: one script read everything (one server). `per-slot`: one read per
   * hash slot, in the order src/checkpoint/readCluster.ts gives, so a task may be
   * seen both where it came from and where it went (the core keeps it once).
   */
  cut: 'atomic' | 'per-slot';
  /** Staged tasks of batches not yet known to be fanned out (src/coordinator/stagedBatch.ts): acknowledged, perhaps in no queue yet. */
  staged: RawStaged[];
  nodeSeq: number;
  agents: Record<string, string>;
  nodes: Record<string, string>;
  groups: RawGroup[];
  queues: RawQueue[];
  consensus: RawConsensus;
}

export interface ReadSwarmRequest {
  prefix: string;
  /** Completed and failed jobs too. */
  includeFinished: boolean;
  /** Where the consensus runtime keeps its proposals (the engine's names, passed in: queues/ knows nothing of consensus). */
  consensus: {
    queue: string;
    /** A proposal's job name there (other jobs are replicated tasks' parents). */
    proposalJobName: string;
    /** The round keys' head: a round's hashes are `<head><round>:state`, `:decided`, `:rejected`. */
    roundKeyHead: string;
  };
}

export async function readSwarm(redis: Redis, r: ReadSwarmRequest): Promise<RawSnapshot> {
  const args = [
    r.prefix, SLOT_GROUP_SIZE, r.includeFinished ? '1' : '0', nodeQueueName(PARKED_NODE), INTAKE_QUEUE,
    r.consensus.queue, r.consensus.proposalJobName, r.consensus.roundKeyHead, DEAD_LETTER_QUEUE,
  ];
  return parseReadSwarm(await scripts.readSwarm.run(redis, [], args));
}

export const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
export const flatHash = (v: unknown): Record<string, string> => {
  const a = strings(v);
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < a.length; i += 2) h[a[i]!] = a[i + 1]!;
  return h;
};
const pairs = (v: unknown): [string, string][] => {
  const a = strings(v);
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < a.length; i += 2) out.push([a[i]!, a[i + 1]!]);
  return out;
};

export function parseQueue(q: unknown): RawQueue {
  const [name, paused, wait, active, pausedList, prioritized, delayed, completed, failed, unparking, jobs, intake] = q as unknown[];
  const jobMap = new Map<string, Record<string, string>>();
  const flatJobs = Array.isArray(jobs) ? jobs : [];
  for (let i = 0; i + 1 < flatJobs.length; i += 2) jobMap.set(String(flatJobs[i]), flatHash(flatJobs[i + 1]));
  const intakeTasks = new Map<string, { taskId: string; pttl: number }>();
  const flatIntake = Array.isArray(intake) ? intake : [];
  for (let i = 0; i + 2 < flatIntake.length; i += 3) intakeTasks.set(String(flatIntake[i]), { taskId: String(flatIntake[i + 1]), pttl: Number(flatIntake[i + 2]) });
  return {
    name: String(name),
    paused: Number(paused) === 1,
    wait: strings(wait),
    active: strings(active),
    pausedList: strings(pausedList),
    prioritized: strings(prioritized),
    delayed: pairs(delayed),
    completed: pairs(completed),
    failed: pairs(failed),
    unparking: strings(unparking),
    jobs: jobMap,
    intakeTasks,
  };
}

export function parseConsensus(c: unknown): RawConsensus {
  const [queue, waitingChildren, rounds] = c as [unknown, unknown, unknown[]];
  return {
    queue: parseQueue(queue),
    waitingChildren: strings(waitingChildren),
    rounds: (rounds ?? []).map((r) => {
      const [round, state, statePttl, decided, decidedPttl, rejected, rejectedPttl] = r as unknown[];
      const hash = (fields: unknown, pttl: unknown) => ({ fields: flatHash(fields), pttl: Number(pttl) });
      return { round: String(round), state: hash(state, statePttl), decided: hash(decided, decidedPttl), rejected: hash(rejected, rejectedPttl) };
    }),
  };
}

/** A flat HGETALL of the staged tasks' hash as its entries. */
export function stagedOf(flat: unknown): RawStaged[] {
  return Object.entries(flatHash(flat)).map(([id, json]) => ({ id, json }));
}

/** The script's reply as typed raw values. */
export function parseReadSwarm(reply: unknown): RawSnapshot {
  const [time, nodeSeq, agents, nodes, groups, queues, consensus, staged] = reply as [unknown, unknown, unknown, unknown, unknown[], unknown[], unknown, unknown];
  const [sec, usec] = strings(time);
  const rawGroups: RawGroup[] = (groups ?? []).map((g) => {
    const [name, moved, cancelled, moving] = g as [unknown, unknown, unknown, unknown];
    return { group: String(name), moved: flatHash(moved), cancelled: flatHash(cancelled), moving: flatHash(moving) };
  });
  return {
    time: Number(sec) * 1000 + Math.floor(Number(usec) / 1000),
    cut: 'atomic',
    staged: stagedOf(staged),
    nodeSeq: Number(nodeSeq) || 0,
    agents: flatHash(agents),
    nodes: flatHash(nodes),
    groups: rawGroups,
    queues: (queues ?? []).map(parseQueue),
    consensus: parseConsensus(consensus),
  };
}
