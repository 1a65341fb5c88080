// The imperative shell of `swarmq checkpoint`: one Lua script reads the swarm
// (queues/commands/readSwarm-0.lua, through queues/readSwarm.ts).
//
// Why one script: a checkpoint must be a single point in time. Read piece by
// piece, a task moving between two reads (a steal from n1 to n2, a parked task
// claimed for a node, a job going from wait to active) would be read twice or
// not at all, and the roster could name a node whose queue was read before it
// existed. A MULTI/EXEC cannot do it here because what to read next depends on
// what was read (the queues come from the node sequence, the job hashes from the
// lists); a script is atomic and can. Redis runs nothing else meanwhile, so the
// script's length is the pause every client sees: proportional to the unfinished
// tasks (and, with includeFinished, the finished ones kept).
//
// It computes key names from the prefix rather than taking them as KEYS, so it
// runs on a single Redis (or a Sentinel's primary). A Cluster, where a script may
// touch one slot only, is read slot by slot in an order that keeps the file
// whole (readCluster.ts says how, and what is weaker).
import { CONSENSUS_QUEUE, KEY_NAME, keyStateKeys, swarmKeys } from '../../queues/keys.ts';
import { readKeyList } from '../../queues/keyLimits.ts';
import { readKeyBudgetsJson } from '../../queues/budgetState.ts';
import { slotPipeline } from '../../queues/slotPipeline.ts';
import { isCluster, type RedisClient } from '../../queues/redisTarget.ts';
import { readSwarm } from '../../queues/readSwarm.ts';
import { serverOf } from '../../queues/serverOf.ts';
import { SwarmError } from '../errors.ts';
import { readClusterSnapshot, type AfterSlotRead } from './readCluster.ts';
import { consensusKeys } from '../consensus/runtime/keys.ts';
import { PROPOSAL_JOB } from './consensusSnapshot.ts';
import type { Checkpoint } from './format.ts';
import { snapshotToCheckpoint, type RawIdempotencyKey, type RawKeyState } from './snapshot.ts';

function readSwarmOnce(redis: RedisClient, prefix: string, includeFinished: boolean, afterSlotRead?: AfterSlotRead) {
  // The round keys' head from consensusKeys itself (`<head><round>:state`), so the script cannot drift from it.
  const roundKeyHead = consensusKeys(prefix).state('').replace(/:state$/, '');
  const consensus = { queue: CONSENSUS_QUEUE, proposalJobName: PROPOSAL_JOB, roundKeyHead };
  if (isCluster(redis)) return readClusterSnapshot(redis, { prefix, includeFinished, consensus, ...(afterSlotRead ? { afterSlotRead } : {}) });
  return readSwarm(redis, { prefix, includeFinished, consensus });
}

/** Every idempotency key of the swarm with the task it names and its PTTL, read with SCAN (never blocking Redis). */
async function readIdempotencyKeys(client: RedisClient, prefix: string): Promise<RawIdempotencyKey[]> {
  // The keys are all in the swarm's slot: on a Cluster, SCAN its master (a keyless SCAN would go to any one).
  const server = await serverOf(client, swarmKeys(prefix).nodeSeq);
  if (!server) throw new SwarmError('redis_unavailable', `no master serves swarm "${prefix}"'s slot right now (a failover under way?): try the checkpoint again`);
  const redis = server.redis;
  const out: RawIdempotencyKey[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', swarmKeys(prefix).idempotency('*'), 'COUNT', 1000);
    cursor = next;
    if (!keys.length) continue;
    const p = redis.pipeline();
    for (const k of keys) p.get(k).pttl(k);
    const res = (await p.exec()) ?? [];
    keys.forEach((key, i) => {
      const [gErr, taskId] = res[2 * i] ?? [null, null];
      const [tErr, pttl] = res[2 * i + 1] ?? [null, -2];
      if (gErr || tErr) throw gErr ?? tErr;
      out.push({ key, taskId: (taskId as string | null) ?? null, pttl: Number(pttl) });
    });
  } while (cursor !== '0');
  return out;
}

/**
 * Every key the swarm lists (a task carried it, it has limits or a budget) with
 * its own limits, budget and spent hashes, what its scripts enforce and count
 * (the swarm's lists are written after them, so they may lag by a write). Read
 * after the snapshot, as idempotency keys are: limits and budgets are settings,
 * not tasks, and need no point in time shared with them; spend only grows
 * within a period, so it is at least what it was when the tasks were read.
 */
async function readKeyHashes(redis: RedisClient, prefix: string): Promise<RawKeyState[]> {
  const [{ limits, names }, budgets] = await Promise.all([readKeyList(redis, prefix), readKeyBudgetsJson(redis, prefix)]);
  const keys = [...new Set([...names, ...Object.keys(limits), ...Object.keys(budgets)])].filter((k) => KEY_NAME.test(k));
  if (!keys.length) return [];
  const p = slotPipeline(redis);
  for (const k of keys) {
    const own = keyStateKeys(prefix, k);
    p.hgetall(own.limits).hgetall(own.budget).hgetall(own.spent);
  }
  const replies = (await p.exec()) ?? [];
  const hash = (i: number): Record<string, string> => {
    const [err, fields] = replies[i] ?? [new Error('no reply'), null];
    if (err) throw err;
    return (fields as Record<string, string> | null) ?? {};
  };
  return keys.map((key, i) => ({ key, limits: hash(3 * i), budget: hash(3 * i + 1), spent: hash(3 * i + 2) }));
}

export interface TakeCheckpointOptions {
  includeFinished?: boolean;
  /** On a Cluster, called after each slot's read (tests move tasks between the reads with it). */
  afterSlotRead?: AfterSlotRead;
}

/** Reads the swarm under `prefix` as one point in time and returns it as a checkpoint, with what could not be carried. */
export async function takeCheckpoint(redis: RedisClient, prefix: string, o: TakeCheckpointOptions = {}): Promise<{ checkpoint: Checkpoint; warnings: string[] }> {
  const includeFinished = o.includeFinished ?? false;
  const raw = await readSwarmOnce(redis, prefix, includeFinished, o.afterSlotRead);
  const idem = await readIdempotencyKeys(redis, prefix);
  const keys = await readKeyHashes(redis, prefix);
  return snapshotToCheckpoint(raw, idem, { prefix, includeFinished, keys });
}
