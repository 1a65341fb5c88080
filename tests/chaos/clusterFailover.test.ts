// Losing a Redis Cluster master while tasks flow: three masters with a
// replica each and a short cluster-node-timeout; the master serving a slot
// group of node queues (or, in another case, the swarm's own slot) is
// SIGKILLed, its replica is promoted, and the coordinator, the host and the
// client that were running carry on without a restart. With `replicated`
// durability no acknowledged task is lost and none completes twice; with the
// default the figures are printed (a loss there is what `fast` allows).
import { afterEach, describe, expect, it } from 'vitest';
import { nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { startCluster, type TestCluster } from '../support/cluster.ts';
import { runThroughFailover } from '../support/failoverRun.ts';
import { uniquePrefix } from '../support/redis.ts';
import type { Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';
import type { SwarmClient } from '../../src/client/swarmClient.ts';

let cluster: TestCluster | undefined;
let stack: Stack | undefined;
let client: SwarmClient | undefined;

afterEach(async () => {
  await client?.close().catch(() => {});
  await stack?.stop().catch(() => {});
  await cluster?.stop();
  cluster = stack = client = undefined;
});

async function run(durability: 'fast' | 'replicated', victim: 'group' | 'swarm') {
  cluster = await startCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 });
  const prefix = uniquePrefix(`fo${victim}`);
  // One agent a node: twelve nodes in two slot groups, on different masters.
  const config = testConfig({ url: cluster.url } as never, {
    prefix,
    durability: { mode: durability },
    coordinator: { maxAgentsPerNode: 1 },
  });
  const key = victim === 'group' ? `${prefix}:${nodeQueueName('n1')}` : swarmKeys(prefix).stats;
  const master = await cluster.masterOf(key);
  const figures = await runThroughFailover({
    config,
    kill: async () => {
      await master.server.kill('SIGKILL');
      // Once its replica has taken over, the old master comes back (nodes.conf) as the new one's replica,
      // as an operator's restart would: until then the promoted master has no replica to confirm writes.
      await until(async () => (await cluster!.masterOf(key)).port !== master.port, 15_000, 'the replica to take over');
      await master.server.start();
    },
    log: (l) => console.log(l),
  });
  stack = figures.stack;
  client = figures.client;
  const { acknowledged, refused, lost, completedTwice, recoveredMs } = figures;
  console.log(`cluster failover (${victim} master ${master.port}), durability ${durability}: ${JSON.stringify({ acknowledged, refused, lost, completedTwice, recoveredMs })}`);
  // The replica took over, and every process carries on: a new task runs to completion.
  expect((await cluster.masterOf(key)).port).not.toBe(master.port);
  const after = await client.submit({ type: 'work', payload: { ms: 1 } });
  expect((await client.waitFor(after.id, { timeoutMs: 10_000 })).state).toBe('completed');
  const viaHttp = await stack.request('POST', '/api/tasks', { type: 'work', payload: { ms: 1 } });
  expect(viaHttp.status, JSON.stringify(viaHttp.body)).toBe(202);
  expect(acknowledged).toBeGreaterThan(50);
  if (victim === 'swarm') {
    // The host announced its connection again, on the promoted master, and the monitor finds it open there.
    const now = await cluster.masterOf(key);
    const mark = await until(async () => {
      const r = cluster!.connect();
      try {
        const v = await r.hget(swarmKeys(prefix).hostConnections, 'h1');
        return v?.endsWith(`@127.0.0.1:${now.port}`) ? v : undefined;
      } finally {
        r.disconnect();
      }
    }, 5000, 'the host to announce its connection on the new master');
    expect(mark).toMatch(/^[0-9]+@/);
    const h1 = await until(async () => stack!.coordinator.health.hosts().find((h) => h.host === 'h1' && h.connection === 'open'), 5000, 'the monitor to see the host connection open');
    expect(h1.connection).toBe('open');
  }
  return figures;
}

describe('a Redis Cluster master SIGKILLed mid-run', () => {
  it('replicated: the master of a slot group of nodes; nothing acknowledged is lost or completed twice', async () => {
    const f = await run('replicated', 'group');
    expect(f.lost).toBe(0);
    expect(f.completedTwice).toBe(0);
  }, 45_000);

  it("replicated: the master of the swarm's slot; nothing acknowledged is lost or completed twice", async () => {
    const f = await run('replicated', 'swarm');
    expect(f.lost).toBe(0);
    expect(f.completedTwice).toBe(0);
  }, 45_000);

  it('fast (the default): the master of a slot group; figures printed', async () => {
    await run('fast', 'group');
  }, 45_000);
});
