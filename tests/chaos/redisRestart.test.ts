// redis-server killed and restarted (AOF, appendfsync always) between submit and
// pickup: the task is still there and completes; so does the one that was running.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { AgentHost } from '../../src/agents/host.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { redisForFile } from '../support/redis.ts';
import { testConfig, until } from '../support/swarm.ts';

const redis = redisForFile({ own: true, appendfsync: 'always' });
let client: SwarmClient;
let host: AgentHost;

beforeAll(async () => {
  const config = testConfig(redis);
  host = new AgentHost({ config, hostId: 'hr', agents: [{ type: 'worker', count: 1, capacity: 1 }], processors: builtinProcessors, logger: silentLogger });
  await host.start();
  client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
});

afterAll(async () => {
  await client?.close();
  await host?.stop(1000);
});

describe('Redis restart', () => {
  it('keeps an acknowledged task that was waiting, and it completes', async () => {
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
