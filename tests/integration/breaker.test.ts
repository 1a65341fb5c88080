// An agent whose tasks keep failing is isolated (takes nothing while the other
// agent of its node carries on), comes back at reduced capacity after its
// cool-down, and is trusted fully again after a run of successes.
import { describe, expect, it, vi } from 'vitest';
import { AgentHost, type BreakerAlert } from '../../src/agents/host.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { silentLogger } from '../../src/log.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { hostForFile } from '../support/hostForFile.ts';
import { redisForFile } from '../support/redis.ts';
import { testConfig, until } from '../support/swarm.ts';

const redis = redisForFile();
let broken = true;
const ranBy: { agent: string; at: number; ok: boolean }[] = [];
const breakerEvents: { agent: string; reason: string; at: number }[] = [];

// Agent bk-a1's tool is broken until the test mends it.
const processors: ProcessorMap = {
  work: async (_payload, ctx) => {
    await new Promise((r) => setTimeout(r, 5));
    const ok = !(broken && ctx.agentId === 'bk-a1');
    ranBy.push({ agent: ctx.agentId, at: Date.now(), ok });
    if (!ok) throw new Error('tool crashed');
    return ctx.agentId;
  },
};

const swarm = hostForFile(redis, {
  config: { agents: { breakerFailures: 3, breakerCooldownMs: 700 } },
  hostId: 'bk',
  agents: [{ type: 'w', count: 2 }],
  processors,
  beforeStart: (host) => host.on('breaker', (e: BreakerAlert) => breakerEvents.push(e)),
});

describe('circuit breaker on a host', () => {
  it('isolates the failing agent, runs everything on the other, and reintegrates it once mended', async () => {
    const { client } = swarm;
    // No retries here, so the first batch ends well within bk-a1's cool-down.
    const first = await Promise.all(Array.from({ length: 30 }, () => client.submit({ type: 'work', attempts: 1 })));
    const isolated = await until(async () => breakerEvents.find((e) => e.agent === 'bk-a1' && e.reason === 'isolated'), 10_000, 'bk-a1 to be isolated');
    expect(breakerEvents.some((e) => e.agent === 'bk-a2')).toBe(false);
    // While isolated (the cool-down), bk-a1 starts nothing.
    const until700 = isolated.at + 650;
    await new Promise((r) => setTimeout(r, Math.max(0, until700 - Date.now())));
    expect(ranBy.filter((r) => r.agent === 'bk-a1' && r.at > isolated.at + 20 && r.at < until700)).toEqual([]);
    const results = await Promise.all(first.map((s) => client.waitFor(s.id, { timeoutMs: 20_000 })));
    // Exactly the three that isolated it failed (on bk-a1); bk-a2 ran all the others.
    expect(results.filter((t) => t.state === 'failed').map((t) => t.agentId)).toEqual(['bk-a1', 'bk-a1', 'bk-a1']);
    expect(results.filter((t) => t.state === 'completed').every((t) => t.result === 'bk-a2')).toBe(true);

    broken = false;
    // Enough work that bk-a1, once its cool-down is over, gets its probation run of successes.
    const deadline = Date.now() + 15_000;
    while (!breakerEvents.some((e) => e.agent === 'bk-a1' && e.reason === 'reintegrated') && Date.now() < deadline) {
      const more = await Promise.all(Array.from({ length: 10 }, () => client.submit({ type: 'work' })));
      await Promise.all(more.map((s) => client.waitFor(s.id, { timeoutMs: 20_000 })));
    }
    expect(breakerEvents.filter((e) => e.agent === 'bk-a1').map((e) => e.reason)).toEqual(['isolated', 'reintegrating', 'reintegrated']);
  }, 60_000);
});

describe('the end of a cool-down, by the clock', () => {
  it('brings the agent back even when its timer fires before Date.now() says the cool-down is over', async () => {
    // Node runs timers on the event loop's own millisecond clock, so a timer can
    // fire a millisecond before Date.now() says its delay has passed; the wall
    // clock can also step back. Both look the same to the breaker: here the clock
    // steps back 50 ms as the agent is isolated.
    const realNow = Date.now.bind(Date);
    const config = testConfig(redis, { agents: { breakerFailures: 3, breakerCooldownMs: 500 } });
    const alerts: BreakerAlert[] = [];
    const clockHost = new AgentHost({
      config,
      hostId: 'ck',
      agents: [{ type: 'w', count: 2 }],
      processors: {
        work: (_payload, ctx) => {
          if (ctx.agentId === 'ck-a1' && !alerts.some((a) => a.reason === 'isolated')) throw new Error('tool crashed');
          return ctx.agentId;
        },
      },
      logger: silentLogger,
    });
    clockHost.on('breaker', (e) => {
      alerts.push(e);
      if (e.agent === 'ck-a1' && e.reason === 'isolated') vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 50);
    });
    const clockClient = new SwarmClient({ redis: redis.url, prefix: config.prefix });
    try {
      await clockHost.start();
      const first = await clockClient.submitBatch(Array.from({ length: 10 }, () => ({ type: 'work', attempts: 1 })));
      await Promise.all(first.ids.map((id) => clockClient.waitFor(id, { timeoutMs: 10_000 })));
      const isolated = await until(async () => alerts.find((a) => a.agent === 'ck-a1' && a.reason === 'isolated'), 5_000, 'ck-a1 to be isolated');
      await until(async () => alerts.find((a) => a.agent === 'ck-a1' && a.reason === 'reintegrating'), 500 + 2_000, 'ck-a1 to come back after its cool-down');
      expect(alerts.filter((a) => a.agent === 'ck-a1').map((a) => a.reason)).toEqual(['isolated', 'reintegrating']);
      expect(realNow() - isolated.at).toBeGreaterThanOrEqual(500);
    } finally {
      vi.restoreAllMocks();
      await clockClient.close();
      await clockHost.stop(500);
    }
  }, 30_000);
});
