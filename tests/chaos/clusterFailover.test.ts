// Losing a Redis Cluster master while tasks flow (tests/support/failoverRun.ts:
// three masters with a replica each, a short cluster-node-timeout). The master
// serving a slot group of node queues (or, in another case, the swarm's own
// slot) is SIGKILLed, its replica is promoted, and the coordinator, the host
// and the client that were running carry on without a restart. With
// `replicated` durability no acknowledged task is lost and none completes
// twice; with the default the figures are printed (a loss there is what
// `fast` allows; `npm run bench -- cluster` records them).
import { afterEach, describe, expect, it } from 'vitest';
import { swarmKeys } from '../../queues/keys.ts';
import { clusterFailover, type ClusterFailover, type Durability } from '../support/failoverRun.ts';
import { until } from '../support/swarm.ts';

let run: ClusterFailover | undefined;

afterEach(async () => {
  await run?.stop();
  run = undefined;
});

async function failover(durability: Durability, victim: 'group' | 'swarm'): Promise<ClusterFailover> {
  const f = (run = await clusterFailover(durability, victim, (l) => console.log(l)));
  const { acknowledged, refused, lost, completedTwice, recoveredMs, cluster, client, stack, key, killed, prefix } = f;
  console.log(`cluster failover (${victim} master ${killed.port}), durability ${durability}: ${JSON.stringify({ acknowledged, refused, lost, completedTwice, recoveredMs })}`);
  // The replica took over, and every process carries on: a new task runs to completion.
  expect((await cluster.masterOf(key)).port).not.toBe(killed.port);
  const after = await client.submit({ type: 'work', payload: { ms: 1 } });
  expect((await client.waitFor(after.id, { timeoutMs: 10_000 })).state).toBe('completed');
  const viaHttp = await stack.request('POST', '/api/tasks', { type: 'work', payload: { ms: 1 } });
  expect(viaHttp.status, JSON.stringify(viaHttp.body)).toBe(202);
  expect(acknowledged).toBeGreaterThan(50);
  if (victim === 'swarm') {
    // The host announced its connection again, on the promoted master, and the monitor finds it open there.
    const now = await cluster.masterOf(key);
    const mark = await until(async () => {
      const r = cluster.connect();
      try {
        const v = await r.hget(swarmKeys(prefix).hostConnections, 'h1');
        return v?.endsWith(`@127.0.0.1:${now.port}`) ? v : undefined;
      } finally {
        r.disconnect();
      }
    }, 5000, 'the host to announce its connection on the new master');
    expect(mark).toMatch(/^[0-9]+@/);
    const h1 = await until(async () => stack.coordinator.health.hosts().find((h) => h.host === 'h1' && h.connection === 'open'), 5000, 'the monitor to see the host connection open');
    expect(h1.connection).toBe('open');
  }
  return f;
}

describe('a Redis Cluster master SIGKILLed mid-run', () => {
  it('replicated: the master of a slot group of nodes; nothing acknowledged is lost or completed twice', async () => {
    const f = await failover('replicated', 'group');
    expect(f.lost).toBe(0);
    expect(f.completedTwice).toBe(0);
  }, 150_000);

  it("replicated: the master of the swarm's slot; nothing acknowledged is lost or completed twice", async () => {
    const f = await failover('replicated', 'swarm');
    expect(f.lost).toBe(0);
    expect(f.completedTwice).toBe(0);
  }, 150_000);

  it('fast (the default): the master of a slot group; figures printed', async () => {
    await failover('fast', 'group');
  }, 150_000);
});
