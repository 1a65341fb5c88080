// Checkpoint and restore on a three-master Redis Cluster. The checkpoint reads
// slot by slot (src/checkpoint/readCluster.ts); these tests check its promise:
// every task in the swarm when it begins is in the file exactly once, also when
// tasks cross slots between the reads (a staged batch fanned out, an intake job
// routed, parked tasks unparked), and a restore into another prefix writes each
// of them once, with its state. Real redis-servers throughout.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Job, Queue } from 'bullmq';
import type { Cluster } from 'ioredis';
import { DEAD_LETTER_QUEUE, groupKeys, INTAKE_QUEUE, nodeQueueName, PARKED_NODE, swarmKeys } from '../../queues/keys.ts';
import { claimParked } from '../../queues/claimParked.ts';
import { claimCrossMove, claimedJobs, finishCrossMove, settleCrossMove } from '../../queues/crossMove.ts';
import { loadScripts } from '../../queues/scripts.ts';
import { stageBatch } from '../../queues/stageBatch.ts';
import { checkpointToFile, restoreFromFile } from '../../src/checkpoint/cli.ts';
import { takeCheckpoint } from '../../src/checkpoint/read.ts';
import { firstKeyUnder, restoreCheckpoint } from '../../src/checkpoint/restore.ts';
import { parseCheckpoint, type Checkpoint } from '../../src/checkpoint/format.ts';
import { resumeDueBatches } from '../../src/coordinator/stagedBatch.ts';
import { newTaskId } from '../../src/tasks/ids.ts';
import { periodBounds } from '../../src/budgets/budget.ts';
import { startCluster, type TestCluster } from '../support/cluster.ts';
import { uniquePrefix } from '../support/redis.ts';
import { testConfig } from '../support/swarm.ts';
import { emptyCheckpoint, unfinishedTask } from '../support/checkpointData.ts';

// Nodes in two slot groups: n1–n4 in {g1}, n11–n12 in {g2}; and the parked, intake and dead-letter queues.
const NODES = ['n1', 'n2', 'n3', 'n4', 'n11', 'n12'];
const ALL_QUEUES = [...NODES.map(nodeQueueName), nodeQueueName(PARKED_NODE), INTAKE_QUEUE, DEAD_LETTER_QUEUE];

let cluster: TestCluster;
let redis: Cluster;
const opened: Queue[] = [];

function queue(name: string, prefix: string): Queue {
  const q = new Queue(name, { connection: redis, prefix });
  q.on('error', () => {});
  opened.push(q);
  return q;
}

beforeAll(async () => {
  cluster = await startCluster(3);
  redis = cluster.connect();
  await loadScripts(redis);
}, 60_000);

afterAll(async () => {
  await Promise.all(opened.map((q) => q.close().catch(() => {})));
  await redis?.quit().catch(() => {});
  await cluster?.stop();
});

interface Swarm {
  prefix: string;
  /** Ids of the tasks added straight to node queues, with the state each is in. */
  nodeTasks: Map<string, string>;
  parked: string[];
  intakeJob: string;
  staged: string[];
  batchId: string;
}

/** A swarm with tasks in both groups (waiting, prioritized, delayed), two parked tasks, an intake job and a staged batch not fanned out. */
async function buildSwarm(): Promise<Swarm> {
  const prefix = uniquePrefix('ckc');
  await redis.set(swarmKeys(prefix).nodeSeq, 12);
  const nodeTasks = new Map<string, string>();
  for (const [i, node] of ['n1', 'n2', 'n11', 'n12'].entries()) {
    const q = queue(nodeQueueName(node), prefix);
    const plain = newTaskId(node);
    await q.add('work', { payload: { i } }, { jobId: plain });
    nodeTasks.set(plain, 'waiting');
    const prio = newTaskId(node);
    await q.add('work', { payload: { i, prio: true } }, { jobId: prio, priority: 3 });
    nodeTasks.set(prio, 'prioritized');
    const later = newTaskId(node);
    await q.add('work', { payload: { i, later: true } }, { jobId: later, delay: 600_000 });
    nodeTasks.set(later, 'delayed');
  }
  const parkedQ = queue(nodeQueueName(PARKED_NODE), prefix);
  const parked = [newTaskId(PARKED_NODE), newTaskId(PARKED_NODE)];
  for (const id of parked) await parkedQ.add('work', { payload: { parked: true } }, { jobId: id });
  const intake = await queue(INTAKE_QUEUE, prefix).add('work', { from: 'intake' });
  const batchId = `b${Date.now()}`;
  const staged = [newTaskId('n3'), newTaskId('n12')];
  // Staged with no lease left: as a submitter that died after staging leaves it.
  await stageBatch(redis, {
    prefix,
    batchId,
    leaseMs: 0,
    tasks: staged.map((id) => ({ id, json: JSON.stringify({ batch: batchId, name: 'work', data: { payload: { staged: id } }, opts: { jobId: id, attempts: 1 } }) })),
  });
  return { prefix, nodeTasks, parked, intakeJob: intake.id!, staged, batchId };
}

