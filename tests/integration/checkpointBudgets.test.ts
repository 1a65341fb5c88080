// Checkpoints carry budgets: a key with a 1,000-token budget spends 600 on one
// Redis, is checkpointed and restored into a fresh one; there it has 400 left
// (its alert flags too): one task spending 400 there exhausts it, and the next
// submit is refused with budget_exhausted and the figure spent on both sides. A restore run
// again into that live swarm raises nothing and lowers nothing; a file whose
// spend is of a period that has ended restores the budget without the spend.
// A task's own budget and the usage it reported before the checkpoint travel
// with it: run again after the restore, it goes past its budget on what it
// spent on both sides. Real redis-servers throughout.
import { describe, expect, it } from 'vitest';
import { AgentHost } from '../../src/agents/host.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { periodBounds } from '../../src/budgets/budget.ts';
import { parseCheckpoint, type Checkpoint } from '../../src/checkpoint/format.ts';
import { takeCheckpoint } from '../../src/checkpoint/read.ts';
import { restoreCheckpoint } from '../../src/checkpoint/restore.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { SwarmError } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';
import { keyStateKeys, swarmKeys } from '../../queues/keys.ts';
import { restoreKeyBudget } from '../../queues/budgetState.ts';
import { twoRedisForFile } from '../support/twoRedis.ts';
import { emptyCheckpoint } from '../support/checkpointData.ts';
import { testConfig, until } from '../support/swarm.ts';
import { uniquePrefix } from '../support/redis.ts';

const servers = twoRedisForFile('swarmq-checkpoint-budgets-');
const { cleanups, connect } = servers;

/** Runs by task id and side. */
const runs = new Map<string, string[]>();

function processorsOn(side: 'A' | 'B'): ProcessorMap {
  return {
    /** Reports `tokens` (input 40 %, output 60 %, a cent a thousand) and returns. */
    charge: async (payload, ctx) => {
      runs.set(ctx.taskId, [...(runs.get(ctx.taskId) ?? []), side]);
      const tokens = (payload as { tokens: number }).tokens;
      await ctx.usage({ inputTokens: tokens * 0.4, outputTokens: tokens * 0.6, costUsd: tokens / 100_000 });
      return 'charged';
    },
    /** Reports 300 tokens; on A it then hangs until stopped (it is active when the checkpoint is taken), on B it returns unless its budget stopped it. */
    spend: async (_payload, ctx) => {
      runs.set(ctx.taskId, [...(runs.get(ctx.taskId) ?? []), side]);
      await ctx.usage({ tokens: 300 });
      if (side === 'A') await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      if (ctx.signal.aborted) throw ctx.signal.reason;
      return 'spent';
    },
  };
}

async function startHost(config: ReturnType<typeof testConfig>, side: 'A' | 'B'): Promise<AgentHost> {
  const host = new AgentHost({ config, hostId: 'h1', agents: [{ type: 'w', count: 2, capacity: 1 }], processors: processorsOn(side), logger: silentLogger });
  await host.start();
  cleanups.push(() => host.stop(500));
  return host;
}

function clientOf(url: string, prefix: string): SwarmClient {
  const c = new SwarmClient({ redis: url, prefix, config: { coordinator: { snapshotIntervalMs: 20 } } });
  cleanups.push(() => c.close());
  return c;
}

