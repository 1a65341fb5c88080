// On a real Redis Cluster (three masters): node queues of one slot group share a
// slot, so the atomic move, the fence, leadership and unparking each run as one
// script there, with BullMQ's Queue and Worker on a Cluster connection and the
// prefix left plain. A move across slot groups is refused before Redis sees it,
// and the same script sent across slots is refused by the Cluster itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue, Worker } from 'bullmq';
import type { Cluster } from 'ioredis';
import { bullKey, groupKeys, nodeQueueName, PARKED_NODE, swarmKeys } from '../../queues/keys.ts';
import { moveWaitingJobs, raiseFence } from '../../queues/moveJobs.ts';
import { scripts } from '../../queues/scripts.ts';
import { Lease } from '../../src/coordinator/lease.ts';
import { unparkTasks } from '../../src/balancer/unpark.ts';
import type { NodeView } from '../../src/routing/loads.ts';
import { startCluster, type TestCluster } from '../support/cluster.ts';
import { uniquePrefix } from '../support/redis.ts';
import { until } from '../support/swarm.ts';

let cluster: TestCluster;
let conn: Cluster;
const prefix = uniquePrefix('cl'); // plain: no hash tag in the prefix
const queues = new Map<string, Queue>();
const queueFor = (node: string) => {
  let q = queues.get(node);
  if (!q) queues.set(node, (q = new Queue(nodeQueueName(node), { connection: conn, prefix })));
  return q;
};

beforeAll(async () => {
  cluster = await startCluster(3);
  conn = cluster.connect();
}, 60_000);

afterAll(async () => {
  await Promise.all([...queues.values()].map((q) => q.close()));
  await conn?.quit().catch(() => {});
  await cluster?.stop();
});

describe('Redis Cluster', () => {
  it('each slot group has a slot of its own, holding its queues and its state; swarm state shares one', async () => {
    const slot = async (key: string) => Number(await conn.cluster('KEYSLOT', key));
    const g1 = await slot(bullKey(prefix, nodeQueueName('n1'), 'wait'));
    expect(await slot(bullKey(prefix, nodeQueueName('n10'), 'meta'))).toBe(g1);
    expect(await slot(groupKeys(prefix, 'n7').moved)).toBe(g1);
    expect(await slot(groupKeys(prefix, 'n3').fence)).toBe(g1);
    const slots = new Set(await Promise.all(['n1', 'n11', 'n21', 'n31', PARKED_NODE].map((n) => slot(bullKey(prefix, nodeQueueName(n), 'wait')))));
    expect(slots.size).toBe(5);
    const k = swarmKeys(prefix);
    expect(new Set(await Promise.all([k.agents, k.nodes, k.nodeSeq, k.rosterVersion, k.lease, k.leaseOwner, k.leaseCounter].map(slot))).size).toBe(1);
  });

  it('moves waiting jobs between nodes of a group atomically, fenced, and a Worker on the Cluster runs each once', async () => {
    const q1 = queueFor('n1');
    await q1.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: 'echo', data: { i }, opts: { jobId: `n1.c${i}` } })));
    await q1.add('echo', { urgent: true }, { jobId: 'n1.urgent', priority: 1 });

    const lease = new Lease(conn, prefix, 'leader', 5000);
    const token = await lease.renew();
    expect(token).toBeGreaterThan(0);
    expect(await raiseFence(conn, prefix, 'n1', token)).toBe(token);
    expect(await moveWaitingJobs(conn, { prefix, from: 'n1', to: 'n2', max: 21, fence: lease.fence()! })).toBe(21);
    // A newer leader stamps the group; the old token moves nothing any more.
    expect(await raiseFence(conn, prefix, 'n5', token + 1)).toBe(token + 1);
    await expect(moveWaitingJobs(conn, { prefix, from: 'n2', to: 'n1', max: 5, fence: lease.fence()! })).rejects.toThrow(/no longer current/);
    expect(await q1.getJobCounts('wait', 'prioritized')).toEqual({ wait: 0, prioritized: 0 });
    expect(await queueFor('n2').getJobCounts('wait', 'prioritized')).toEqual({ wait: 20, prioritized: 1 });
    expect(await conn.hget(groupKeys(prefix, 'n1').moved, 'n1.c0')).toBe('n2');

    const seen: string[] = [];
    const w = new Worker(nodeQueueName('n2'), async (job) => void seen.push(job.id!), { connection: conn, prefix });
    try {
      await until(async () => seen.length === 21, 15_000, 'the moved jobs to run on n2');
      expect(new Set(seen).size).toBe(21);
    } finally {
      await w.close();
    }
  }, 30_000);

  it('refuses a move across slot groups; the Cluster itself refuses the script sent across slots', async () => {
    await queueFor('n1').add('echo', {}, { jobId: 'n1.stay' });
    await expect(moveWaitingJobs(conn, { prefix, from: 'n1', to: 'n11', max: 1 })).rejects.toThrow(/only within a slot group/);
    const k = (n: string, s: string) => bullKey(prefix, nodeQueueName(n), s);
    const g = groupKeys(prefix, 'n1');
    const crossSlot = scripts.moveJobs.run(
      conn,
      [k('n1', 'wait'), k('n1', 'prioritized'), k('n1', 'events'), k('n11', 'wait'), k('n11', 'prioritized'), k('n11', 'pc'), k('n11', 'marker'), k('n11', 'meta'), k('n11', 'active'), k('n11', 'events'), g.moved, g.fence],
      [k('n1', ''), k('n11', ''), 1, 'n11', '', ''],
    );
    await expect(crossSlot).rejects.toThrow(/CROSSSLOT/);
    expect(await queueFor('n1').getJobCounts('wait')).toEqual({ wait: 1 });
  });

  it('a parked task reaches a node in another slot group: claimed, delivered under its id, parked copy gone', async () => {
    const parked = queueFor(PARKED_NODE);
    await parked.add('gpu-job', { payload: 1 }, { jobId: 'parked.p1', attempts: 3 });
    const token = await new Lease(conn, prefix, 'leader', 5000).renew();
    const target: NodeView = { id: 'n21', agents: [{ id: 'a1', type: 'gpu', capabilities: [], taskTypes: ['gpu-job'], capacity: 1, live: true }], waiting: 0, active: 0 };
    const moved = await unparkTasks({ redis: conn, prefix, token, queueFor }, [target]);
    expect(moved).toEqual([{ id: 'parked.p1', to: 'n21' }]);
    const job = await queueFor('n21').getJob('parked.p1');
    expect(job?.data).toEqual({ payload: 1 });
    expect(job?.opts.attempts).toBe(3);
    expect(await job?.getState()).toBe('waiting');
    expect(await parked.getJob('parked.p1')).toBeUndefined();
    expect(await conn.scard(groupKeys(prefix, PARKED_NODE).unparking)).toBe(0);
    expect(await conn.hget(groupKeys(prefix, PARKED_NODE).moved, 'parked.p1')).toBe('n21');
  });
});
