// An agent whose tasks start taking much longer than its own normal raises a
// predicted-degradation alert (before anything fails); a steady agent never does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentHost, type TrendAlert } from '../../src/agents/host.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { silentLogger } from '../../src/log.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { redisForFile } from '../support/redis.ts';
import { testConfig } from '../support/swarm.ts';

const redis = redisForFile();
let host: AgentHost;
let client: SwarmClient;
let slowMs = 40;
const alerts: TrendAlert[] = [];

const processors: ProcessorMap = {
  work: async () => {
    await new Promise((r) => setTimeout(r, slowMs));
    return null;
  },
};

beforeAll(async () => {
  const config = testConfig(redis);
  host = new AgentHost({ config, hostId: 'tr', agents: [{ type: 'w', count: 1 }], processors, logger: silentLogger });
  host.on('trend', (a) => alerts.push(a));
  await host.start();
  client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
});

afterAll(async () => {
  await client?.close();
  await host?.stop(500);
});

async function runTasks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const { id } = await client.submit({ type: 'work' });
    await client.waitFor(id, { timeoutMs: 10_000 });
  }
}

describe('duration trend', () => {
  it('steady tasks raise nothing; tasks running 5× longer raise a predicted-degradation alert within a few', async () => {
    await runTasks(15);
    expect(alerts).toEqual([]);
    slowMs = 200;
    await runTasks(5);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ agent: 'tr-a1', taskType: 'work', reason: 'predicted-degradation', trend: { metric: 'duration' } });
    expect(alerts[0]!.trend.recent).toBeGreaterThan(alerts[0]!.trend.baseline * 1.5);
  }, 30_000);
});
