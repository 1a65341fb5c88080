// Every submit on a three-master Redis Cluster, with nodes in two slot groups
// (n1–n10 in g1, n11, n12 in g2): batches spread over both groups stay all or
// none, also when their submitter dies between staging and fanning out (the
// reader or the leader finishes them, nothing lost, nothing twice); idempotent
// submits give one task for one key, also when a submitter died between its
// claim and its enqueue, and under concurrent repeats.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Job, Queue } from 'bullmq';
import type { Cluster } from 'ioredis';
import { CONSENSUS_QUEUE, nodeOfQueueName, nodeQueueName, slotGroupOf, swarmKeys } from '../../queues/keys.ts';
import { readLoads } from '../../queues/loads.ts';
import { loadScripts } from '../../queues/scripts.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { Consensus } from '../../src/consensus/runtime/consensus.ts';
import { decodeLoads } from '../../src/coordinator/loadsSnapshot.ts';
import { IdempotencyClaims } from '../../src/coordinator/idempotency.ts';
import { submitStaged, type BatchJob } from '../../src/coordinator/stagedBatch.ts';
import { newTaskId, nodeOfTaskId } from '../../src/tasks/ids.ts';
import { taskEnvelope, taskJobOptions } from '../../src/tasks/nodeJob.ts';
import type { TaskInput } from '../../src/tasks/schema.ts';
import { startCluster, type TestCluster } from '../support/cluster.ts';
import { uniquePrefix } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

const NODES = Array.from({ length: 12 }, (_, i) => `n${i + 1}`);

let cluster: TestCluster;
let stack: Stack;
let client: SwarmClient;
let redis: Cluster;
let prefix: string;
const queues = new Map<string, Queue>();

function queueFor(node: string): Queue {
  let q = queues.get(node);
  if (!q) {
    q = new Queue(nodeQueueName(node), { connection: redis, prefix });
    queues.set(node, q);
  }
  return q;
}

/** How many node queues hold a job of that id: 1 for a task added once and never twice. */
async function copies(id: string): Promise<number> {
  const found = await Promise.all(NODES.map((n) => Job.fromId(queueFor(n), id)));
  return found.filter((j) => j !== undefined).length;
}

async function jobTotal(): Promise<number> {
  const counts = await Promise.all(NODES.map((n) => queueFor(n).getJobCountByTypes('waiting', 'prioritized', 'active', 'completed', 'failed', 'delayed')));
  return counts.reduce((a, b) => a + b, 0);
}

/** Jobs of a batch as the router shapes them, routed by hand over both groups. */
function batchJobs(count: number, tag: string): BatchJob[] {
  return Array.from({ length: count }, (_, i) => {
    const task: TaskInput = { type: 'echo', payload: { tag, i } };
    const id = newTaskId(NODES[i % NODES.length]!);
    return { id, name: task.type, data: taskEnvelope(task), opts: taskJobOptions(task, id, stack.config.tasks) };
  });
}

beforeAll(async () => {
  cluster = await startCluster(3);
  const config = testConfig({ url: cluster.url } as never, { prefix: uniquePrefix('cs'), coordinator: { maxAgentsPerNode: 1 } });
  prefix = config.prefix;
  stack = await startStack(config, { agents: [{ type: 'worker', count: 12, capacity: 2 }] });
  client = new SwarmClient({ redis: cluster.url, prefix });
  redis = cluster.connect();
  await loadScripts(redis);
}, 60_000);

afterAll(async () => {
  await Promise.all([...queues.values()].map((q) => q.close()));
  await client?.close();
  await stack?.stop();
  await redis?.quit().catch(() => {});
  await cluster?.stop();
});

