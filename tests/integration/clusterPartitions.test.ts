// Two coordinators share slot groups on a three-master Redis Cluster: each
// group's lease lives in the group's own slot, membership in the swarm's; skew
// in both groups is balanced by each group's owner only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import type { Cluster } from 'ioredis';
import { AgentHost } from '../../src/agents/host.ts';
import type { RebalancedEvent } from '../../src/balancer/balancer.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { coordinatorsView } from '../../src/coordinator/coordinatorsView.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { silentLogger } from '../../src/log.ts';
import { ownerOf } from '../../src/partitions/assign.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { groupKeys, nodeQueueName, slotGroupOf } from '../../queues/keys.ts';
import { keySlot } from '../../queues/slotPipeline.ts';
import { newTaskId } from '../../src/tasks/ids.ts';
import { startCluster, type TestCluster } from '../support/cluster.ts';
import { idsSplitting } from '../support/partitions.ts';
import { uniquePrefix } from '../support/redis.ts';
import { testConfig, until } from '../support/swarm.ts';

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

describe('coordinators sharing partitions on a Redis Cluster', () => {
  it('two coordinators each hold and balance their own slot group', async () => {
    // One agent a node: n1–n10 in g1, n11 and n12 in g2, groups on different slots.
    const config = testConfig({ url: cluster.url } as never, { prefix: uniquePrefix('clp'), coordinator: { maxAgentsPerNode: 1, leaseMs: 1500, workStealing: { intervalMs: 50 } } });
    expect(config.redis.kind).toBe('cluster');
    expect(keySlot(groupKeys(config.prefix, 'g1').partition)).not.toBe(keySlot(groupKeys(config.prefix, 'g2').partition));
    const ids = idsSplitting(2, ['g1', 'g2'], 'cl');
    const host = new AgentHost({ config, hostId: 'ch', agents: [{ type: 'w', count: 12, capacity: 2 }], processors: builtinProcessors, logger: silentLogger });
    await host.start();
    const coordinators = ids.map((id) => new Coordinator({ config, logger: silentLogger, intake: false, id }));
    const moves: { by: string; e: RebalancedEvent }[] = [];
    for (const c of coordinators) c.balancer.on('load:rebalanced', (e) => moves.push({ by: c.partitions.id, e }));
    await Promise.all(coordinators.map((c) => c.start()));
    const client = new SwarmClient({ redis: cluster.url, prefix: config.prefix });
    const queues: Queue[] = [];
    try {
      const view = await until(async () => {
        const v = await coordinatorsView(conn, config.prefix);
        const g1 = v.coordinators.find((c) => c.groups.includes('g1'));
        const g2 = v.coordinators.find((c) => c.groups.includes('g2'));
        // The first to start held both for a round or two, until the other joined and it handed one over.
        return v.coordinators.length === 2 && g1?.id === ownerOf('g1', ids) && g2?.id === ownerOf('g2', ids) ? { g1: g1!.id, g2: g2!.id } : undefined;
      }, 10_000, 'each group held by its assigned coordinator');
      expect(view).toEqual({ g1: ownerOf('g1', ids), g2: ownerOf('g2', ids) });
      expect(view.g1).not.toBe(view.g2);

      const tasks: string[] = [];
      for (const node of ['n1', 'n11']) {
        const q = new Queue(nodeQueueName(node), { connection: conn, prefix: config.prefix });
        queues.push(q);
        const batch = Array.from({ length: 80 }, () => newTaskId(node));
        await q.addBulk(batch.map((id) => ({ name: 'sleep', data: { payload: { ms: 20 } }, opts: { jobId: id } })));
        tasks.push(...batch);
      }
      const done = await Promise.all(tasks.map((id) => client.waitFor(id, { timeoutMs: 30_000 })));
      expect(done.filter((t) => t.state !== 'completed')).toEqual([]);
      for (const { by, e } of moves) for (const m of e.moves) expect(ownerOf(slotGroupOf(m.from), ids), `${by} moved ${m.from} → ${m.to}`).toBe(by);
      expect(moves.some(({ by, e }) => by === view.g1 && e.moves.some((m) => m.from === 'n1'))).toBe(true);
      expect(moves.some(({ by, e }) => by === view.g2 && e.moves.some((m) => m.from === 'n11'))).toBe(true);
    } finally {
      for (const q of queues) await q.close();
      await client.close();
      await Promise.all(coordinators.map((c) => c.stop()));
      await host.stop(1000);
    }
  }, 60_000);
});
