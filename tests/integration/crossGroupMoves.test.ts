// Moving waiting work between slot groups on one Redis: a group loaded while
// another idles is evened out; a mover that dies between the steps loses and
// duplicates nothing; a moved task is read and cancelled where it went.
import { describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentHost } from '../../src/agents/host.ts';
import type { RebalancedEvent } from '../../src/balancer/balancer.ts';
import { finishPendingMoves } from '../../src/balancer/crossMoves.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { silentLogger } from '../../src/log.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { claimCrossMove, claimedJobs, landCrossMove } from '../../queues/crossMove.ts';
import { bullKey, groupKeys, nodeQueueName, slotGroupOf, swarmKeys } from '../../queues/keys.ts';
import { moveWaitingJobs } from '../../queues/moveJobs.ts';
import { newTaskId } from '../../src/tasks/ids.ts';
import { takeCheckpoint } from '../../src/checkpoint/read.ts';
import { redisForFile } from '../support/redis.ts';
import { testConfig } from '../support/swarm.ts';

const redis = redisForFile();

/** A processor that counts its runs per task: a task added twice runs twice. */
function counting(ms: number): { processors: ProcessorMap; runs: Map<string, number> } {
  const runs = new Map<string, number>();
  return {
    runs,
    processors: {
      ...builtinProcessors,
      count: async (_payload, ctx) => {
        runs.set(ctx.taskId, (runs.get(ctx.taskId) ?? 0) + 1);
        await sleep(ms);
        return 'ok';
      },
    },
  };
}

async function addTo(q: Queue, node: string, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => newTaskId(node));
  await q.addBulk(ids.map((id) => ({ name: 'count', data: { payload: {} }, opts: { jobId: id } })));
  return ids;
}

