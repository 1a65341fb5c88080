// The imperative shell of `swarmq restore`: refuses a prefix that holds keys
// (unless forced), then carries out the plan: the roster and group records in
// one MULTI (one per hash slot on a Cluster), then each queue's tasks with
// BullMQ's own Queue.add under their ids, then the consensus section
// (restoreConsensus, below).
//
// A restore is many writes, so it can stop half-way (Redis lost, the process
// killed). It marks the swarm `restoring` before its first write and clears the
// mark after its last: a later restore without --force names the mark and says
// to run it again with --force, which finishes it, since every write is one a
// re-run may repeat (roster entries are set again to the same value, a task or
// round already there is kept, an idempotency key is set only if missing, a
// key's limits and budget are set again to the file's, its spend raised to the
// file's at most, never added twice).
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { isCluster, type RedisClient } from '../../queues/redisTarget.ts';
import { slotMulti, type SlotMulti } from '../../queues/slotMulti.ts';
import { SwarmError } from '../errors.ts';
import { bullKey, swarmKeys } from '../../queues/keys.ts';
import { queueFairTag } from '../../queues/fairTag.ts';
import { writeKeyLimits } from '../../queues/keyLimits.ts';
import { restoreKeyBudget } from '../../queues/budgetState.ts';
import { queueRaiseCounter, raiseCounter } from '../../queues/raiseCounter.ts';
import { scripts } from '../../queues/scripts.ts';
import { assertCheckpoint, type Checkpoint } from './format.ts';
import type { ConsensusSection } from './consensusFormat.ts';
import { planConsensus } from './consensusSnapshot.ts';
import { planRestore, type PlannedJob, type PlannedQueue, type RestoreCounts, type RestorePlan } from './plan.ts';

export interface RestoreOptions {
  /** Write into a prefix that already holds keys: roster entries are overwritten, tasks already there are kept as they are. */
  force?: boolean;
  /** The clock for remaining delays (default Date.now()). */
  now?: number;
}

export interface RestoreReport extends RestoreCounts {
  /** Keys' carried spend, by what the restore did with it (restoreBudget-3.lua, on the target's clock). */
  spend: SpendReport;
  /** The consensus section: proposals and rounds written, and those left as they were in the target (with force). */
  consensus: ConsensusRestoreReport;
  /** Unfinished tasks not added because a job with their id was in the target already (with force). */
  skipped: number;
  /** Finished tasks not written for the same reason. */
  skippedFinished: number;
  /** Renamed tasks: old id → new id. */
  renamedIds: Record<string, string>;
}

export interface ConsensusRestoreReport {
  /** Unfinished proposals added (as waiting). */
  proposals: number;
  /** Completed and failed proposals written (includeFinished). */
  finishedProposals: number;
  /** Rounds whose hashes were written. */
  rounds: number;
  /** Proposals already in the target (with force): left as they were. */
  skipped: number;
  /** Rounds left as they were because the target had their proposal or one of their hashes. */
  skippedRounds: number;
}

/** Keys whose spend was written into an empty hash, raised in one of this period (never lowered), or dropped as of a period that has ended. */
export interface SpendReport {
  restored: number;
  merged: number;
  stale: number;
}

const ADD_CHUNK = 500;

/** The first key under `<prefix>:` (SCAN, so a big Redis is never blocked; every master of a Cluster), or null. */
export async function firstKeyUnder(client: RedisClient, prefix: string): Promise<string | null> {
  const servers = isCluster(client) ? client.nodes('master') : [client];
  for (const redis of servers) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) return keys[0]!;
      cursor = next;
    } while (cursor !== '0');
  }
  return null;
}

async function execSlots(m: SlotMulti, what: string): Promise<void> {
  try {
    await m.exec(what);
  } catch (err) {
    throw new SwarmError('internal', (err as Error).message);
  }
}

async function exec(m: ReturnType<RedisClient['multi']>, what: string): Promise<unknown[]> {
  const res = await m.exec();
  if (!res) throw new SwarmError('internal', `${what}: the transaction was aborted`);
  const err = res.find(([e]) => e)?.[0];
  if (err) throw new SwarmError('internal', `${what}: ${err.message}`);
  return res.map(([, v]) => v);
}

/**
 * Keys' limits, budgets and spend, before any task: a task may start the
 * moment its queue resumes, and must find its key's limits and budget, and the
 * spend already counted against it, there. Each key's own slot first, then the
 * swarm's list (writeKeyLimits, restoreKeyBudget). Every key listed, so GET
 * /api/keys shows the keys the restored tasks wait for.
 */
async function writeKeys(redis: RedisClient, prefix: string, plan: RestorePlan): Promise<SpendReport> {
  for (const l of plan.keys.limits) await writeKeyLimits(redis, { prefix, key: l.key, fields: l.fields, json: l.json });
  const spend: SpendReport = { restored: 0, merged: 0, stale: 0 };
  for (const b of plan.keys.budgets) {
    const done = await restoreKeyBudget(redis, { prefix, ...b });
    if (done.verdict !== 'none') spend[done.verdict]++;
  }
  if (plan.keys.names.length) await redis.sadd(plan.keys.namesKey, ...plan.keys.names);
  // Keyed tasks are placed in their node's fair order in the MULTI that writes their fields: its script must be loaded.
  if (plan.queues.some((q) => q.jobs.some((j) => j.keyed))) await scripts.fairTag.load(redis);
  return spend;
}

