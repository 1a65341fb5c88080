// Hibernation: a node whose agents on a host sit idle closes that host's Worker
// and its connection; new work wakes it and runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { AgentHost } from '../../src/agents/host.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { redisForFile } from '../support/redis.ts';
import { testConfig, until } from '../support/swarm.ts';

const redis = redisForFile();
let conn: Redis;
let host: AgentHost;
let client: SwarmClient;
// Listened for from before start: the first node may hibernate before the test body runs.
const hibernated: string[] = [];

beforeAll(async () => {
  conn = redis.connect();
  const config = testConfig(redis, { agents: { hibernateAfterMs: 800 } });
  host = new AgentHost({ config, hostId: 'sleepy', agents: [{ type: 'w', count: 25 }], processors: builtinProcessors, logger: silentLogger });
  host.on('hibernated', (n: string) => hibernated.push(n));
  await host.start();
  client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
});

afterAll(async () => {
  await client?.close();
  await host?.stop(500);
});

/**
 * Node Workers of this host with a connection open, by the name BullMQ gives
 * their blocking connection (<prefix>:<base64 queue>:w:<host>): one connection
 * each on one server; on a Cluster one per master the Worker has reached.
 */
async function nodeWorkerConnections(): Promise<number> {
  const list = (await conn.client('LIST')) as string;
  const queues = list
    .split('\n')
    .map((l) => /name=\S*?:([A-Za-z0-9+/=]+):w:sleepy /.exec(l)?.[1])
    .filter((b64) => b64 && Buffer.from(b64, 'base64').toString().startsWith('node-'));
  return new Set(queues).size;
}

describe('hibernation', () => {
  it('idle nodes close their Workers, and a task wakes its node and runs', async () => {
    // One Worker connection per node (a node may already be closing its own).
    const open = await nodeWorkerConnections();
    expect(open).toBeLessThanOrEqual(3);
    expect(open).toBeGreaterThanOrEqual(3 - hibernated.length);
    // The event comes once a node's Worker has closed, a moment after hibernatingNodes() counts it.
    await until(async () => host.hibernatingNodes().length === 3 && hibernated.length === 3, 10_000, 'all three nodes to hibernate');
    expect(hibernated.sort()).toEqual(['n1', 'n2', 'n3']);
    await until(async () => (await nodeWorkerConnections()) === 0, 5000, 'the node Worker connections to close');

    const woke: string[] = [];
    host.on('woke', (n) => woke.push(n));
    const { id, node } = await client.submit({ type: 'echo', payload: 'good morning' });
    const t = await client.waitFor(id, { timeoutMs: 10_000 });
    expect(t).toMatchObject({ state: 'completed', result: 'good morning' });
    expect(woke).toContain(node);
    // Woken within a generous bound (a benchmark measures it; this is liveness).
    expect(t.startedAt! - t.createdAt).toBeLessThan(2000);
    expect(host.hibernatingNodes()).not.toContain(node);
    // And it goes back to sleep when idle again.
    await until(async () => host.hibernatingNodes().length === 3, 10_000, 'the woken node to hibernate again');
  }, 30_000);

  it('an output awaiting approval on a sleeping node: a decision wakes it, and so does a deadline reached in its sleep', async () => {
    const approved = await client.submit({ type: 'echo', payload: 'yes', approval: { required: true } });
    const late = await client.submit({ type: 'echo', payload: 'nobody looks', approval: { required: true, timeoutMs: 2500 } });
    for (const id of [approved.id, late.id]) await until(async () => (await client.get(id))?.state === 'awaiting-approval', 10_000, `${id} to await approval`);
    await until(async () => host.hibernatingNodes().length === 3, 10_000, 'every node to sleep while the outputs wait');
    await client.approve(approved.id);
    expect(await client.waitFor(approved.id, { timeoutMs: 10_000 })).toMatchObject({ state: 'completed', result: 'yes' });
    // Nothing else arrives: only the due delayed job can wake its node (the waker re-checks every 5 s).
    await until(async () => host.hibernatingNodes().length === 3, 10_000, 'every node to sleep again');
    const failed = await client.waitFor(late.id, { timeoutMs: 12_000 });
    expect(failed.state).toBe('failed');
    expect(failed.error).toContain('timed out');
  }, 30_000);
});
