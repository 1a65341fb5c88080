// Skew across slot groups on a three-master Redis Cluster: every task on g1's
// nodes while g2's idle; the groups' slots sit on different masters, so the
// move is a claim in g1's slot and a landing in g2's, and each task runs once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import type { Cluster } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentHost } from '../../src/agents/host.ts';
import type { RebalancedEvent } from '../../src/balancer/balancer.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { groupKeys, nodeQueueName, slotGroupOf } from '../../queues/keys.ts';
import { keySlot } from '../../queues/slotPipeline.ts';
import { newTaskId } from '../../src/tasks/ids.ts';
import { startCluster, type TestCluster } from '../support/cluster.ts';
import { uniquePrefix } from '../support/redis.ts';
import { testConfig } from '../support/swarm.ts';

let cluster: TestCluster;
let conn: Cluster;
beforeAll(async () => {
  cluster = await startCluster(3);
  conn = cluster.connect();
}, 60_000);
afterAll(async () => {
  await conn?.quit().catch(() => {});
  await cluster?.stop();
});

describe('moves between slot groups on a Redis Cluster', () => {
  it('all tasks on g1’s nodes, g2 idle: g2 gets its share, each task runs once and reads where it ran', async () => {
    const config = testConfig({ url: cluster.url } as never, { prefix: uniquePrefix('xgc'), coordinator: { maxAgentsPerNode: 1, workStealing: { intervalMs: 50 } } });
    expect(config.redis.kind).toBe('cluster');
    const g1 = groupKeys(config.prefix, 'g1');
    const g2 = groupKeys(config.prefix, 'g2');
    expect((await cluster.masterOf(g1.moving)).port).not.toBe((await cluster.masterOf(g2.moving)).port);
    expect(keySlot(g1.moving)).not.toBe(keySlot(g2.moving));
    const runs = new Map<string, number>();
    const processors = {
      ...builtinProcessors,
      count: async (_p: unknown, ctx: { taskId: string }) => {
        runs.set(ctx.taskId, (runs.get(ctx.taskId) ?? 0) + 1);
        // Long enough (g1 alone would take 2.4 s) that the cross-group rounds move g2's share on a loaded box too.
        await sleep(120);
        return 'ok';
      },
    };
    const host = new AgentHost({ config, hostId: 'xc', agents: [{ type: 'w', count: 20 }], processors, logger: silentLogger });
    await host.start();
    const nodeOfAgent = new Map(host.agents().map((a) => [a.id, a.node]));
    const coordinator = new Coordinator({ config, logger: silentLogger, intake: false });
    const events: RebalancedEvent[] = [];
    coordinator.balancer.on('load:rebalanced', (e) => events.push(e));
    await coordinator.start();
    const client = new SwarmClient({ redis: cluster.url, prefix: config.prefix });
    const queues: Queue[] = [];
    try {
      const ids: string[] = [];
      for (let i = 1; i <= 10; i++) {
        const q = new Queue(nodeQueueName(`n${i}`), { connection: conn, prefix: config.prefix });
        queues.push(q);
        const batch = Array.from({ length: 20 }, () => newTaskId(`n${i}`));
        await q.addBulk(batch.map((id) => ({ name: 'count', data: { payload: {} }, opts: { jobId: id } })));
        ids.push(...batch);
      }
      const done = await Promise.all(ids.map((id) => client.waitFor(id, { timeoutMs: 60_000 })));
      expect(done.filter((t) => t.state !== 'completed')).toEqual([]);
      expect(runs.size).toBe(200);
      expect([...runs.values()].filter((n) => n !== 1)).toEqual([]);
      const inG2 = done.filter((t) => slotGroupOf(nodeOfAgent.get(t.agentId!)!) === 'g2');
      expect(inG2.length, `${inG2.length} of 200 ran in g2`).toBeGreaterThanOrEqual(40);
      // Read where they ran: the node a task reads is its agent's.
      for (const t of inG2) expect(t.node).toBe(nodeOfAgent.get(t.agentId!));
      expect(events.some((e) => e.moves.some((m) => m.reason === 'cross-group'))).toBe(true);
      expect(await conn.hlen(g1.moving)).toBe(0);
    } finally {
      for (const q of queues) await q.close();
      await client.close();
      await coordinator.stop();
      await host.stop(1000);
    }
  }, 90_000);
});