describe('batch submits on a Redis Cluster', () => {
  it('POST /api/tasks/batch spread over two slot groups: 202, every task runs once', async () => {
    const tasks = Array.from({ length: 40 }, (_, i) => ({ type: 'echo', payload: { i } }));
    const r = await stack.request('POST', '/api/tasks/batch', { tasks });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const ids = r.body.ids as string[];
    expect(new Set(ids.map((id) => slotGroupOf(nodeOfTaskId(id)!))).size).toBe(2);
    const done = await Promise.all(ids.map((id) => client.waitFor(id, { timeoutMs: 15_000 })));
    expect(done.map((t) => [t.state, t.attempts])).toEqual(ids.map(() => ['completed', 1]));
    expect(done.map((t) => t.result)).toEqual(tasks.map((t) => t.payload));
    // Nothing left staged once the submit has answered.
    expect(await redis.hlen(swarmKeys(prefix).staged)).toBe(0);
    expect(await redis.zcard(swarmKeys(prefix).batches)).toBe(0);
  });

  it('SwarmClient.submitBatch spread over two slot groups, with idempotency keys honoured on a repeat', async () => {
    const tasks: TaskInput[] = Array.from({ length: 24 }, (_, i) => ({ type: 'echo', payload: { i }, idempotencyKey: `cb-${i}` }));
    // Loads read while the first test's tasks ran could send the whole batch to
    // the other group: wait until the published loads show every node idle, then
    // route with a client of its own that reads them afresh.
    await until(async () => {
      const got = await readLoads(redis, prefix, undefined);
      const loads = got.published && got.body !== undefined ? decodeLoads(got.body) : undefined;
      return loads?.ok === true && [...loads.snapshot.counts.values()].every((c) => c.waiting + c.active === 0);
    }, 15_000);
    const fresh = new SwarmClient({ redis: cluster.url, prefix });
    const { ids } = await fresh.submitBatch(tasks).finally(() => fresh.close());
    expect(new Set(ids.map((id) => slotGroupOf(nodeOfTaskId(id)!))).size).toBe(2);
    const again = await client.submitBatch(tasks);
    expect(again.ids).toEqual(ids);
    const done = await Promise.all(ids.map((id) => client.waitFor(id, { timeoutMs: 15_000 })));
    expect(done.every((t) => t.state === 'completed')).toBe(true);
    expect(await Promise.all(ids.map(copies))).toEqual(ids.map(() => 1));
  });

  it('a batch that fails validation or routing writes nothing (400, no job, nothing staged)', async () => {
    const before = await jobTotal();
    const bad = await stack.request('POST', '/api/tasks/batch', { tasks: [{ type: 'echo' }, { type: 'sleep', payload: {} }, { type: 'echo', idempotencyKey: 'never-claimed' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('tasks.1.payload.ms');
    const unroutable = await stack.request('POST', '/api/tasks/batch', { tasks: [{ type: 'echo' }, { type: 'nope' }] });
    expect(unroutable.status).toBe(400);
    expect(unroutable.body.error.code).toBe('unknown_task_type');
    expect(await jobTotal()).toBe(before);
    expect(await redis.hlen(swarmKeys(prefix).staged)).toBe(0);
    expect(await redis.exists(swarmKeys(prefix).idempotency('never-claimed'))).toBe(0);
  });

  it('a submitter that dies after staging, before any group is added: a reader finishes the batch once it is due', async () => {
    const jobs = batchJobs(12, 'reader');
    const late: Error[] = [];
    // Every add fails, as if the process died right after the batch was acknowledged.
    await submitStaged({ redis, prefix, queueFor: () => {
          throw new Error('killed after staging');
        }, keepSeconds: 3600, leaseMs: 400 }, jobs, (e) => late.push(e));
    expect(late.map((e) => e.message)).toEqual(['killed after staging']);
    expect(await Promise.all(jobs.map((j) => copies(j.id)))).toEqual(jobs.map(() => 0));
    // Staged, not added: each task reads as waiting, never 404.
    for (const j of jobs.slice(0, 3)) {
      const r = await stack.request('GET', `/api/tasks/${j.id}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body).toMatchObject({ id: j.id, state: 'waiting', type: 'echo' });
    }
    // Cancelling one now is a conflict to retry, not a 404: the task exists, it is on its way to its queue.
    const cancel = await stack.request('DELETE', `/api/tasks/${jobs[0]!.id}`);
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(409);
    expect(cancel.body.error.message).toMatch(/retry/);
    // Once due, the next read takes the fan-out over (the leader's sweep may get there first: either way it runs once).
    await new Promise((r) => setTimeout(r, 450));
    const done = await Promise.all(jobs.map((j) => client.waitFor(j.id, { timeoutMs: 15_000 })));
    expect(done.map((t) => [t.state, t.attempts])).toEqual(jobs.map(() => ['completed', 1]));
    expect(done.map((t) => t.result)).toEqual(jobs.map((j) => (j.data as { payload: unknown }).payload));
    expect(await Promise.all(jobs.map((j) => copies(j.id)))).toEqual(jobs.map(() => 1));
    await until(async () => ((await redis.zcard(swarmKeys(prefix).batches)) === 0 ? true : undefined), 5000, 'the batch to be finished');
    expect(await redis.hlen(swarmKeys(prefix).staged)).toBe(0);
  });

  it('a submitter that dies mid fan-out (one group added, one not): the leader finishes it, nothing lost or run twice', async () => {
    const jobs = batchJobs(24, 'leader');
    const g2 = jobs.filter((j) => slotGroupOf(nodeOfTaskId(j.id)!) === 'g2');
    expect(g2.length).toBeGreaterThan(0);
    // One g1 task is held back (delayed), to be cancelled once added: its job is gone then, so a takeover
    // that added g1 again would bring it back to run.
    const held = jobs[0]!;
    held.opts = { ...held.opts, delay: 60_000 };
    const late: Error[] = [];
    await submitStaged(
      {
        redis,
        prefix,
        queueFor: (name) => {
          const node = nodeOfQueueName(name)!;
          if (slotGroupOf(node) === 'g2') throw new Error('killed mid fan-out');
          return queueFor(node);
        },
        keepSeconds: 3600,
        leaseMs: 1500,
      },
      jobs,
      (e) => late.push(e),
    );
    expect(late.map((e) => e.message)).toEqual(['killed mid fan-out']);
    // g1's tasks are in their queues (and may run); g2's wait staged. Let g1's finish first, so a re-add would show.
    const cancel = await stack.request('DELETE', `/api/tasks/${held.id}`);
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
    const g1 = jobs.filter((j) => !g2.includes(j) && j !== held);
    await Promise.all(g1.map((j) => client.waitFor(j.id, { timeoutMs: 15_000 })));
    expect(await Promise.all(g2.map((j) => copies(j.id)))).toEqual(g2.map(() => 0));
    expect((await client.get(g2[0]!.id))?.state).toBe('waiting');
    // No reads now: the leader's sweep (every second) takes the batch over once due.
    await until(async () => ((await redis.zcard(swarmKeys(prefix).batches)) === 0 ? true : undefined), 10_000, 'the leader to finish the batch');
    const ran = jobs.filter((j) => j !== held);
    const done = await Promise.all(ran.map((j) => client.waitFor(j.id, { timeoutMs: 15_000 })));
    expect(done.map((t) => [t.state, t.attempts])).toEqual(ran.map(() => ['completed', 1]));
    expect(await Promise.all(ran.map((j) => copies(j.id)))).toEqual(ran.map(() => 1));
    expect((await client.get(held.id))?.state).toBe('cancelled');
    expect(await copies(held.id)).toBe(0);
    // g1 finished before the takeover, and its done mark kept it from being added again: each ran once.
    const finishedOn = await Promise.all(g1.map(async (j) => (await Job.fromId(queueFor(nodeOfTaskId(j.id)!), j.id))!.finishedOn));
    expect(finishedOn.every((t) => typeof t === 'number')).toBe(true);
    expect(await redis.hlen(swarmKeys(prefix).staged)).toBe(0);
  });
});

describe('idempotent submits on a Redis Cluster (the claim in {swarm}, the task in its group)', () => {
  it('a submitter that died between its claim and its enqueue: the repeat adds the task under the claimed id', async () => {
    const claims = new IdempotencyClaims(redis, prefix, 3600);
    const planned = newTaskId('n11');
    expect(await claims.claim('died-after-claim', planned)).toBeNull();
    expect(await client.get(planned)).toBeNull();
    const r = await stack.request('POST', '/api/tasks', { type: 'echo', payload: 'again', idempotencyKey: 'died-after-claim' });
    expect(r.status).toBe(202);
    expect(r.body.id).toBe(planned);
    const t = await client.waitFor(planned, { timeoutMs: 10_000 });
    expect(t).toMatchObject({ state: 'completed', result: 'again', attempts: 1 });
    expect(await copies(planned)).toBe(1);
  });

  it('concurrent repeats of one key (HTTP and client at once) make one task', async () => {
    const task = { type: 'echo', payload: 'once', idempotencyKey: 'raced' };
    const viaHttp = Array.from({ length: 8 }, () => stack.request('POST', '/api/tasks', task).then((r) => r.body.id as string));
    const viaClient = Array.from({ length: 8 }, () => client.submit(task).then((s) => s.id));
    const viaBatch = [client.submitBatch([task, { type: 'echo', payload: 'other' }]).then((b) => b.ids[0]!)];
    const ids = await Promise.all([...viaHttp, ...viaClient, ...viaBatch]);
    expect(new Set(ids).size).toBe(1);
    const t = await client.waitFor(ids[0]!, { timeoutMs: 10_000 });
    expect(t).toMatchObject({ state: 'completed', result: 'once', attempts: 1 });
    expect(await copies(ids[0]!)).toBe(1);
  });
});

describe('replicated tasks on a Redis Cluster', () => {
  it('are added without a flow (parent in consensus-{swarm}, replicas in node queues of both groups) and decided', async () => {
    const driver = new Consensus({ redis: cluster.url, prefix });
    await driver.drive();
    try {
      const r = await stack.request('POST', '/api/tasks', { type: 'echo', payload: { n: 7 }, consensus: { protocol: 'quorum', replicas: 12 } });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect(r.body.node).toBe(CONSENSUS_QUEUE);
      const task = await until(async () => {
        const t = await stack.request('GET', `/api/tasks/${r.body.id}`);
        expect(t.status).toBe(200);
        return t.body.state === 'completed' || t.body.state === 'failed' ? t.body : undefined;
      }, 20_000, 'the replicated task to be decided');
      expect(task, JSON.stringify(task)).toMatchObject({ state: 'completed', result: { n: 7 }, consensus: { decided: true, votes: 12, dissenters: [] } });
      const replicas = task.consensus.replicaTasks as string[];
      expect(new Set(replicas.map((id) => slotGroupOf(nodeOfTaskId(id)!))).size).toBe(2);
      expect(new Set(task.consensus.agents).size).toBe(12);
      // Each replica stayed on its node and ran once.
      expect(await Promise.all(replicas.map(copies))).toEqual(replicas.map(() => 1));
      expect(await redis.hlen(swarmKeys(prefix).staged)).toBe(0);
    } finally {
      await driver.close();
    }
  });

  it('a replicated task asking for more agents than the swarm has is refused with a 400, nothing written', async () => {
    const consensus = new Queue(CONSENSUS_QUEUE, { connection: redis, prefix });
    const before = await consensus.getJobCountByTypes('waiting', 'delayed', 'waiting-children', 'completed', 'failed');
    const jobsBefore = await jobTotal();
    const r = await stack.request('POST', '/api/tasks', { type: 'echo', payload: 1, consensus: { protocol: 'quorum', replicas: 13 } });
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.error.code).toBe('no_capable_agent');
    expect(await consensus.getJobCountByTypes('waiting', 'delayed', 'waiting-children', 'completed', 'failed')).toBe(before);
    expect(await jobTotal()).toBe(jobsBefore);
    expect(await redis.hlen(swarmKeys(prefix).staged)).toBe(0);
    await consensus.close();
  });
});
