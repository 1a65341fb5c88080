// A burst of tasks that fail on every agent of a node isolates all of them at
// once. After the cool-down the node must take work again, whatever made its
// agents fail: a thrown error, a timeout, or a sandbox child that died.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentHost, type BreakerAlert } from '../../src/agents/host.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { silentLogger } from '../../src/log.ts';
import type { TaskInput } from '../../src/tasks/schema.ts';
import { processorsFor } from '../../processors/load.ts';
import { redisForFile } from '../support/redis.ts';
import { testConfig, until } from '../support/swarm.ts';

const COOLDOWN_MS = 600;

const redis = redisForFile();
const dir = mkdtempSync(join(tmpdir(), 'swarmq-burst-'));
const modulePath = join(dir, 'dying.mjs');

beforeAll(async () => {
  // A sandboxed processor whose child process dies under the task.
  writeFileSync(modulePath, `export function die() { process.exit(3); }\n`);
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
});

interface Rig {
  host: AgentHost;
  client: SwarmClient;
  alerts: BreakerAlert[];
  close(): Promise<void>;
}

async function rig(opts: { agents: number; failures?: number; sandbox?: boolean }): Promise<Rig> {
  const config = testConfig(redis, { agents: { breakerCooldownMs: COOLDOWN_MS, ...(opts.failures ? { breakerFailures: opts.failures } : {}) } });
  const host = new AgentHost({
    config,
    hostId: `burst-${opts.sandbox ? 'sbx' : 'in'}`,
    agents: [{ type: 'w', count: opts.agents }],
    processors: await processorsFor(opts.sandbox ? modulePath : undefined),
    ...(opts.sandbox ? { sandbox: { types: ['die'], modulePath } } : {}),
    logger: silentLogger,
  });
  const alerts: BreakerAlert[] = [];
  host.on('breaker', (e) => alerts.push(e));
  await host.start();
  const client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
  return {
    host,
    client,
    alerts,
    close: async () => {
      await client.close();
      await host.stop(500);
    },
  };
}

/**
 * Submits the burst in one batch and waits until every task of it has failed,
 * having isolated every agent of the node; then an echo submitted must
 * complete within the cool-down plus 2 s, and the agents, on probation, earn
 * their full capacity back.
 */
async function burstThenEcho(r: Rig, burst: TaskInput[], settleMs: number): Promise<void> {
  const agentIds = r.host.agents().map((a) => a.id);
  expect(new Set(r.host.agents().map((a) => a.node)).size).toBe(1);
  const { ids } = await r.client.submitBatch(burst);
  // Tasks left over when the last agent is isolated run on agents on probation, which fail them and go back to isolation.
  const finals = await Promise.all(ids.map((id) => r.client.waitFor(id, { timeoutMs: settleMs })));
  // Each ran, on an agent, and failed for its own reason (none was refused for want of a free slot).
  for (const t of finals) expect(t).toMatchObject({ state: 'failed', agentId: expect.any(String) });
  expect(finals.filter((t) => /free slot/.test(t.error ?? ''))).toEqual([]);
  // The burst isolated every agent of the node (those that came back for a task left over failed it and went back).
  for (const a of agentIds) expect(r.alerts.some((e) => e.agent === a && e.reason === 'isolated')).toBe(true);

  const submittedAt = Date.now();
  const { id } = await r.client.submit({ type: 'echo', payload: 'back', attempts: 1 });
  const echo = await r.client.waitFor(id, { timeoutMs: COOLDOWN_MS + 2_000 });
  expect(echo.state).toBe('completed');
  expect(echo.result).toBe('back');
  expect(Date.now() - submittedAt).toBeLessThanOrEqual(COOLDOWN_MS + 2_000);

  // Back on probation after the cool-down, then trusted fully after a run of successes: every agent gets back to closed.
  const deadline = Date.now() + 10_000;
  while (!agentIds.every((a) => r.alerts.filter((e) => e.agent === a).at(-1)?.reason === 'reintegrated') && Date.now() < deadline) {
    const more = await r.client.submitBatch(Array.from({ length: 20 }, () => ({ type: 'echo', attempts: 1 })));
    const done = await Promise.all(more.ids.map((m) => r.client.waitFor(m, { timeoutMs: 10_000 })));
    expect(done.every((t) => t.state === 'completed')).toBe(true);
  }
  for (const a of agentIds) expect(r.alerts.filter((e) => e.agent === a).at(-1)?.reason).toBe('reintegrated');
}

describe('a burst that isolates every agent of a node', () => {
  it('60 failing tasks: the node takes work again after the cool-down', async () => {
    const r = await rig({ agents: 10 });
    try {
      await burstThenEcho(r, Array.from({ length: 60 }, () => ({ type: 'fail', payload: { message: 'burst' }, attempts: 1 })), 3 * COOLDOWN_MS + 10_000);
    } finally {
      await r.close();
    }
  }, 60_000);

  it('60 tasks timing out: the node takes work again after the cool-down', async () => {
    const r = await rig({ agents: 10 });
    try {
      await burstThenEcho(r, Array.from({ length: 60 }, () => ({ type: 'sleep', payload: { ms: 200 }, timeoutMs: 1, attempts: 1 })), 3 * COOLDOWN_MS + 10_000);
    } finally {
      await r.close();
    }
  }, 60_000);

  it('sandbox children dying under their tasks: the node takes work again after the cool-down', async () => {
    // Three failures each for two agents take exactly the six tasks: none is left for an agent on probation,
    // whose child would take longer to start than the next cool-down lasts.
    const r = await rig({ agents: 2, failures: 3, sandbox: true });
    try {
      await burstThenEcho(r, Array.from({ length: 6 }, () => ({ type: 'die', attempts: 1 })), 30_000);
    } finally {
      await r.close();
    }
  }, 90_000);
});