describe('a checkpoint carries budgets', () => {
  it("restored into a fresh Redis: the key's budget and this period's spend, so it cannot spend its budget again; a task's own budget and usage too", async () => {
    const config = testConfig(servers.a);
    const prefix = config.prefix;
    await startHost(config, 'A');
    const clientA = clientOf(servers.a.url, prefix);
    // Month periods: a day's turn between the two sides would make the test's spend stale (what the last part shows on purpose).
    await clientA.setKeyBudget('acme', { tokens: 1000, period: 'month' });
    await clientA.setKeyBudget('beta', { tokens: 100, costUsd: 5, period: 'month', queued: 'fail', running: 'finish' });

    const first = (await clientA.submit({ type: 'charge', key: 'acme', payload: { tokens: 600 } })).id;
    const toBeta = (await clientA.submit({ type: 'charge', key: 'beta', payload: { tokens: 90 } })).id;
    for (const id of [first, toBeta]) expect(await clientA.waitFor(id, { timeoutMs: 10_000 })).toMatchObject({ state: 'completed' });
    // A task with its own budget, no key: it reported 300 of its 500 and is still running when the checkpoint is taken.
    const hung = (await clientA.submit({ type: 'spend', budget: { tokens: 500 } })).id;
    await until(async () => (await clientA.get(hung))?.usage?.tokens === 300, 10_000, 'the task to report 300 tokens');
    expect(await clientA.keyBudget('acme')).toMatchObject({ spent: { tokens: 600 }, exhausted: false, alerted: [] });
    expect(await clientA.keyBudget('beta')).toMatchObject({ spent: { tokens: 90 }, alerted: [80] });

    const { checkpoint, warnings } = await takeCheckpoint(connect(servers.a.url), prefix);
    expect(warnings).toEqual([]);
    const text = JSON.stringify(checkpoint);
    const cp = parseCheckpoint(text);
    const month = periodBounds('month', checkpoint.createdAt);
    const acme = cp.keys.find((k) => k.key === 'acme');
    expect(acme).toEqual({
      key: 'acme',
      limits: {},
      budget: { tokens: 1000, period: 'month', queued: 'wait', running: 'abort' },
      spent: { period: 'month', start: month.start, end: month.end, tokens: 600, inputTokens: 240, outputTokens: 360, costUsd: 0.006, reports: 1, byType: { charge: { tokens: 600, costUsd: 0.006 } }, alerted: [] },
    });
    expect(cp.keys.find((k) => k.key === 'beta')).toMatchObject({ budget: { tokens: 100, costUsd: 5, queued: 'fail', running: 'finish' }, spent: { tokens: 90, alerted: [{ threshold: 80 }] } });
    // The task's own budget rides in its data, its usage in its job fields.
    const carried = cp.tasks.find((t) => t.id === hung);
    expect(carried).toMatchObject({ state: 'active', data: { budget: { tokens: 500 } }, fields: { sqTokens: '300', sqUsageReports: '1' } });

    // Into a fresh Redis, under the same prefix, before any host runs there.
    const redisB = connect(servers.b.url);
    const report = await restoreCheckpoint(redisB, prefix, cp);
    expect(report).toMatchObject({ keyBudgets: 2, keySpend: 2, spend: { restored: 2, merged: 0, stale: 0 } });
    const clientB = clientOf(servers.b.url, prefix);
    const acmeB = await clientB.keyBudget('acme');
    expect(acmeB).toMatchObject({ budget: { tokens: 1000, period: 'month' }, periodStart: month.start, resetsAt: month.end, spent: { tokens: 600, inputTokens: 240, outputTokens: 360, reports: 1 }, byType: { charge: { tokens: 600 } }, exhausted: false, ratio: 0.6 });
    expect(acmeB.budget!.tokens! - acmeB.spent.tokens).toBe(400);
    // beta's 80 % alert fired on A: flagged on B too, so it does not fire again this period.
    expect(await clientB.keyBudget('beta')).toMatchObject({ budget: { queued: 'fail', running: 'finish' }, spent: { tokens: 90 }, alerted: [80] });
    expect(await clientB.get(hung)).toMatchObject({ state: 'waiting', budget: { tokens: 500 }, usage: { tokens: 300, reports: 1 } });

    await startHost(testConfig(servers.b, { prefix }), 'B');
    // The 400 left are spent by one task (its report uses the last of the budget without going past: it completes).
    const second = (await clientB.submit({ type: 'charge', key: 'acme', payload: { tokens: 400 } })).id;
    expect(await clientB.waitFor(second, { timeoutMs: 10_000 })).toMatchObject({ state: 'completed' });
    const refused = await clientB.submit({ type: 'charge', key: 'acme', payload: { tokens: 1 } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SwarmError);
    expect(refused).toMatchObject({ code: 'budget_exhausted', details: { key: 'acme', spent: { tokens: 1000, costUsd: expect.closeTo(0.01, 9) }, limit: { tokens: 1000 }, resetsAt: month.end, period: 'month' } });
    expect((refused as SwarmError).message).toMatch(/key acme has spent its budget for this month: 1,000 of 1,000 tokens/);

    // The task with its own budget ran again on B: 300 there on top of the 300 carried is past its 500.
    const ended = await clientB.waitFor(hung, { timeoutMs: 10_000 });
    expect(ended).toMatchObject({ state: 'failed', budget: { tokens: 500 }, usage: { tokens: 600, reports: 2 } });
    expect(ended.error).toMatch(/went past its own budget: 600 tokens of its 500 spent/);
    expect(runs.get(hung)).toEqual(['A', 'B']);

    // Restored again into the live swarm (--force): nothing lowered, nothing counted twice.
    const again = await restoreCheckpoint(redisB, prefix, cp, { force: true });
    expect(again.spend).toEqual({ restored: 0, merged: 2, stale: 0 });
    expect(await clientB.keyBudget('acme')).toMatchObject({ spent: { tokens: 1000, reports: 2 }, exhausted: true, alerted: [80, 100] });
    expect(await clientB.keyBudget('beta')).toMatchObject({ spent: { tokens: 90, reports: 1 }, alerted: [80] });
    // Raised where the target had less: the file's 90 over a beta spend lowered by hand to 10.
    await redisB.hset(keyStateKeys(prefix, 'beta').spent, 'tokens', '10');
    await restoreCheckpoint(redisB, prefix, cp, { force: true });
    expect(await clientB.keyBudget('beta')).toMatchObject({ spent: { tokens: 90 } });
  }, 60_000);

  it('a file whose spend is of a period that has ended restores the budget, not the spend; one without the fields restores as before', async () => {
    const day = periodBounds('day', Date.now() - 86_400_000 * 2);
    const cp: Checkpoint = parseCheckpoint(
      JSON.stringify(
        emptyCheckpoint({
          createdAt: day.start + 1000,
          prefix: 'old',
          keys: [
            {
              key: 'acme',
              limits: {},
              budget: { tokens: 1000, period: 'day', queued: 'wait', running: 'abort' },
              spent: { period: 'day', start: day.start, end: day.end, tokens: 900, inputTokens: 0, outputTokens: 900, costUsd: 0, reports: 3, byType: {}, alerted: [{ threshold: 80, at: day.start + 500 }] },
            },
            { key: 'plain', limits: { maxActive: 2 } },
          ],
        }),
      ),
    );
    const redisB = connect(servers.b.url);
    const prefix = uniquePrefix('stale');
    const report = await restoreCheckpoint(redisB, prefix, cp);
    expect(report).toMatchObject({ keyBudgets: 1, keySpend: 1, spend: { restored: 0, merged: 0, stale: 1 } });
    const client = clientOf(servers.b.url, prefix);
    expect(await client.keyBudget('acme')).toMatchObject({ budget: { tokens: 1000, period: 'day' }, spent: { tokens: 0, reports: 0 }, alerted: [], exhausted: false });
    expect(await redisB.exists(keyStateKeys(prefix, 'acme').spent)).toBe(0);
    expect(await client.keyBudget('plain')).toMatchObject({ budget: null, spent: { tokens: 0 } });
    expect((await client.keys()).find((k) => k.key === 'plain')).toMatchObject({ limits: { maxActive: 2 } });
  }, 30_000);

  it("restoreBudget-3.lua: a budget alone is written and listed; spend over another period's hash turns it as a report would", async () => {
    const redisB = connect(servers.b.url);
    const prefix = uniquePrefix('turn');
    const k = keyStateKeys(prefix, 'acme');
    const budget = { fields: { tokens: '50', period: 'hour', queued: 'wait', running: 'abort' }, json: JSON.stringify({ tokens: 50, period: 'hour', queued: 'wait', running: 'abort' }) };
    expect(await restoreKeyBudget(redisB, { prefix, key: 'acme', budget, spent: null })).toEqual({ verdict: 'none' });
    expect(await redisB.hgetall(k.budget)).toEqual(budget.fields);
    expect(await redisB.hget(swarmKeys(prefix).keyBudgets, 'acme')).toBe(budget.json);
    expect(await redisB.sismember(swarmKeys(prefix).keyNames, 'acme')).toBe(1);

    // Last hour's spend is in the hash (no report yet this hour): the restore keeps it as the previous period's.
    const [sec] = await redisB.time();
    const hour = periodBounds('hour', Number(sec) * 1000);
    await redisB.hset(k.spent, { start: String(hour.start - 3_600_000), end: String(hour.start), period: 'hour', tokens: '45' });
    const spent = { start: String(hour.start), period: 'hour', fields: { tokens: '20', costUsd: '0.5', reports: '1', 'alerted:80': '7' } };
    const done = await restoreKeyBudget(redisB, { prefix, key: 'acme', budget: null, spent });
    // Unless the hour turned between reading Redis's clock and the script: then the file's hour is the stale one.
    if (done.verdict === 'stale') return;
    expect(done).toEqual({ verdict: 'restored', periodStart: hour.start });
    expect(await redisB.hgetall(k.spent)).toEqual({ start: String(hour.start), end: String(hour.end), period: 'hour', tokens: '20', costUsd: '0.5', reports: '1', 'alerted:80': '7' });
    expect(await redisB.hget(k.spentPrev, 'tokens')).toBe('45');
    expect(await redisB.pttl(k.spent)).toBeGreaterThan(hour.end - Date.now());
    // The budget was left as it was (the file carried none).
    expect(await redisB.hget(k.budget, 'tokens')).toBe('50');
  });
});
