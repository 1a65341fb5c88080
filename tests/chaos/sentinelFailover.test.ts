// Losing a Sentinel-managed primary while tasks flow: one primary, one
// replica, three Sentinels. The primary is SIGKILLed, the Sentinels promote
// the replica, and the coordinator, the host and the client that were
// running follow it (ioredis asks the Sentinels again) without a restart.
// The figures (acknowledged tasks lost, completed twice) are printed; with
// `replicated` they are asserted to be 0.
import { afterEach, describe, expect, it } from 'vitest';
import type { SwarmClient } from '../../src/client/swarmClient.ts';
import { runThroughFailover } from '../support/failoverRun.ts';
import { uniquePrefix } from '../support/redis.ts';
import { SENTINEL_MASTER, startSentinels, type TestSentinels } from '../support/sentinel.ts';
import type { Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

let sentinels: TestSentinels | undefined;
let stack: Stack | undefined;
let client: SwarmClient | undefined;

afterEach(async () => {
  await client?.close().catch(() => {});
  await stack?.stop().catch(() => {});
  await sentinels?.stop();
  sentinels = stack = client = undefined;
});

async function run(durability: 'fast' | 'replicated') {
  sentinels = await startSentinels();
  const s = sentinels;
  const config = testConfig({ url: undefined } as never, {
    redisSentinels: s.sentinels,
    sentinelMaster: SENTINEL_MASTER,
    prefix: uniquePrefix('sfo'),
    durability: { mode: durability },
    coordinator: { maxAgentsPerNode: 1 },
  });
  expect(config.redis.kind).toBe('sentinel');
  const figures = await runThroughFailover({
    config,
    kill: async () => {
      await s.primary.kill('SIGKILL');
      await until(async () => (await s.primaryPort()) === s.replica.port, 15_000, 'the Sentinels to promote the replica');
      // The old primary comes back, and the Sentinels make it the new primary's replica.
      await s.primary.start();
    },
    afterMs: 4000,
    // The old primary rejoins as a replica only once the Sentinels reconfigure it; until then every replicated acknowledgement waits out its timeout.
    settleMs: 20_000,
    log: (l) => console.log(l),
  });
  stack = figures.stack;
  client = figures.client;
  const { acknowledged, refused, lost, completedTwice } = figures;
  console.log(`sentinel failover, durability ${durability}: ${JSON.stringify({ acknowledged, refused, lost, completedTwice })}`);
  const after = await client.submit({ type: 'work', payload: { ms: 1 } });
  expect((await client.waitFor(after.id, { timeoutMs: 10_000 })).state).toBe('completed');
  const viaHttp = await stack.request('POST', '/api/tasks', { type: 'work', payload: { ms: 1 } });
  expect(viaHttp.status, JSON.stringify(viaHttp.body)).toBe(202);
  expect(acknowledged).toBeGreaterThan(50);
  return figures;
}

describe('a Sentinel-managed primary SIGKILLed mid-run', () => {
  // A task's pickup (BullMQ's move to active) is confirmed by a replica before
  // its processor runs, so a pickup the primary took along is never run twice.
  it('replicated: nothing acknowledged is lost or completed twice', async () => {
    const f = await run('replicated');
    expect(f.lost).toBe(0);
    expect(f.completedTwice).toBe(0);
  }, 50_000);

  it('fast (the default): figures printed, every process carries on', async () => {
    await run('fast');
  }, 45_000);
});
