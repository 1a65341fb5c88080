// Budgets per key (docs/budgets.md), end to end: a key with a 1,000-token
// budget whose tasks report 100 tokens each runs exactly the ten that fit; the
// rest wait for the period (no attempt spent) until the budget is raised; the
// next submit is refused with the figures over HTTP, the client and the intake
// queue, and writes nothing; alerts at 80 and 100 % fire once each; the spend
// shows in the task, the key, the CLI and the metrics; `queued: 'fail'` fails
// the waiting tasks instead.
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskContext } from '../../src/agents/processor.ts';
import { budgetGet, budgetSet } from '../../src/cli/budget.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { SwarmError } from '../../src/errors.ts';
import { INTAKE_QUEUE, swarmKeys } from '../../queues/keys.ts';
import { parseProm, value } from '../support/promText.ts';
import { redisForFile } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { dump, testConfig, until } from '../support/swarm.ts';
import { spawnCli } from '../support/cli.ts';

/** Tasks whose processor began, by key. */
const started = new Map<string, string[]>();

const processors = {
  charge: async (payload: unknown, ctx: TaskContext) => {
    const key = ctx.key ?? '-';
    started.set(key, [...(started.get(key) ?? []), ctx.taskId]);
    const receipt = await ctx.usage({ inputTokens: 40, outputTokens: 60, costUsd: 0.001 });
    return { receipt, tokens: (payload as { tokens?: number } | null)?.tokens ?? 100 };
  },
};

const redis = redisForFile();
let stack: Stack;
let conn: Redis;
let client: SwarmClient;

beforeAll(async () => {
  // One agent: tasks run one after another, so "the tasks that fit" is exact (docs/budgets.md: with concurrency, runs under way may go past).
  stack = await startStack(testConfig(redis), { agents: [{ type: 'w', count: 1, capacity: 1 }], processors });
  conn = redis.connect();
  client = new SwarmClient({ redis: redis.url, prefix: stack.config.prefix });
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
  conn?.disconnect();
});

/** Swarm state without what changes by itself (heartbeats, leases, loads, events, stalled checks, metrics). */
async function state(): Promise<Record<string, string>> {
  const all = await dump(conn, stack.config.prefix);
  return Object.fromEntries(Object.entries(all).filter(([k]) => !/:\{swarm\}:(hosts|stats|events|lease.*|coordinators|coordinator-details|loads|loads-version|summary.*)$|:stalled-check$|partition/.test(k)));
}

async function stillState(): Promise<Record<string, string>> {
  let last = '';
  for (let still = 0; still < 5; await new Promise((r) => setTimeout(r, 100))) {
    const now = JSON.stringify(await state());
    still = now === last ? still + 1 : 0;
    last = now;
  }
  return JSON.parse(last) as Record<string, string>;
}

async function alertsOf(key: string): Promise<{ threshold: number; scope: string; spent: { tokens: number } }[]> {
  const entries = await conn.xrange(swarmKeys(stack.config.prefix).events, '-', '+');
  return entries
    .filter(([, f]) => f[1] === 'budget:alert')
    .map(([, f]) => JSON.parse(f[3]!) as { threshold: number; scope: string; key?: string; spent: { tokens: number } })
    .filter((e) => e.key === key && e.scope === 'key');
}

const nextMidnight = () => {
  const d = new Date();
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
};

