// Three coordinators share the swarm's upkeep: slot groups, the parked queue and
// agent hosts are partitioned among them. Skew in two groups is balanced by each
// group's owner (and only by it); a host SIGKILLed is recovered by the owner of
// its partition, exactly once; GET /api/coordinators says who holds what; a
// coordinator stopping hands its partitions to the others at their next round.
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { AgentHost } from '../../src/agents/host.ts';
import { createApp } from '../../src/api/app.ts';
import type { RebalancedEvent } from '../../src/balancer/balancer.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { coordinatorsView } from '../../src/coordinator/coordinatorsView.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import type { RecoveryRecord } from '../../src/health/recovery.ts';
import { silentLogger } from '../../src/log.ts';
import { assignPartitions, ownerOf } from '../../src/partitions/assign.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { nodeQueueName, slotGroupOf, swarmKeys } from '../../queues/keys.ts';
import { newTaskId } from '../../src/tasks/ids.ts';
import { CliFleet } from '../support/cli.ts';
import { idsSplitting } from '../support/partitions.ts';
import { redisForFile } from '../support/redis.ts';
import { testConfig, until } from '../support/swarm.ts';

const redis = redisForFile();
const fleet = new CliFleet();
afterAll(() => fleet.killAll());

describe('coordinators sharing partitions', () => {
  it('each slot group is balanced by its owner only; a killed host is recovered once, by its owner; the API says who holds what', async () => {
    // Two agents a node: 24 agents make n1–n10 (slot group g1) and n11, n12 (g2).
    // Leases of 3 s (rounds every second): at 1.5 s a loaded CI box once let a partition's lease lapse mid-run, and the
    // next owner's moves in it failed the static-owner check below; a lapse is the failover the leases are for, not this test's.
    const config = testConfig(redis, { coordinator: { maxAgentsPerNode: 2, leaseMs: 3000, workStealing: { intervalMs: 50 } } });
    const ids = idsSplitting(3, ['g1', 'g2', 'host:px']);
    const host = new AgentHost({ config, hostId: 'pw', agents: [{ type: 'w', count: 24 }], processors: builtinProcessors, logger: silentLogger });
    await host.start();
    const coordinators = ids.map((id) => new Coordinator({ config, logger: silentLogger, intake: false, id }));
    const moves = new Map<string, RebalancedEvent[]>(ids.map((id) => [id, []]));
    const recoveries = new Map<string, RecoveryRecord[]>(ids.map((id) => [id, []]));
    for (const c of coordinators) {
      c.balancer.on('load:rebalanced', (e) => moves.get(c.partitions.id)!.push(e));
      c.health.on('recovery', (r) => recoveries.get(c.partitions.id)!.push(r));
    }
    await Promise.all(coordinators.map((c) => c.start()));
    const client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
    const app = createApp({ coordinator: coordinators[0]!, bodyLimitBytes: 1 << 20, logger: silentLogger });
    const server = app.listen(0);
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const queues: Queue[] = [];
    try {
      // Every live coordinator holds exactly what the assignment names it for.
      await until(async () => {
        const v = await coordinatorsView(redis.connection, config.prefix);
        const owners = assignPartitions(ids, ['g1', 'g2', 'parked', 'host:pw']);
        // The leader's lease is taken on its own round, which on a loaded box can come after the partitions'.
        return (
          v.coordinators.length === 3 &&
          v.leader !== null &&
          [...owners].every(([p, o]) => v.coordinators.find((c) => c.id === o)?.partitions.some((x) => x.name === p))
        );
      }, 10_000, 'every partition held by its assigned coordinator, and a leader');
      const res = await fetch(`${base}/api/coordinators`);
      expect(res.status).toBe(200);
      const view = (await res.json()) as Awaited<ReturnType<typeof coordinatorsView>>;
      expect(view.coordinators.map((c) => c.id)).toEqual([...ids].sort());
      expect(view.coordinators.filter((c) => c.leader)).toHaveLength(1);
      const g1 = view.coordinators.find((c) => c.groups.includes('g1'))!;
      const g2 = view.coordinators.find((c) => c.groups.includes('g2'))!;
      expect(g1.id).toBe(ownerOf('g1', ids));
      expect(g2.id).toBe(ownerOf('g2', ids));
      expect(g1.id).not.toBe(g2.id);
      for (const c of view.coordinators) for (const p of c.partitions) expect(p.expiresAt).toBeGreaterThan(view.at);
      expect((await fetch(`${base}/api/coordinators?x=1`)).status).toBe(400);

      // Skew in both groups, straight into one node of each as a stale router would.
      const tasks: string[] = [];
      for (const node of ['n1', 'n11']) {
        const q = new Queue(nodeQueueName(node), { connection: redis.connection, prefix: config.prefix });
        queues.push(q);
        const batch = Array.from({ length: 150 }, () => newTaskId(node));
        // Long enough that each owner's balancer moves some before the skewed node has run them all, on a loaded box too
        // (at 40–80 ms each, g2's owner once moved nothing out of n11 on a Cluster run in CI).
        await q.addBulk(batch.map((id, i) => ({ name: 'sleep', data: { payload: { ms: 80 + (i % 3) * 40 } }, opts: { jobId: id } })));
        tasks.push(...batch);
      }
      const done = await Promise.all(tasks.map((id) => client.waitFor(id, { timeoutMs: 60_000 })));
      expect(done.filter((t) => t.state !== 'completed' || t.attempts !== 1)).toEqual([]);
      // Each group's moves were made by its owner, with its token; nobody moved in a group it does not own.
      for (const [id, events] of moves) {
        for (const e of events) for (const m of e.moves) expect(ownerOf(slotGroupOf(m.from), ids), `${id} moved ${m.from} → ${m.to}`).toBe(id);
      }
      expect(moves.get(g1.id)!.some((e) => e.moves.some((m) => m.from === 'n1'))).toBe(true);
      expect(moves.get(g2.id)!.some((e) => e.moves.some((m) => m.from === 'n11'))).toBe(true);
      expect(done.some((t) => t.node === 'n12')).toBe(true); // g2's other node took a share

      // A host in its own process, SIGKILLed with nothing running: its partition's owner recovers it, once.
      const px = fleet.spawn(['agents', '--count', '2', '--type', 'w', '--host-id', 'px', '--redis-url', redis.url, '--prefix', config.prefix], {
        env: { SWARMQ_MAX_AGENTS_PER_NODE: '2' },
      });
      await px.waitFor(/agent host ready/);
      const owner = ownerOf('host:px', ids)!;
      await until(async () => coordinators.find((c) => c.partitions.id === owner)!.partitions.hosts().has('px'), 10_000, 'the owner to hold host:px');
      px.child.kill('SIGKILL');
      const record = await until(async () => recoveries.get(owner)!.find((r) => r.host === 'px' && r.state !== 'running'), 20_000, 'px recovered');
      expect(record.state, JSON.stringify(record.steps)).toBe('done');
      await new Promise((r) => setTimeout(r, 1000)); // time for a wrong second recovery to show
      const stored = Object.values(await redis.connection.hgetall(swarmKeys(config.prefix).recoveries)).map((r) => JSON.parse(r) as RecoveryRecord);
      expect(stored.filter((r) => r.host === 'px')).toHaveLength(1);
      for (const [id, list] of recoveries) if (id !== owner) expect(list.filter((r) => r.host === 'px')).toEqual([]);

      // A coordinator that stops hands its partitions back: the others hold them at their next round.
      const leaving = coordinators.find((c) => c.partitions.id === g2.id)!;
      await leaving.stop();
      coordinators.splice(coordinators.indexOf(leaving), 1);
      const rest = ids.filter((id) => id !== g2.id);
      await until(async () => {
        const v = await coordinatorsView(redis.connection, config.prefix);
        return v.coordinators.length === 2 && v.coordinators.find((c) => c.id === ownerOf('g2', rest))?.groups.includes('g2');
      }, 5000, 'g2 taken over within a round or two');
    } finally {
      server.close();
      for (const q of queues) await q.close();
      await client.close();
      await Promise.all(coordinators.map((c) => c.stop()));
      await host.stop(1000);
    }
  }, 60_000);
});
