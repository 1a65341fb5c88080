// redis-server killed and restarted (AOF, appendfsync always) between submit and
// pickup: the task is still there and completes; so does the one that was running.
import { describe, expect, it } from 'vitest';
import { hostForFile } from '../support/hostForFile.ts';
import { redisForFile } from '../support/redis.ts';
import { until } from '../support/swarm.ts';

const redis = redisForFile({ own: true, appendfsync: 'always' });
const swarm = hostForFile(redis, { hostId: 'hr', agents: [{ type: 'worker', count: 1, capacity: 1 }], stopDeadlineMs: 1000 });

describe('Redis restart', () => {
  it('keeps an acknowledged task that was waiting, and it completes', async () => {
    const { client } = swarm;
    const busy = await client.submit({ type: 'sleep', payload: { ms: 1200 } });
    await until(async () => (await client.get(busy.id))?.state === 'active');
    const waiting = await client.submit({ type: 'echo', payload: { survived: true } });
    expect((await client.get(waiting.id))?.state).toBe('waiting');

    await redis.kill('SIGKILL');
    await redis.restart();

    const done = await client.waitFor(waiting.id, { timeoutMs: 30_000 });
    expect(done).toMatchObject({ state: 'completed', result: { survived: true } });
    expect((await client.waitFor(busy.id, { timeoutMs: 30_000 })).state).toBe('completed');
  }, 60_000);
});
