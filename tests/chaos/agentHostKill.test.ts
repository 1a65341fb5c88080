// kill -9 of an agent host child mid-task: the task completes on a restarted host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { spawnCli, type CliChild } from '../support/cli.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';
import { until } from '../support/swarm.ts';

const redis = redisForFile();
let client: SwarmClient;
const prefix = uniquePrefix('kill');
const children: CliChild[] = [];

// BullMQ's stalled check recovers the task; shorter lock and check than its 30 s
// defaults keep this test quick (the recovery issue makes it fast by default).
const env = { SWARMQ_LOCK_DURATION_MS: '1000', SWARMQ_STALLED_INTERVAL_MS: '500', SWARMQ_HEARTBEAT_INTERVAL_MS: '200' };

function host(): CliChild {
  const c = spawnCli(['agents', '--count', '2', '--type', 'worker', '--host-id', 'hk', '--redis-url', redis.url, '--prefix', prefix], { env });
  children.push(c);
  return c;
}

beforeAll(async () => {
  client = new SwarmClient({ redis: redis.url, prefix });
});

afterAll(async () => {
  for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  await client?.close();
});

describe('agent host killed mid-task', () => {
  it('the task completes after the host is restarted', async () => {
    const first = host();
    await first.waitFor(/agent host ready/);
    const { id } = await client.submit({ type: 'sleep', payload: { ms: 1500 } });
    await until(async () => (await client.get(id))?.state === 'active', 10_000, 'task to start');
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    expect((await client.get(id))?.state).toBe('active');

    const second = host();
    await second.waitFor(/agent host ready/);
    const done = await client.waitFor(id, { timeoutMs: 20_000 });
    expect(done).toMatchObject({ state: 'completed', result: { slept: 1500 } });
    expect(done.agentId).toMatch(/^hk-a[12]$/);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  }, 60_000);
});