async function writeRoster(redis: RedisClient, prefix: string, plan: RestorePlan): Promise<void> {
  const { roster } = plan;
  // The swarm's slot first (its MULTI is sent first on a Cluster), then each group's.
  const m = slotMulti(redis);
  m.add(roster.agentsKey, (t) => {
    if (roster.agents.length) t.hset(roster.agentsKey, ...roster.agents.flat());
    if (roster.nodes.length) t.hset(roster.nodesKey, ...roster.nodes.flat());
    queueRaiseCounter(t, { prefix, counter: { of: 'nodes' }, atLeast: roster.nodeSeq });
    // Routers re-read the roster when its version moves.
    t.incr(roster.rosterVersionKey);
  });
  // NX: with --force, a key claimed in the target since stays as it is.
  for (const i of plan.idempotency) {
    m.add(i.key, (t) => (i.ttlMs === null ? t.set(i.key, i.taskId, 'NX') : t.set(i.key, i.taskId, 'PX', i.ttlMs, 'NX')));
  }
  for (const g of plan.groups) {
    if (g.moved.length) m.add(g.movedKey, (t) => t.hset(g.movedKey, ...g.moved.flat()));
    if (g.cancelled.length) m.add(g.cancelledKey, (t) => t.hset(g.cancelledKey, ...g.cancelled.flat()));
  }
  await execSlots(m, 'writing the roster');
}

/** What a queue's restore reports back. */
type QueueRestoreReport = Pick<RestoreReport, 'skipped' | 'skippedFinished' | 'renamedIds'>;

async function restoreQueue(redis: RedisClient, prefix: string, pq: PlannedQueue, report: QueueRestoreReport): Promise<void> {
  if (!pq.jobs.length && !pq.finished.length && !pq.paused) return; // nothing to write: leave no keys behind
  const queue = new Queue(pq.name, { connection: redis, prefix });
  queue.on('error', () => {});
  // Paused while its tasks go in, so no worker takes one before its attempt
  // counters are written (BullMQ's add cannot set them).
  const wasPaused = await queue.isPaused();
  if (!wasPaused) await queue.pause();
  try {
    const key = (id: string) => bullKey(prefix, pq.name, id);
    if (pq.idFloor > 0) await raiseCounter(redis, { prefix, counter: { of: 'jobs', queue: pq.name }, atLeast: pq.idFloor });

    // Finished tasks (includeFinished): their hash as it was, in the completed or failed set.
    if (pq.finished.length) {
      const exists = await existing(redis, pq.finished.map((f) => key(f.id)));
      const m = redis.multi();
      for (const [i, f] of pq.finished.entries()) {
        if (exists[i]) {
          report.skippedFinished++;
          continue;
        }
        m.hset(key(f.id), f.hash).zadd(key(f.state), f.finishedOn, f.id);
      }
      await exec(m, `restoring finished tasks of ${pq.name}`);
    }

    // Unfinished tasks, in the order the queue would have handed them out.
    const kept = pq.jobs.filter((j) => !j.renamed);
    const exists = await existing(redis, kept.map((j) => key(j.id)));
    const already = new Set(kept.filter((_, i) => exists[i]).map((j) => j.id));
    const toAdd = pq.jobs.filter((j) => j.renamed || !already.has(j.id));
    report.skipped += pq.jobs.length - toAdd.length;
    for (let i = 0; i < toAdd.length; i += ADD_CHUNK) {
      const chunk = toAdd.slice(i, i + ADD_CHUNK);
      const added = await queue.addBulk(chunk.map((j) => ({ name: j.name, data: j.data, opts: j.opts })));
      // The queue's slot and, for intake jobs, the swarm's (one MULTI each on a Cluster).
      const m = slotMulti(redis);
      // Each key's waiting records, by submit time: written after the add, while the queue is paused, so no host admits one first.
      const waiting = new Map<string, (string | number)[]>();
      chunk.forEach((j: PlannedJob, n) => {
        const id = added[n]?.id;
        if (!id) throw new SwarmError('internal', `BullMQ gave no id for task ${j.id} in ${pq.name}`);
        if (j.renamed) report.renamedIds[j.id] = id;
        if (Object.keys(j.fields).length) m.add(key(id), (t) => t.hset(key(id), j.fields));
        const keyed = j.keyed;
        if (keyed) {
          // After its fields (which leave the key field out): the script takes a job with one for placed already.
          m.add(key(id), (t) => queueFairTag(t, keyed.fair));
          if (keyed.waiting) waiting.set(keyed.waitingKey, [...(waiting.get(keyed.waitingKey) ?? []), j.opts.timestamp ?? Date.now(), id]);
        }
        const a = j.awaitingApproval;
        if (a) m.add(a.indexKey, (t) => t.zadd(a.indexKey, a.deadline, a.member));
        const intake = j.intakeTask;
        if (intake) {
          // The intake drain reuses this task id when it takes the job again (SET NX GET), so the task is not made twice.
          const k = swarmKeys(prefix).intakeTask(id);
          m.add(k, (t) => (intake.ttlMs === null ? t.set(k, intake.taskId) : t.set(k, intake.taskId, 'PX', intake.ttlMs)));
        }
      });
      for (const [k, entries] of waiting) m.add(k, (t) => t.zadd(k, 'NX', ...entries));
      if (m.size) await execSlots(m, `writing attempt counters, keys and approvals in ${pq.name}`);
    }
  } finally {
    if (!wasPaused && !pq.paused) await queue.resume();
    await queue.close();
  }
}

