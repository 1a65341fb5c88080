// A host frozen (SIGSTOP) mid-task loses its lock; another host recovers and
// completes the task. When the frozen one wakes and finishes too, its completion
// is counted, not recorded: the result is the one recorded first, once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { swarmKeys } from '../../queues/keys.ts';
import { spawnCli, type CliChild } from '../support/cli.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';
import { until } from '../support/swarm.ts';

const redis = redisForFile();
let client: SwarmClient;
let conn: Redis;
const prefix = uniquePrefix('lock');
const children: CliChild[] = [];
const env = { SWARMQ_LOCK_DURATION_MS: '1000', SWARMQ_STALLED_INTERVAL_MS: '500', SWARMQ_HEARTBEAT_INTERVAL_MS: '200' };

function host(id: string): CliChild {
  const c = spawnCli(['agents', '--count', '1', '--host-id', id, '--redis-url', redis.url, '--prefix', prefix], { env });
  children.push(c);
  return c;
}

beforeAll(async () => {
  client = new SwarmClient({ redis: redis.url, prefix });
  conn = redis.connect();
});

afterAll(async () => {
  for (const c of children) {
    c.child.kill('SIGCONT');
    if (c.child.exitCode === null) c.child.kill('SIGKILL');
  }
  await client?.close();
});

describe('a completion after the lock was lost', () => {
  it('is refused and counted; the task is recorded completed once, by the agent that held the lock', async () => {
    const a = host('frozen');
    await a.waitFor(/agent host ready/);
    const { id } = await client.submit({ type: 'sleep', payload: { ms: 1500 } });
    await until(async () => (await client.get(id))?.state === 'active', 10_000, 'task to start on the first host');
    a.child.kill('SIGSTOP');

    const b = host('rescuer');
    await b.waitFor(/agent host ready/);
    const done = await client.waitFor(id, { timeoutMs: 20_000 });
    expect(done).toMatchObject({ state: 'completed', agentId: 'rescuer-a1' });

    a.child.kill('SIGCONT');
    const late = await a.waitFor(/late finish refused/, 10_000);
    expect(late.outcome, a.output()).toBe('completed');
    await until(async () => (await conn.hget(swarmKeys(prefix).stats, 'duplicateCompletions')) === '1', 5000, 'the duplicate to be counted');
    const after = await client.get(id);
    expect(after).toMatchObject({ state: 'completed', agentId: 'rescuer-a1', finishedAt: done.finishedAt, attempts: done.attempts });
  }, 60_000);
});