describe('a key with a 1,000-token budget, its tasks reporting 100 tokens each', () => {
  const ids: string[] = [];

  it('runs exactly the ten that fit; the other two wait for the period, no attempt spent', async () => {
    const set = await stack.request('PUT', '/api/keys/acme/budget', { tokens: 1000 });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ key: 'acme', budget: { tokens: 1000, period: 'day', queued: 'wait', running: 'abort' }, exhausted: false, resetsAt: nextMidnight() });
    // One batch, all or none: twelve accepted while nothing is spent yet (one at a time, the later submits could meet a spent budget).
    const r = await stack.request('POST', '/api/tasks/batch', { tasks: Array.from({ length: 12 }, () => ({ type: 'charge', key: 'acme' })) });
    expect(r.status).toBe(202);
    ids.push(...(r.body.ids as string[]));
    const view = await until(async () => {
      const v = (await stack.request('GET', '/api/keys/acme/budget')).body;
      return v.waiting === 2 && v.spent.tokens === 1000 ? v : undefined;
    }, 15_000, 'ten tasks to spend the budget and two to wait');
    expect(view).toMatchObject({ exhausted: true, ratio: 1, alerted: [80, 100], spent: { tokens: 1000, inputTokens: 400, outputTokens: 600, reports: 10 } });
    expect(view.byType).toEqual({ charge: { tokens: 1000, costUsd: expect.closeTo(0.01, 6) } });
    const tasks = await Promise.all(ids.map(async (id) => (await stack.request('GET', `/api/tasks/${id}`)).body));
    expect(tasks.filter((t) => t.state === 'completed')).toHaveLength(10);
    const waiting = tasks.filter((t) => t.state !== 'completed');
    expect(waiting.map((t) => [t.state, t.attempts])).toEqual([['delayed', 0], ['delayed', 0]]);
    expect(started.get('acme')).toHaveLength(10);
    expect(tasks[0]).toMatchObject({ key: 'acme', usage: { tokens: 100, inputTokens: 40, outputTokens: 60, reports: 1 } });
    // The tenth task's report used the last of the budget: its processor was told so.
    expect(tasks.find((t) => t.usage?.tokens === 100 && t.result?.receipt?.key?.exhausted)?.result.receipt.key).toEqual({
      spent: { tokens: 1000, costUsd: expect.closeTo(0.01, 6) },
      limit: { tokens: 1000 },
      resetsAt: nextMidnight(),
      exhausted: true,
    });
    expect((await stack.request('GET', '/api/keys/acme')).body.throttled.budget).toBeGreaterThanOrEqual(2);
  });

  it('refuses the next submit with the figures (HTTP, batch, client) and writes nothing', async () => {
    const before = await stillState();
    const r = await stack.request('POST', '/api/tasks', { type: 'charge', key: 'acme', idempotencyKey: 'over-1' });
    expect(r.status).toBe(429);
    expect(r.body.error).toEqual({
      code: 'budget_exhausted',
      message: expect.stringMatching(/key acme has spent its budget for this day: 1,000 of 1,000 tokens; it resets at .*swarmq budget set acme/),
      details: { key: 'acme', spent: { tokens: 1000, costUsd: expect.closeTo(0.01, 6) }, limit: { tokens: 1000 }, resetsAt: nextMidnight(), period: 'day' },
    });
    const batch = await stack.request('POST', '/api/tasks/batch', { tasks: [{ type: 'charge' }, { type: 'charge', key: 'acme' }] });
    expect([batch.status, batch.body.error.code]).toEqual([429, 'budget_exhausted']);
    const err = await client.submit({ type: 'charge', key: 'acme' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwarmError);
    expect(err).toMatchObject({ code: 'budget_exhausted', status: 429, details: { spent: { tokens: 1000 }, limit: { tokens: 1000 } } });
    expect(await stillState()).toEqual(before);
    // Another key is not refused.
    expect((await stack.request('POST', '/api/tasks', { type: 'charge', key: 'other' })).status).toBe(202);
  });

  it('an intake job of the spent key fails with the reason and reaches no node queue', async () => {
    const intake = new Queue(INTAKE_QUEUE, { connection: conn, prefix: stack.config.prefix });
    try {
      const job = await intake.add('charge', null, { key: 'acme' } as Parameters<Queue['add']>[2]);
      await until(async () => (await job.getState()) === 'failed', 10_000, 'the intake job to fail');
      const done = (await intake.getJob(job.id!)) as Job;
      expect(done.failedReason).toMatch(/key acme has spent its budget/);
      expect(done.attemptsStarted).toBe(1);
      // A task's own budget rides in the options too.
      const own = await intake.add('charge', null, { key: 'other', budget: { tokens: 500 } } as Parameters<Queue['add']>[2]);
      const routed = await until(async () => ((await intake.getJob(own.id!))?.returnvalue as { id: string } | undefined) ?? undefined, 10_000, 'the intake job to be routed');
      expect(await client.waitFor(routed.id, { timeoutMs: 10_000 })).toMatchObject({ state: 'completed', key: 'other', budget: { tokens: 500 }, usage: { tokens: 100 } });
    } finally {
      await intake.close();
    }
  });

  it('alerted at 80 % and at 100 % once each in the period; the metrics export the spend', async () => {
    const alerts = await alertsOf('acme');
    expect(alerts.map((a) => [a.threshold, a.spent.tokens])).toEqual([
      [80, 800],
      [100, 1000],
    ]);
    const { samples, problems } = parseProm(await (await fetch(`${stack.base}/metrics`)).text());
    expect(problems).toEqual([]);
    expect(value(samples, 'swarmq_usage_tokens_total', { key: 'acme', type: 'charge' })).toBe(1000);
    expect(value(samples, 'swarmq_usage_cost_usd_total', { key: 'acme', type: 'charge' })).toBeCloseTo(0.01, 6);
    expect(value(samples, 'swarmq_budget_spent_ratio', { key: 'acme' })).toBe(1);
    expect(value(samples, 'swarmq_budget_spent', { key: 'acme', unit: 'tokens' })).toBe(1000);
    expect(value(samples, 'swarmq_budget_limit', { key: 'acme', unit: 'tokens' })).toBe(1000);
    expect(value(samples, 'swarmq_key_throttled_total', { key: 'acme', reason: 'budget' })).toBeGreaterThanOrEqual(2);
  });

  it('raised with the CLI, the waiting tasks start at once; `swarmq budget get` reads the same', async () => {
    const t0 = Date.now();
    const view = await budgetSet(stack.config, 'acme', { tokens: '1200', period: 'day' });
    expect(view).toMatchObject({ budget: { tokens: 1200 }, exhausted: false, ratio: expect.closeTo(1000 / 1200, 6) });
    const done = await Promise.all(ids.slice(-2).map((id) => client.waitFor(id, { timeoutMs: 10_000 })));
    expect(done.map((t) => [t.state, t.attempts])).toEqual([['completed', 1], ['completed', 1]]);
    // Brought back, not left to their recheck (up to ten minutes).
    expect(Date.now() - t0).toBeLessThan(5000);
    const [got] = await budgetGet(stack.config, 'acme');
    expect(got).toMatchObject({ key: 'acme', spent: { tokens: 1200 }, exhausted: true, waiting: 0 });
    expect((await budgetGet(stack.config, undefined)).map((v) => v.key)).toContain('acme');
    // Raised, the budget's 100 % no longer held (1,000 of 1,200), so spending the rest warned again; 80 % still held, so it did not.
    expect((await alertsOf('acme')).map((a) => [a.threshold, a.spent.tokens])).toEqual([
      [80, 800],
      [100, 1000],
      [100, 1200],
    ]);
    // Set again to the same limits: every alert still holds, none is forgotten, none repeats.
    await budgetSet(stack.config, 'acme', { tokens: '1200', period: 'day' });
    expect((await budgetGet(stack.config, 'acme'))[0]!.alerted).toEqual([80, 100]);
  });
});

