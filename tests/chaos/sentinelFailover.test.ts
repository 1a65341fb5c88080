// Losing a Sentinel-managed primary while tasks flow (tests/support/failoverRun.ts:
// one primary, one replica, three Sentinels). The primary is SIGKILLed, the
// Sentinels promote the replica, and the coordinator, the host and the client
// that were running follow it (ioredis asks the Sentinels again) without a
// restart. The figures (acknowledged tasks lost, completed twice) are
// printed; with `replicated` they are asserted to be 0.
import { afterEach, describe, expect, it } from 'vitest';
import { sentinelFailover, type Durability, type SentinelFailover } from '../support/failoverRun.ts';

let run: SentinelFailover | undefined;

afterEach(async () => {
  await run?.stop();
  run = undefined;
});

async function failover(durability: Durability): Promise<SentinelFailover> {
  const f = (run = await sentinelFailover(durability, (l) => console.log(l)));
  const { acknowledged, refused, lost, completedTwice, recoveredMs, client, stack } = f;
  console.log(`sentinel failover, durability ${durability}: ${JSON.stringify({ acknowledged, refused, lost, completedTwice, recoveredMs })}`);
  const after = await client.submit({ type: 'work', payload: { ms: 1 } });
  expect((await client.waitFor(after.id, { timeoutMs: 10_000 })).state).toBe('completed');
  const viaHttp = await stack.request('POST', '/api/tasks', { type: 'work', payload: { ms: 1 } });
  expect(viaHttp.status, JSON.stringify(viaHttp.body)).toBe(202);
  expect(acknowledged).toBeGreaterThan(50);
  return f;
}

describe('a Sentinel-managed primary SIGKILLed mid-run', () => {
  // A task's pickup (BullMQ's move to active) is confirmed by a replica before
  // its processor runs, so a pickup the primary took along is never run twice.
  it('replicated: nothing acknowledged is lost or completed twice', async () => {
    const f = await failover('replicated');
    expect(f.lost).toBe(0);
    expect(f.completedTwice).toBe(0);
  }, 150_000);

  it('fast (the default): figures printed, every process carries on', async () => {
    await failover('fast');
  }, 150_000);
});
