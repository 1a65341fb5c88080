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
// runs on a single Redis (as the coordinator, hosts and client do today), not
// across a Cluster's slots.
import type { Redis } from 'ioredis';
import { CONSENSUS_QUEUE, swarmKeys } from '../../queues/keys.ts';
import { readSwarm } from '../../queues/readSwarm.ts';
import { consensusKeys } from '../consensus/runtime/keys.ts';
import { PROPOSAL_JOB } from './consensusSnapshot.ts';
import type { Checkpoint } from './format.ts';
import { snapshotToCheckpoint, type RawIdempotencyKey } from './snapshot.ts';

function readSwarmOnce(redis: Redis, prefix: string, includeFinished: boolean) {
  // The round keys' head from consensusKeys itself (`<head><round>:state`), so the script cannot drift from it.
  const roundKeyHead = consensusKeys(prefix).state('').replace(/:state$/, '');
  return readSwarm(redis, { prefix, includeFinished, consensus: { queue: CONSENSUS_QUEUE, proposalJobName: PROPOSAL_JOB, roundKeyHead } });
}

/** Every idempotency key of the swarm with the task it names and its PTTL, read with SCAN (never blocking Redis). */
async function readIdempotencyKeys(redis: Redis, prefix: string): Promise<RawIdempotencyKey[]> {
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

export interface TakeCheckpointOptions {
  includeFinished?: boolean;
}

/** Reads the swarm under `prefix` as one point in time and returns it as a checkpoint, with what could not be carried. */
export async function takeCheckpoint(redis: Redis, prefix: string, o: TakeCheckpointOptions = {}): Promise<{ checkpoint: Checkpoint; warnings: string[] }> {
  const includeFinished = o.includeFinished ?? false;
  const raw = await readSwarmOnce(redis, prefix, includeFinished);
  const idem = await readIdempotencyKeys(redis, prefix);
  return snapshotToCheckpoint(raw, idem, { prefix, includeFinished });
}
