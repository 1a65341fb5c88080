// An agent that joins a node whose Worker is full starts on the waiting work at
// once, not when a running task ends (BullMQ's fetch loop sleeps while full).
import { describe, expect, it } from 'vitest';
import { hostForFile } from '../support/hostForFile.ts';
import { redisForFile } from '../support/redis.ts';
import { until } from '../support/swarm.ts';

const redis = redisForFile();
const swarm = hostForFile(redis, { hostId: 'busy', agents: [{ type: 'w', count: 1 }] });

describe('a node whose Worker is full', () => {
  it('puts a joining agent to work on waiting tasks at once', async () => {
    const { host, client } = swarm;
    const long = await client.submit({ type: 'sleep', payload: { ms: 4000 } });
    await until(async () => (await client.get(long.id))?.state === 'active', 5000, 'the long task to start');
    const next = await client.submit({ type: 'echo', payload: 'next' });
    await new Promise((r) => setTimeout(r, 200));
    expect((await client.get(next.id))?.state).toBe('waiting');
    const [joined] = await host.spawnAgentBatch([{ type: 'w', count: 1 }]);
    expect(joined!.node).toBe(long.node);
    const joinedAt = Date.now();
    const t = await client.waitFor(next.id, { timeoutMs: 10_000 });
    expect(t).toMatchObject({ state: 'completed', agentId: joined!.id });
    expect(t.startedAt! - joinedAt, 'well before the long task (4 s) ends').toBeLessThan(2000);
  }, 20_000);
});
