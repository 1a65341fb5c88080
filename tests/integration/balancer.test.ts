// Work stealing and rebalancing on real queues: everything routed to one node of
// ten, and the others take their share; the lease's fencing token guards moves.
import { describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { AgentHost } from '../../src/agents/host.ts';
import type { RebalancedEvent } from '../../src/balancer/balancer.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { Lease } from '../../src/coordinator/lease.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { moveWaitingJobs, raiseFence } from '../../queues/moveJobs.ts';
import { nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { newTaskId } from '../../src/tasks/ids.ts';
import { redisForFile } from '../support/redis.ts';
import { testConfig, until } from '../support/swarm.ts';

const redis = redisForFile();

describe('balancer', () => {
  it('skew: 10 nodes, every task routed to one; the others steal and finish their share, each task once', async () => {
    const config = testConfig(redis, { coordinator: { workStealing: { intervalMs: 50 } } });
    const host = new AgentHost({ config, hostId: 'sk', agents: [{ type: 'w', count: 100 }], processors: builtinProcessors, logger: silentLogger });
    await host.start();
    const coordinator = new Coordinator({ config, logger: silentLogger, intake: false });
    const events: RebalancedEvent[] = [];
    coordinator.balancer.on('load:rebalanced', (e) => events.push(e));
    await coordinator.start();
    const client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
    try {
      // Straight into n1's queue, as a router with a stale view (or raw BullMQ) would.
      const q = new Queue(nodeQueueName('n1'), { connection: redis.connection, prefix: config.prefix });
      const ids = Array.from({ length: 600 }, () => newTaskId('n1'));
      await q.addBulk(ids.map((id, i) => ({ name: 'sleep', data: { payload: { ms: 10 + (i % 4) * 10 } }, opts: { jobId: id } })));
      const done = await Promise.all(ids.map((id) => client.waitFor(id, { timeoutMs: 60_000 })));
      expect(done.filter((t) => t.state !== 'completed' || t.attempts !== 1)).toEqual([]);
      const nodeOfAgent = new Map(host.agents().map((a) => [a.id, a.node]));
      const perNode = new Map<string, number>();
      for (const t of done) perNode.set(nodeOfAgent.get(t.agentId!)!, (perNode.get(nodeOfAgent.get(t.agentId!)!) ?? 0) + 1);
      // Generous bounds (a loaded CI box slows the balancer's rounds); without moves n1 runs all 600.
      expect(perNode.size, JSON.stringify([...perNode])).toBeGreaterThanOrEqual(6);
      expect(perNode.get('n1')!, JSON.stringify([...perNode])).toBeLessThan(450);
      expect(events.length, 'load:rebalanced events').toBeGreaterThan(0);
      // The first round takes from the overloaded node, and gives it nothing. (One loaded
      // Cluster run's first event also held a move out of n8, not yet explained,
      // so "only from n1" is not asserted.)
      expect(events[0]!.moves.some((m) => m.from === 'n1'), JSON.stringify(events[0])).toBe(true);
      expect(events[0]!.moves.some((m) => m.to === 'n1'), JSON.stringify(events[0])).toBe(false);
      // The event stream has them too, for dashboards.
      expect(await redis.connection.xlen(swarmKeys(config.prefix).events)).toBeGreaterThan(0);
      // A task found wherever it ran: the moved ones name their new node.
      expect(done.some((t) => t.node !== 'n1')).toBe(true);
      await q.close();
    } finally {
      await client.close();
      await coordinator.stop();
      await host.stop(1000);
    }
  }, 90_000);

  it('waitForAgent: a task no agent can run yet waits parked, and runs once a capable agent joins', async () => {
    const config = testConfig(redis, { coordinator: { workStealing: { intervalMs: 50 } } });
    const first = new AgentHost({ config, hostId: 'early', agents: [{ type: 'w', count: 2 }], processors: builtinProcessors, logger: silentLogger });
    await first.start();
    const coordinator = new Coordinator({ config, logger: silentLogger, intake: false });
    await coordinator.start();
    const client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
    let late: AgentHost | undefined;
    try {
      await expect(client.submit({ type: 'echo', affinity: { agentType: 'latecomer' } })).rejects.toThrow(/no agent runs "echo"/);
      const { id, node } = await client.submit({ type: 'echo', payload: 'finally', affinity: { agentType: 'latecomer' }, waitForAgent: true });
      expect(node).toBe('parked');
      await new Promise((r) => setTimeout(r, 300));
      expect((await client.get(id))?.state).toBe('waiting'); // nobody can run it yet, and nobody wrongly did
      late = new AgentHost({ config, hostId: 'late', agents: [{ type: 'latecomer', count: 1 }], processors: builtinProcessors, logger: silentLogger });
      await late.start();
      const t = await client.waitFor(id, { timeoutMs: 15_000 });
      expect(t).toMatchObject({ state: 'completed', result: 'finally', agentId: 'late-a1' });
      expect(t.node).toBe(late.agents()[0]!.node);
    } finally {
      await client.close();
      await coordinator.stop();
      await late?.stop(500);
      await first.stop(500);
    }
  }, 60_000);

  it('one lease at a time; a lapsed leader’s token moves nothing', async () => {
    const prefix = testConfig(redis).prefix;
    const a = new Lease(redis.connection, prefix, 'a', 300);
    const b = new Lease(redis.connection, prefix, 'b', 300);
    const ta = await a.renew();
    expect(ta).toBeGreaterThan(0);
    expect(await b.renew()).toBe(0);
    expect(await a.renew()).toBe(ta); // renewing keeps the token
    await new Promise((r) => setTimeout(r, 400)); // a pauses past its lease
    const tb = await b.renew();
    expect(tb).toBeGreaterThan(ta);
    expect(await moveWaitingJobs(redis.connection, { prefix, from: 'n1', to: 'n2', max: 5, fence: { token: String(ta) } })).toBe(0); // no newer leader seen here yet
    expect(await raiseFence(redis.connection, prefix, 'n1', tb)).toBe(tb); // what b's balancer does to every group on taking over
    const q = new Queue(nodeQueueName('n1'), { connection: redis.connection, prefix });
    await q.add('echo', {}, { jobId: 'n1.x' });
    await expect(moveWaitingJobs(redis.connection, { prefix, from: 'n1', to: 'n2', max: 5, fence: { token: String(ta) } })).rejects.toThrow(/no longer current/);
    expect(await moveWaitingJobs(redis.connection, { prefix, from: 'n1', to: 'n2', max: 5, fence: b.fence()! })).toBe(1);
    await q.close();
  });
});