async function existing(redis: RedisClient, keys: string[]): Promise<boolean[]> {
  if (!keys.length) return [];
  const p = redis.pipeline();
  for (const k of keys) p.exists(k);
  const res = (await p.exec()) ?? [];
  return res.map(([e, v]) => {
    if (e) throw e;
    return Number(v) === 1;
  });
}

/**
 * The consensus section: round hashes first, so a driver that takes a proposal
 * the moment it is added already finds its round's persisted state, and hosts
 * resume the round from it instead of starting it afresh; then the proposals.
 */
async function restoreConsensus(redis: RedisClient, prefix: string, c: ConsensusSection): Promise<ConsensusRestoreReport> {
  const plan = planConsensus(c, prefix);
  // With force, a round whose proposal or any hash is in the target is that very
  // round (ids are random), perhaps further on there: it is never written over,
  // since moving a core's persisted state back could let its agent vote twice.
  const exists = await existing(redis, plan.rounds.flatMap((r) => [r.jobKey, ...r.hashes.map((h) => h.key)]));
  const m = redis.multi();
  let at = 0;
  let rounds = 0;
  let skippedRounds = 0;
  for (const r of plan.rounds) {
    const n = 1 + r.hashes.length;
    const there = exists.slice(at, at + n).some(Boolean);
    at += n;
    if (there) {
      skippedRounds++;
      continue;
    }
    for (const h of r.hashes) {
      m.hset(h.key, h.fields);
      if (h.ttlMs !== null) m.pexpire(h.key, h.ttlMs);
    }
    rounds++;
  }
  if (rounds) await exec(m, 'writing consensus rounds');
  const q: QueueRestoreReport = { skipped: 0, skippedFinished: 0, renamedIds: {} };
  await restoreQueue(redis, prefix, plan.queue, q);
  return { proposals: plan.queue.jobs.length - q.skipped, finishedProposals: plan.queue.finished.length - q.skippedFinished, rounds, skipped: q.skipped + q.skippedFinished, skippedRounds };
}

/**
 * Rebuilds the swarm of a checkpoint under `prefix`: the roster first (so hosts
 * starting again with their old --host-id take their old seats, in the nodes
 * whose queues get the tasks), then every queue's tasks, then the proposals and
 * their rounds.
 */
export async function restoreCheckpoint(redis: RedisClient, prefix: string, cp: Checkpoint, o: RestoreOptions = {}): Promise<RestoreReport> {
  // A file was checked when read; a checkpoint made in code is checked here, before anything is written.
  assertCheckpoint(cp);
  const restoring = swarmKeys(prefix).restoring;
  if (!o.force) {
    const key = await firstKeyUnder(redis, prefix);
    const half = key ? await redis.get(restoring) : null;
    if (half !== null) {
      throw new SwarmError(
        'conflict',
        `swarm "${prefix}" was restored only in part (a restore ${half} stopped before its end): run the same restore again with --force to finish it (what is there already is kept, the rest is added), or restore into an empty prefix`,
        [{ path: 'prefix', message: `${restoring} is set` }],
      );
    }
    if (key) {
      throw new SwarmError(
        'conflict',
        `the target Redis already holds keys of swarm "${prefix}" (${key}, …): restore into an empty prefix (another --prefix, or an empty Redis), or pass --force to merge into it`,
        [{ path: 'prefix', message: `keys exist under ${prefix}:` }],
      );
    }
  }
  const plan = planRestore(cp, prefix, o.now ?? Date.now());
  const report: Omit<RestoreReport, 'consensus' | 'spend'> = { ...plan.counts, skipped: 0, skippedFinished: 0, renamedIds: {} };
  // Kept (not overwritten) by a re-run, so the mark names the first attempt.
  await redis.set(restoring, `of a checkpoint taken ${new Date(cp.createdAt).toISOString()} of "${cp.prefix}", begun ${new Date().toISOString()},`, 'NX');
  await writeRoster(redis, prefix, plan);
  const spend = await writeKeys(redis, prefix, plan);
  for (const q of plan.queues) await restoreQueue(redis, prefix, q, report);
  const consensus = await restoreConsensus(redis, prefix, cp.consensus);
  await redis.del(restoring);
  return { ...report, consensus, spend };
}