describe('moves between slot groups', () => {
  it('every node of g1 loaded, g2 idle: the within-group balancer has nothing to even out, the cross-group one sends g2 its share; each task runs once', async () => {
    // One agent a node: n1–n10 are g1, n11–n20 g2.
    const config = testConfig(redis, { coordinator: { maxAgentsPerNode: 1, workStealing: { intervalMs: 50 } } });
    // 300 tasks of 80 ms on g1's ten agents: 2.4 s of work for the balancer's rounds to share out (at 40 ms a loaded
    // CI box ran 55 of them in g2, its rounds late while g1 emptied).
    const { processors, runs } = counting(80);
    const host = new AgentHost({ config, hostId: 'xg', agents: [{ type: 'w', count: 20 }], processors, logger: silentLogger });
    await host.start();
    const nodeOfAgent = new Map(host.agents().map((a) => [a.id, a.node]));
    expect(new Set([...nodeOfAgent.values()].map(slotGroupOf))).toEqual(new Set(['g1', 'g2']));
    const coordinator = new Coordinator({ config, logger: silentLogger, intake: false });
    const events: RebalancedEvent[] = [];
    coordinator.balancer.on('load:rebalanced', (e) => events.push(e));
    await coordinator.start();
    const client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
    const queues: Queue[] = [];
    try {
      const ids: string[] = [];
      for (let i = 1; i <= 10; i++) {
        const q = new Queue(nodeQueueName(`n${i}`), { connection: redis.connection, prefix: config.prefix });
        queues.push(q);
        ids.push(...(await addTo(q, `n${i}`, 30)));
      }
      const done = await Promise.all(ids.map((id) => client.waitFor(id, { timeoutMs: 60_000 })));
      expect(done.filter((t) => t.state !== 'completed')).toEqual([]);
      expect([...runs.values()].filter((n) => n !== 1)).toEqual([]);
      expect(runs.size).toBe(300);
      const inG2 = done.filter((t) => slotGroupOf(nodeOfAgent.get(t.agentId!)!) === 'g2').length;
      // Even would be 150; without cross-group moves g2 runs none. Generous for a loaded box.
      expect(inG2, `${inG2} of 300 ran in g2`).toBeGreaterThanOrEqual(60);
      expect(events.some((e) => e.moves.some((m) => m.reason === 'cross-group' && slotGroupOf(m.from) === 'g1' && slotGroupOf(m.to) === 'g2'))).toBe(true);
      // The tasks read where they ran, and no claim is left.
      const moved = done.find((t) => slotGroupOf(t.node) === 'g2')!;
      expect(slotGroupOf(nodeOfAgent.get(moved.agentId!)!)).toBe('g2');
      expect(await redis.connection.hlen(groupKeys(config.prefix, 'g1').moving)).toBe(0);
    } finally {
      for (const q of queues) await q.close();
      await client.close();
      await coordinator.stop();
      await host.stop(1000);
    }
  }, 90_000);

  it('a mover that dies after claiming (step 1) leaves the claim to the next round: every task runs exactly once', async () => {
    const config = testConfig(redis, { coordinator: { maxAgentsPerNode: 1, workStealing: { intervalMs: 50 } } });
    const { prefix } = config;
    const q = new Queue(nodeQueueName('n1'), { connection: redis.connection, prefix });
    const client = new SwarmClient({ redis: redis.url, prefix });
    const { processors, runs } = counting(10);
    let host: AgentHost | undefined;
    let coordinator: Coordinator | undefined;
    try {
      const ids = await addTo(q, 'n1', 30);
      // Step 1 only, by a mover that then dies: 10 tasks out of n1's queue, recorded for n11.
      const claimed = await claimCrossMove(redis.connection, { prefix, from: 'n1', to: 'n11', max: 10, token: 1, claim: '1.dead-mover' });
      expect(claimed).toHaveLength(10);
      expect(claimed).toEqual(ids.slice(-10).reverse()); // the newest
      expect(await q.getWaitingCount()).toBe(20);
      expect(await redis.connection.hlen(groupKeys(prefix, 'g1').moving)).toBe(10);
      // Between the steps the task reads as waiting where it was, and a cancel is refused for now, not lost.
      expect(await client.get(claimed[0]!)).toMatchObject({ state: 'waiting', node: 'n1' });
      await expect(client.cancel(claimed[0]!)).rejects.toThrow(/is being moved between nodes \(waiting\); retry the cancel in a moment/);

      host = new AgentHost({ config, hostId: 'cr', agents: [{ type: 'w', count: 20 }], processors, logger: silentLogger });
      await host.start();
      coordinator = new Coordinator({ config, logger: silentLogger, intake: false });
      await coordinator.start();
      const done = await Promise.all(ids.map((id) => client.waitFor(id, { timeoutMs: 30_000 })));
      expect(done.filter((t) => t.state !== 'completed')).toEqual([]);
      expect(runs.size).toBe(30);
      expect([...runs.values()].filter((n) => n !== 1)).toEqual([]);
      // The claimed ones landed in g2 under the dead mover's claim (the balancer may have sent some on since, even back to g1).
      for (const id of claimed) expect(await redis.connection.zscore(groupKeys(prefix, 'g2').arrivals, `1.dead-mover|${id}`), id).not.toBeNull();
      expect(await redis.connection.hlen(groupKeys(prefix, 'g1').moving)).toBe(0);
      // The old job hashes in n1's queue are gone (unless the balancer sent the task back to n1 since).
      for (const id of claimed) {
        if ((await client.get(id))!.node !== 'n1') expect(await redis.connection.exists(bullKey(prefix, nodeQueueName('n1'), id)), id).toBe(0);
      }
    } finally {
      await q.close();
      await client.close();
      await coordinator?.stop();
      await host?.stop(1000);
    }
  }, 60_000);

  it('landed but not finished (step 2 done, the mover dead): a cancel at the new node holds, and finishing the claim again adds nothing', async () => {
    const config = testConfig(redis);
    const { prefix } = config;
    const q = new Queue(nodeQueueName('n1'), { connection: redis.connection, prefix });
    const target = new Queue(nodeQueueName('n11'), { connection: redis.connection, prefix });
    const client = new SwarmClient({ redis: redis.url, prefix });
    try {
      const ids = await addTo(q, 'n1', 3);
      const claimed = await claimCrossMove(redis.connection, { prefix, from: 'n1', to: 'n11', max: 3, token: 1, claim: '1.c' });
      const jobs = await claimedJobs(redis.connection, prefix, 'n1', claimed);
      expect(jobs).toHaveLength(3);
      expect(await landCrossMove(redis.connection, prefix, '1.c', 'n11', jobs)).toBe(3);
      // The mover dies here. Readers follow g1's moved record into g2.
      for (const id of ids) expect(await client.get(id)).toMatchObject({ state: 'waiting', node: 'n11' });
      expect(await client.cancel(ids[0]!)).toMatchObject({ state: 'cancelled', node: 'n11' });
      // The deposed mover resumes and lands again, and the next owner finishes the claim: nothing is added twice, the cancelled task stays so.
      expect(await landCrossMove(redis.connection, prefix, '1.c', 'n11', jobs)).toBe(0);
      expect(await finishPendingMoves({ redis: redis.connection, prefix, logger: silentLogger }, ['g1'])).toBe(0);
      expect(await landCrossMove(redis.connection, prefix, '1.c', 'n11', jobs)).toBe(0);
      expect(await client.get(ids[0]!)).toMatchObject({ state: 'cancelled' });
      expect((await target.getWaiting()).map((j) => j.id).sort()).toEqual(ids.slice(1).sort());
      expect(await q.getWaitingCount()).toBe(0);
      expect(await redis.connection.hlen(groupKeys(prefix, 'g1').moving)).toBe(0);
      for (const id of ids) expect(await redis.connection.exists(bullKey(prefix, nodeQueueName('n1'), id))).toBe(0);
      // A task cancelled before it is claimed is not claimed at all.
      const [late] = await addTo(q, 'n1', 1);
      expect(await client.cancel(late!)).toMatchObject({ state: 'cancelled', node: 'n1' });
      expect(await claimCrossMove(redis.connection, { prefix, from: 'n1', to: 'n11', max: 5, token: 1, claim: '1.d' })).toEqual([]);
      // A deposed owner's claim is refused.
      await addTo(q, 'n1', 1);
      await redis.connection.set(groupKeys(prefix, 'g1').fence, '5');
      await expect(claimCrossMove(redis.connection, { prefix, from: 'n1', to: 'n11', max: 5, token: 4, claim: '4.e' })).rejects.toThrow(/no longer current/);
    } finally {
      await q.close();
      await target.close();
      await client.close();
    }
  });

  it('a checkpoint carries a task claimed but not landed once, under its target node, and a landed one once', async () => {
    const config = testConfig(redis);
    const { prefix } = config;
    const q = new Queue(nodeQueueName('n1'), { connection: redis.connection, prefix });
    try {
      // Nodes n1..n20 were made (a checkpoint reads the queues of every node made), in groups g1 and g2.
      await redis.connection.set(swarmKeys(prefix).nodeSeq, '20');
      const ids = await addTo(q, 'n1', 4);
      const claimed = await claimCrossMove(redis.connection, { prefix, from: 'n1', to: 'n11', max: 4, token: 1, claim: '1.cp' });
      expect(claimed).toHaveLength(4);
      // Between the steps the tasks are in no queue: the file still has each once, where the landing puts it.
      const mid = (await takeCheckpoint(redis.connection, prefix)).checkpoint;
      const carried = (cp: typeof mid) => cp.tasks.filter((t) => ids.includes(t.id)).map((t) => `${t.id}@${t.queue}:${t.state}`).sort();
      expect(carried(mid)).toEqual(ids.map((id) => `${id}@${nodeQueueName('n11')}:waiting`).sort());
      // Landed, claim not finished: the queue's copy is the task, carried once.
      await landCrossMove(redis.connection, prefix, '1.cp', 'n11', await claimedJobs(redis.connection, prefix, 'n1', claimed));
      expect(carried((await takeCheckpoint(redis.connection, prefix)).checkpoint)).toEqual(carried(mid));
    } finally {
      await q.close();
    }
  });

  it('a task that goes g1 → g2 → g1 reads where it is at every step, priorities and data intact', async () => {
    const config = testConfig(redis);
    const { prefix } = config;
    const q = new Queue(nodeQueueName('n1'), { connection: redis.connection, prefix });
    const client = new SwarmClient({ redis: redis.url, prefix });
    try {
      const id = newTaskId('n1');
      await q.add('count', { payload: { keep: 'me' } }, { jobId: id, priority: 3 });
      const mv = async (from: string, to: string, claim: string) => {
        const got = await claimCrossMove(redis.connection, { prefix, from, to, max: 5, token: 1, claim });
        expect(got).toEqual([id]);
        return landCrossMove(redis.connection, prefix, claim, to, await claimedJobs(redis.connection, prefix, from, got));
      };
      expect(await mv('n1', 'n12', '1.a')).toBe(1);
      expect(await client.get(id)).toMatchObject({ state: 'waiting', node: 'n12' });
      // On within g2 (g2's record), then back to g1 before the first claim was finished: that claim is settled by the landing, the stale hash goes.
      expect(await moveWaitingJobs(redis.connection, { prefix, from: 'n12', to: 'n13', max: 1 })).toBe(1);
      expect(await client.get(id)).toMatchObject({ state: 'waiting', node: 'n13' });
      expect(await mv('n13', 'n3', '1.b')).toBe(1);
      expect(await client.get(id)).toMatchObject({ state: 'waiting', node: 'n3' });
      expect(await redis.connection.hlen(groupKeys(prefix, 'g1').moving)).toBe(0);
      expect(await redis.connection.exists(bullKey(prefix, nodeQueueName('n1'), id))).toBe(0);
      await finishPendingMoves({ redis: redis.connection, prefix, logger: silentLogger }, ['g1', 'g2']);
      const n3 = new Queue(nodeQueueName('n3'), { connection: redis.connection, prefix });
      const [job] = await n3.getPrioritized();
      expect(job).toMatchObject({ id, name: 'count', data: { payload: { keep: 'me' } } });
      expect(job!.opts.priority).toBe(3);
      expect(await n3.getPrioritizedCount()).toBe(1);
      expect(await client.get(id)).toMatchObject({ state: 'waiting', node: 'n3' });
      await n3.close();
    } finally {
      await q.close();
      await client.close();
    }
  });
});