/** Every job of the unfinished kinds in the swarm's queues, as `queue id state`. */
async function jobsOf(prefix: string): Promise<{ queue: string; id: string; state: string }[]> {
  const out: { queue: string; id: string; state: string }[] = [];
  for (const name of ALL_QUEUES) {
    const q = queue(name, prefix);
    for (const state of ['waiting', 'prioritized', 'delayed', 'active'] as const) {
      for (const j of await q.getJobs([state], 0, -1)) out.push({ queue: name, id: j.id!, state });
    }
  }
  return out;
}

const ids = (cp: Checkpoint) => cp.tasks.map((t) => t.id);

function expectOnce(list: readonly string[], expected: readonly string[]) {
  const counts = new Map<string, number>();
  for (const id of list) counts.set(id, (counts.get(id) ?? 0) + 1);
  expect([...counts].filter(([, n]) => n > 1), 'ids carried twice').toEqual([]);
  expect([...counts.keys()].sort()).toEqual([...expected].sort());
}

describe('checkpoint and restore on a Redis Cluster', () => {
  it('a still swarm: every task once in the file, and once with its state after a restore into a fresh prefix', async () => {
    const s = await buildSwarm();
    const { checkpoint, warnings } = await takeCheckpoint(redis, s.prefix);
    expect(warnings).toEqual([]);
    const cp = parseCheckpoint(JSON.stringify(checkpoint), 'the checkpoint');
    expectOnce(ids(cp), [...s.nodeTasks.keys(), ...s.parked, s.intakeJob, ...s.staged]);
    const byId = new Map(cp.tasks.map((t) => [t.id, t]));
    for (const [id, state] of s.nodeTasks) expect(byId.get(id)?.state, id).toBe(state);
    // The staged tasks, under the nodes their ids name.
    expect(s.staged.map((id) => byId.get(id)?.queue)).toEqual([nodeQueueName('n3'), nodeQueueName('n12')]);
    expect(cp.roster.nodeSeq).toBe(12);

    const target = uniquePrefix('ckr');
    const report = await restoreCheckpoint(redis, target, cp);
    expect(report.skipped).toBe(0);
    expect(await redis.get(swarmKeys(target).restoring)).toBeNull();
    const jobs = await jobsOf(target);
    expectOnce(jobs.map((j) => j.id).filter((id) => id !== s.intakeJob && !/^[0-9]+$/.test(id)), [...s.nodeTasks.keys(), ...s.parked, ...s.staged]);
    const restored = new Map(jobs.map((j) => [j.id, j]));
    for (const [id, state] of s.nodeTasks) expect(restored.get(id)?.state, id).toBe(state);
    for (const id of s.staged) expect(restored.get(id)?.state).toBe('waiting');
    for (const id of s.parked) expect(restored.get(id)?.queue).toBe(nodeQueueName(PARKED_NODE));
    // The intake job (integer id: BullMQ gives it a new one) is there once.
    expect(jobs.filter((j) => j.queue === INTAKE_QUEUE)).toHaveLength(1);
  }, 60_000);

  it('tasks crossing slots between the reads: nothing missing, nothing twice', async () => {
    const s = await buildSwarm();
    const routedTo = newTaskId('n3');
    const [delivered, claimedOnly] = s.parked as [string, string];
    const fanOut = { redis, prefix: s.prefix, queueFor: (name: string) => queue(name, s.prefix), keepSeconds: 3600, leaseMs: 10_000 };
    const seen: string[] = [];
    const { checkpoint } = await takeCheckpoint(redis, s.prefix, {
      afterSlotRead: async (tag) => {
        seen.push(tag);
        if (tag === 'swarm') {
          // The staged batch is taken over and fanned out after the swarm's slot was read: it is added to {g1} and {g2}, and its staged records dropped.
          expect(await resumeDueBatches(fanOut)).toBe(1);
          expect(await redis.hlen(swarmKeys(s.prefix).staged)).toBe(0);
        }
        if (tag === 'intake') {
          // The intake job is routed as src/coordinator/intake.ts does: its task id kept, the task added, the job done.
          await redis.set(swarmKeys(s.prefix).intakeTask(s.intakeJob), routedTo, 'EX', 3600, 'NX');
          await queue(nodeQueueName('n3'), s.prefix).add('work', { from: 'intake' }, { jobId: routedTo });
          await (await Job.fromId(queue(INTAKE_QUEUE, s.prefix), s.intakeJob))!.remove();
        }
        if (tag === 'parked') {
          // One parked task unparked whole (claimed, added to n4, the parked copy gone); one claimed only.
          for (const id of [delivered, claimedOnly]) expect(await claimParked(redis, { prefix: s.prefix, jobId: id, target: 'n4', token: 1 })).toBe('claimed');
          await queue(nodeQueueName('n4'), s.prefix).add('work', { payload: { parked: true } }, { jobId: delivered });
          await redis.multi().del(`${s.prefix}:${nodeQueueName(PARKED_NODE)}:${delivered}`).srem(groupKeys(s.prefix, PARKED_NODE).unparking, delivered).exec();
        }
      },
    });
    const cp = parseCheckpoint(JSON.stringify(checkpoint), 'the checkpoint');
    // The intake job is carried as its task (routed before {g1} was read), the parked ones and the staged ones once each.
    expectOnce(ids(cp), [...s.nodeTasks.keys(), ...s.parked, routedTo, ...s.staged]);
    const byId = new Map(cp.tasks.map((t) => [t.id, t]));
    expect(byId.get(routedTo)?.queue).toBe(nodeQueueName('n3'));
    expect(byId.get(delivered)?.queue).toBe(nodeQueueName('n4'));
    expect(s.staged.map((id) => byId.get(id)?.queue)).toEqual([nodeQueueName('n3'), nodeQueueName('n12')]);
    // Seen in the parked queue before its claim; the claim only is not yet in n4: carried from the parked queue, once.
    expect(byId.get(claimedOnly)?.queue).toBe(nodeQueueName(PARKED_NODE));

    const target = uniquePrefix('ckr');
    await restoreCheckpoint(redis, target, cp);
    const jobs = await jobsOf(target);
    expectOnce(jobs.map((j) => j.id), [...s.nodeTasks.keys(), ...s.parked, routedTo, ...s.staged]);
    expect(jobs.filter((j) => j.queue === INTAKE_QUEUE)).toEqual([]);
    expect(seen).toEqual(['swarm', 'intake', 'parked', 'g1', 'g2', 'dead-letter']);
  }, 60_000);

  it('a move between groups straddling the reads (its destination read first) is carried once; no move starts or ends during the cut', async () => {
    const s = await buildSwarm();
    const leaving = [...s.nodeTasks].filter(([id, state]) => id.startsWith('n11.') && state === 'waiting').map(([id]) => id);
    expect(leaving).toHaveLength(1);
    // Claimed out of n11 (g2) for n1 (g1) before the checkpoint: a move in flight.
    const claimed = await claimCrossMove(redis, { prefix: s.prefix, from: 'n11', to: 'n1', max: 1, token: 1, claim: '1.ck' });
    expect(claimed).toEqual(leaving);
    const { checkpoint } = await takeCheckpoint(redis, s.prefix, {
      afterSlotRead: async (tag) => {
        if (tag !== 'g1') return;
        // g1, the destination, is read: the move lands there now and tries to finish in g2, which is read next.
        const jobs = await claimedJobs(redis, s.prefix, 'n11', claimed);
        expect(await finishCrossMove(redis, s.prefix, '1.ck', 'n1', jobs)).toBe(1);
        // The claim stays in g2 while the cut holds the groups still (else the task would be in neither read), and nothing new is claimed.
        expect(await redis.hexists(groupKeys(s.prefix, 'n11').moving, leaving[0]!)).toBe(1);
        expect(await claimCrossMove(redis, { prefix: s.prefix, from: 'n12', to: 'n2', max: 5, token: 1, claim: '1.ck2' })).toEqual([]);
      },
    });
    const cp = parseCheckpoint(JSON.stringify(checkpoint), 'the checkpoint');
    expectOnce(ids(cp), [...s.nodeTasks.keys(), ...s.parked, ...s.staged, s.intakeJob]);
    expect(cp.tasks.find((t) => t.id === leaving[0])?.queue).toBe(nodeQueueName('n1'));
    // The cut over, the groups move again: the claim is finished at the next try.
    expect(await redis.exists(groupKeys(s.prefix, 'n11').crossMoveFreeze)).toBe(0);
    await settleCrossMove(redis, s.prefix, '1.ck', await claimedJobs(redis, s.prefix, 'n11', claimed));
    expect(await redis.hlen(groupKeys(s.prefix, 'n11').moving)).toBe(0);
  }, 60_000);

  it('a restore stopped half-way is refused by name, and a re-run with force finishes it without doubling a task', async () => {
    const s = await buildSwarm();
    const { checkpoint } = await takeCheckpoint(redis, s.prefix);
    const target = uniquePrefix('ckh');
    // Half a restore: the mark and the first node's tasks, as a restore killed after its first queue leaves them.
    const first = checkpoint.tasks.filter((t) => t.queue === nodeQueueName('n1'));
    await redis.set(swarmKeys(target).restoring, 'of a test checkpoint,');
    await restoreCheckpoint(redis, target, { ...checkpoint, tasks: first, consensus: checkpoint.consensus }, { force: true });
    await redis.set(swarmKeys(target).restoring, 'of a test checkpoint,');
    expect(await firstKeyUnder(redis, target)).not.toBeNull();
    await expect(restoreCheckpoint(redis, target, checkpoint)).rejects.toThrow(/restored only in part .*run the same restore again with --force/);
    const report = await restoreCheckpoint(redis, target, checkpoint, { force: true });
    expect(report.skipped).toBe(first.length);
    expect(await redis.get(swarmKeys(target).restoring)).toBeNull();
    const jobs = await jobsOf(target);
    expectOnce(jobs.map((j) => j.id).filter((id) => !/^[0-9]+$/.test(id)), [...s.nodeTasks.keys(), ...s.parked, ...s.staged]);
  }, 60_000);

  it('swarmq checkpoint and restore (the commands) run on a Cluster given by its seeds', async () => {
    const s = await buildSwarm();
    const dir = mkdtempSync(join(tmpdir(), 'swarmq-ckc-'));
    try {
      const file = join(dir, 'swarm.json');
      const taken = await checkpointToFile(testConfig({ url: cluster.url } as never, { prefix: s.prefix }), file);
      expect(taken.summary).toMatch(/17 unfinished tasks/);
      const target = uniquePrefix('ckf');
      const said = await restoreFromFile(testConfig({ url: cluster.url } as never, { prefix: target }), file);
      expect(said).toMatch(/17 unfinished tasks/);
      const jobs = await jobsOf(target);
      expectOnce(jobs.map((j) => j.id).filter((id) => !/^[0-9]+$/.test(id)), [...s.nodeTasks.keys(), ...s.parked, ...s.staged]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('keys and outputs awaiting approval: limits, budgets and spend in their keys\' slots, keyed tasks placed and counted in theirs, awaiting outputs indexed per group, and read back the same', async () => {
    const prefix = uniquePrefix('ckk');
    const later = Date.now() + 600_000;
    const awaitingFields = (id: string) => ({ sqAwaiting: JSON.stringify({ output: { text: id }, agent: 'h1-a1', since: later - 1000, deadline: later, round: 1 }), sqRound: '1', sqDecision: '' });
    const keyed = (id: string, key: string) => unfinishedTask({ queue: nodeQueueName(id.split('.')[0]!), id, data: { payload: null, key }, fields: { sqKey: key } });
    const awaiting = (id: string) => unfinishedTask({ queue: nodeQueueName(id.split('.')[0]!), id, state: 'delayed', dueAt: later, data: { payload: null, approval: { timeoutMs: 1000 } }, fields: awaitingFields(id) });
    const nodes = ['n1', 'n11'].map((id) => ({ id, seq: Number(id.slice(1)), queue: nodeQueueName(id), profile: '[]', members: 0, createdAt: 1 }));
    // Budgets and this month's spend, each in its key's slot (a month: no turn between the restore and the read back).
    const month = { period: 'month' as const, ...periodBounds('month', Date.now()) };
    const cp = emptyCheckpoint({
      roster: { nodeSeq: 12, agents: [], nodes },
      keys: [
        { key: 'acme', limits: { maxActive: 2, weight: 4 }, budget: { tokens: 1000, period: 'month', queued: 'wait', running: 'abort' }, spent: { ...month, tokens: 850, inputTokens: 0, outputTokens: 850, costUsd: 0.25, reports: 2, byType: { draft: { tokens: 850, costUsd: 0.25 } }, alerted: [{ threshold: 80, at: month.start + 1 }] } },
        { key: 'beta', limits: { rate: { max: 5, perMs: 1000 } }, budget: { costUsd: 3, period: 'month', queued: 'fail', running: 'finish' } },
      ],
      tasks: [keyed('n1.acmeacme0001', 'acme'), keyed('n11.acmeacme002', 'acme'), keyed('n11.betabeta001', 'beta'), awaiting('n1.awaitawait01'), awaiting('n11.awaitawait2')],
    });
    const report = await restoreCheckpoint(redis, prefix, parseCheckpoint(JSON.stringify(cp)));
    expect(report).toMatchObject({ keyLimits: 2, keyBudgets: 2, keySpend: 1, spend: { restored: 1, merged: 0, stale: 0 }, keyed: 3, awaitingApproval: 2 });
    expect(await redis.hget(`${prefix}:{k:acme}:spent`, 'tokens')).toBe('850');
    expect(await redis.hget(swarmKeys(prefix).keyBudgets, 'beta')).toBe(JSON.stringify({ costUsd: 3, period: 'month', queued: 'fail', running: 'finish' }));
    expect(await redis.zrange(`${prefix}:{k:acme}:waiting`, '0', '-1')).toEqual(expect.arrayContaining(['n1.acmeacme0001', 'n11.acmeacme002']));
    expect(await redis.zcard(`${prefix}:{k:beta}:waiting`)).toBe(1);
    expect(await redis.hgetall(`${prefix}:{k:acme}:limits`)).toEqual({ maxActive: '2', weight: '4' });
    // Placed by fairTag-5.lua in their own groups' queues: band 0's keyed half, the key field written.
    expect(Number(await redis.zscore(`${prefix}:${nodeQueueName('n11')}:prioritized`, 'n11.acmeacme002'))).toBeGreaterThanOrEqual(2 ** 31);
    expect(await redis.hget(`${prefix}:${nodeQueueName('n11')}:n11.betabeta001`, 'sqKey')).toBe('beta');
    expect(await redis.zrange(groupKeys(prefix, 'n1').awaitingApproval, '0', '-1')).toEqual(['n1 n1.awaitawait01']);
    expect(await redis.zrange(groupKeys(prefix, 'n11').awaitingApproval, '0', '-1')).toEqual(['n11 n11.awaitawait2']);

    const { checkpoint, warnings } = await takeCheckpoint(redis, prefix);
    expect(warnings).toEqual([]);
    expect(checkpoint.keys).toEqual(cp.keys);
    const back = new Map(checkpoint.tasks.map((t) => [t.id, t]));
    expect(back.get('n11.acmeacme002')).toMatchObject({ data: { key: 'acme' }, fields: { sqKey: 'acme' } });
    expect(back.get('n11.awaitawait2')).toMatchObject({ state: 'delayed', dueAt: later, fields: awaitingFields('n11.awaitawait2') });
  }, 60_000);
});
