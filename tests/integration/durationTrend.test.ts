// An agent whose tasks start taking much longer than its own normal raises a
// predicted-degradation alert (before anything fails); a steady agent never does.
import { describe, expect, it } from 'vitest';
import type { TrendAlert } from '../../src/agents/host.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { hostForFile } from '../support/hostForFile.ts';
import { redisForFile } from '../support/redis.ts';

const redis = redisForFile();
let slowMs = 40;
const alerts: TrendAlert[] = [];

const processors: ProcessorMap = {
  work: async () => {
    await new Promise((r) => setTimeout(r, slowMs));
    return null;
  },
};

const swarm = hostForFile(redis, {
  hostId: 'tr',
  agents: [{ type: 'w', count: 1 }],
  processors,
  beforeStart: (host) => host.on('trend', (a: TrendAlert) => alerts.push(a)),
});

async function runTasks(n: number): Promise<void> {
  const { client } = swarm;
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
