// Hibernation on a three-master Redis Cluster: nodes in two slot groups close
// their Workers when idle, the host's waker waits on their markers with one
// blocking connection per slot group (a blocking command's keys must share a
// slot there), and a task sent to a sleeping node of either group wakes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { nodeQueueName, slotGroupOf } from '../../queues/keys.ts';
import { AgentHost } from '../../src/agents/host.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { startCluster, type TestCluster } from '../support/cluster.ts';
import { uniquePrefix } from '../support/redis.ts';
import { testConfig, until } from '../support/swarm.ts';

let cluster: TestCluster;
let host: AgentHost;
let client: SwarmClient;
let prefix: string;
const woke: string[] = [];

beforeAll(async () => {
  cluster = await startCluster(3);
  // One agent a node: twelve nodes, n1–n10 in slot group g1 and n11, n12 in g2.
  prefix = uniquePrefix('ch');
  const config = testConfig({ url: cluster.url } as never, { prefix, coordinator: { maxAgentsPerNode: 1 }, agents: { hibernateAfterMs: 600 } });
  expect(config.redis.kind).toBe('cluster');
  host = new AgentHost({ config, hostId: 'sleepy', agents: [{ type: 'w', count: 12 }], processors: builtinProcessors, logger: silentLogger });
  host.on('woke', (n: string) => woke.push(n));
  await host.start();
  client = new SwarmClient({ redis: cluster.url, prefix: config.prefix, config: { coordinator: { maxAgentsPerNode: 1 } } });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await host?.stop(500);
  await cluster?.stop();
});

/** Names of this host's waker connections on every master, sorted, each once. */
async function wakerNames(): Promise<string[]> {
  const names = new Set<string>();
  for (const n of cluster.nodes) {
    const r = new Redis(n.port, n.host);
    const list = String(await r.client('LIST').finally(() => r.disconnect()));
    for (const m of list.matchAll(/ name=(swarmq:waker:sleepy\S*) /g)) names.add(m[1]!);
  }
  return [...names].sort();
}

describe('hibernation on a Redis Cluster', () => {
  it('waits per slot group, and a task wakes a sleeping node in either group', async () => {
    await until(async () => host.hibernatingNodes().length === 12, 15_000, 'all twelve nodes to hibernate');
    // One waker wait per slot group, each a Cluster client named for its group (on every master it reaches).
    await until(async () => (await wakerNames()).join() === 'swarmq:waker:sleepy:g1,swarmq:waker:sleepy:g2', 5_000, 'one waker wait per slot group');

    const ids = await Promise.all(Array.from({ length: 24 }, (_, i) => client.submit({ type: 'echo', payload: i }).then((s) => s.id)));
    const done = await Promise.all(ids.map((id) => client.waitFor(id, { timeoutMs: 10_000 })));
    expect(done.map((t) => t.state)).toEqual(ids.map(() => 'completed'));
    const groups = new Set(done.map((t) => slotGroupOf(t.node)));
    expect(groups).toEqual(new Set(['g1', 'g2']));
    // Every node a task went to was woken (none was awake when they were sent).
    for (const t of done) expect(woke).toContain(t.node);
    // Woken within a generous bound (a benchmark measures latency; this is liveness).
    for (const t of done) expect(t.startedAt! - t.createdAt).toBeLessThan(3000);
  });

  it('a node that hibernates while the wait of its group is blocked is covered at once (the bell ends the wait)', async () => {
    await until(async () => host.hibernatingNodes().length === 12, 15_000, 'the nodes to hibernate again');
    // Wake n3 alone with a job put straight into its queue; the other g1 nodes stay in the blocked wait.
    const conn = cluster.connect();
    const n3 = new Queue(nodeQueueName('n3'), { connection: conn, prefix });
    try {
      const first = await n3.add('echo', 'alone');
      await until(async () => (await first.isCompleted()) || undefined, 10_000, 'n3 to run its job');
      await until(async () => host.hibernatingNodes().includes('n3'), 10_000, 'n3 to hibernate again, into a wait already blocked');
      await new Promise((r) => setTimeout(r, 200));
      // Without the bell, n3's marker joins the wait only at its 5 s re-check.
      const t0 = Date.now();
      const second = await n3.add('echo', 'again');
      await until(async () => (await second.isCompleted()) || undefined, 10_000, 'n3 to run its second job');
      const ran = await n3.getJob(second.id!);
      expect(ran!.processedOn! - t0).toBeLessThan(2500);
    } finally {
      await n3.close();
      conn.disconnect();
    }
  });
});