describe('queued tasks of a spent key set to fail', () => {
  it('fail at once with the reason, never run, and no longer count as waiting', async () => {
    const set = await client.setKeyBudget('strict', { costUsd: 0.001, queued: 'fail' });
    expect(set.budget).toEqual({ costUsd: 0.001, period: 'day', queued: 'fail', running: 'abort' });
    const subs = await Promise.all([0, 1, 2].map(() => client.submit({ type: 'charge', key: 'strict', attempts: 3 })));
    const done = await Promise.all(subs.map((s) => client.waitFor(s.id, { timeoutMs: 10_000 })));
    expect(done.filter((t) => t.state === 'completed')).toHaveLength(1);
    const failed = done.filter((t) => t.state === 'failed');
    expect(failed).toHaveLength(2);
    for (const t of failed) {
      expect(t.error).toMatch(/key strict has spent its budget.*queued: "fail"/);
      expect(t.usage).toBeUndefined();
    }
    expect(started.get('strict')).toHaveLength(1);
    expect((await client.key('strict')).waiting).toBe(0);
  });
});

describe('setting a budget', () => {
  it('checks the whole body before writing anything: a 400 naming each field, a 415, a bad key', async () => {
    const bad = await stack.request('PUT', '/api/keys/beta/budget', { tokens: -5, costUsd: 'lots', period: 'week', running: 'kill', extra: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
    expect(bad.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['(root)', 'costUsd', 'period', 'running', 'tokens']);
    expect((await stack.request('PUT', '/api/keys/beta/budget', { period: 'hour' })).body.error.details).toEqual([{ path: 'tokens', message: expect.stringMatching(/tokens, costUsd or both/) }]);
    expect((await stack.request('PUT', '/api/keys/beta/budget', 'tokens=1', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await stack.request('PUT', '/api/keys/no%7Bbraces%7D/budget', { tokens: 1 })).status).toBe(400);
    await expect(budgetSet(stack.config, 'beta', { tokens: 'many' })).rejects.toThrow(/tokens/);
    await expect(client.setKeyBudget('beta', { tokens: 0 })).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await conn.exists(`${stack.config.prefix}:{k:beta}:budget`)).toBe(0);
    expect(await conn.hexists(swarmKeys(stack.config.prefix).keyBudgets, 'beta')).toBe(0);
  });

  it('`swarmq budget set|get` as a command: JSON or a table, and a bad flag is an error naming it', async () => {
    const env = { REDIS_URL: redis.url, SWARMQ_PREFIX: stack.config.prefix, SWARMQ_LOG_LEVEL: 'warn' };
    const run = async (args: string[]) => {
      const c = spawnCli(args, { env });
      const { code } = await c.exited;
      return { code, out: c.output() };
    };
    const set = await run(['budget', 'set', 'cli-key', '--tokens', '500', '--cost-usd', '2.5', '--period', 'hour', '--queued', 'fail', '--json']);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.out.trim().split('\n').pop()!)).toMatchObject({ key: 'cli-key', budget: { tokens: 500, costUsd: 2.5, period: 'hour', queued: 'fail', running: 'abort' }, exhausted: false });
    const got = await run(['budget', 'get', 'cli-key']);
    expect(got.code).toBe(0);
    expect(got.out).toMatch(/cli-key\s+hour\s+0 \/ 500\s+\$0 \/ \$2\.5\s+0 %/);
    const bad = await run(['budget', 'set', 'cli-key', '--period', 'week', '--tokens', '5']);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/period/);
    expect((await client.keyBudget('cli-key')).budget).toMatchObject({ tokens: 500, period: 'hour' });
    // A task's own budget from `swarmq submit`.
    const sub = await run(['submit', 'charge', '--key', 'cli-key', '--budget-tokens', '500', '--budget-usd', '1', '--wait']);
    expect(sub.code).toBe(0);
    expect(JSON.parse(sub.out.trim().split('\n').pop()!)).toMatchObject({ state: 'completed', key: 'cli-key', budget: { tokens: 500, costUsd: 1 }, usage: { tokens: 100 } });
  }, 60_000);

  it('`{}` clears it: the key is no longer checked at submit, and its spend is still counted', async () => {
    await client.setKeyBudget('gone', { tokens: 100 });
    const first = await client.submit({ type: 'charge', key: 'gone' });
    await client.waitFor(first.id, { timeoutMs: 10_000 });
    await until(async () => (await client.submit({ type: 'charge', key: 'gone' }).then(() => false, (e: SwarmError) => e.code === 'budget_exhausted')), 5000, 'the spent key to be refused');
    expect((await stack.request('PUT', '/api/keys/gone/budget', {})).body).toMatchObject({ budget: null, exhausted: false, spent: { tokens: 100 } });
    // Each submitting process learns of it within a second.
    const again = await until(async () => await client.submit({ type: 'charge', key: 'gone' }).catch(() => undefined), 3000, 'the key to be taken again');
    expect((await client.waitFor(again.id, { timeoutMs: 10_000 })).state).toBe('completed');
    expect((await client.keyBudget('gone')).spent.tokens).toBeGreaterThanOrEqual(200);
  });
});
