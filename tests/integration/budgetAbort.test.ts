// Budgets stopping work (docs/budgets.md): running tasks of a key whose budget
// is spent are aborted on every host, `ctx.signal`'s reason a
// BudgetExceededError, and fail without a retry (or finish, by the budget's
// setting); a task past its own budget is stopped the same way; sandboxed
// processors report usage and hold keys; HTTP agents report usage in their
// answer; the scripts' periods agree with the TypeScript ones.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentHost } from '../../src/agents/host.ts';
import { httpProcessor } from '../../src/agents/httpAgent.ts';
import type { ProcessorMap, TaskContext, UsageReport } from '../../src/agents/processor.ts';
import { periodBounds } from '../../src/budgets/budget.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { silentLogger } from '../../src/log.ts';
import { processorsFor } from '../../processors/load.ts';
import { resolveIncludes } from '../../queues/scripts.ts';
import { keyStateKeys, swarmKeys } from '../../queues/keys.ts';
import { checkBudget, recordUsage } from '../../queues/budgetState.ts';
import { redisForFile } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

/** Each run's end as its processor saw it: its host, and the signal's reason if aborted. */
const runs = new Map<string, { host: string; reason?: string; message?: string }>();

function processorsOf(host: string): ProcessorMap {
  /** Waits until aborted; reports nothing. */
  const idle = async (_payload: unknown, ctx: TaskContext) => {
    runs.set(ctx.taskId, { host });
    await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
    const r = ctx.signal.reason as Error & { code?: string; scope?: string };
    runs.set(ctx.taskId, { host, reason: `${r.name}/${r.code}/${r.scope}`, message: r.message });
    throw r;
  };
  return {
    idle,
    /** Reports `tokens` once and returns. */
    charge: async (payload: unknown, ctx: TaskContext) => {
      runs.set(ctx.taskId, { host });
      return await ctx.usage({ tokens: (payload as { tokens: number }).tokens });
    },
    /** Sleeps `ms`, then returns (does not watch its signal). */
    sleep: async (payload: unknown, ctx: TaskContext) => {
      runs.set(ctx.taskId, { host });
      await new Promise((r) => setTimeout(r, (payload as { ms: number }).ms));
      return 'slept';
    },
    /** Reports 100 tokens every 30 ms until aborted. */
    burn: async (_payload: unknown, ctx: TaskContext) => {
      runs.set(ctx.taskId, { host });
      while (!ctx.signal.aborted) {
        await ctx.usage({ tokens: 100 } satisfies UsageReport);
        await new Promise((r) => setTimeout(r, 30));
      }
      const r = ctx.signal.reason as Error;
      runs.set(ctx.taskId, { host, reason: r.name, message: r.message });
      throw r;
    },
  };
}

const redis = redisForFile();
let stack: Stack;
let second: AgentHost;
let client: SwarmClient;
let conn: Redis;

beforeAll(async () => {
  const config = testConfig(redis);
  // Ten agents a host: each fills a node of its own, so tasks spread over both hosts.
  stack = await startStack(config, { agents: [{ type: 'w', count: 10, capacity: 1 }], processors: processorsOf('h1'), hostId: 'h1' });
  second = new AgentHost({ config, hostId: 'h2', agents: [{ type: 'w', count: 10, capacity: 1 }], processors: processorsOf('h2'), logger: silentLogger });
  await second.start();
  client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
  conn = redis.connect();
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
  await second?.stop(500);
  conn?.disconnect();
});

describe("running tasks of a key whose budget is spent", () => {
  it('are aborted on every host with reason budget and fail without a retry; the report that used the last of it finishes', async () => {
    await client.setKeyBudget('fleet', { tokens: 1000 });
    // Idle tasks on both hosts: they report nothing, so only the spent budget (on the other host: its notice) stops them.
    const idle: string[] = [];
    const hostsOf = () => new Set(idle.map((id) => runs.get(id)?.host));
    while (idle.length < 12 && !(hostsOf().has('h1') && hostsOf().has('h2'))) {
      const { id } = await client.submit({ type: 'idle', key: 'fleet', attempts: 3 });
      idle.push(id);
      await until(async () => runs.has(id), 5000, `idle task ${id} to start`);
      // Routers route on loads published every few ms: the next task sees this one.
      await new Promise((r) => setTimeout(r, 150));
    }
    expect([...hostsOf()].sort()).toEqual(['h1', 'h2']);
    const t0 = Date.now();
    const last = await client.submit({ type: 'charge', payload: { tokens: 1000 }, key: 'fleet' });
    const lastDone = await client.waitFor(last.id, { timeoutMs: 10_000 });
    expect(lastDone.state).toBe('completed');
    expect(lastDone.result).toMatchObject({ task: { tokens: 1000 }, key: { spent: { tokens: 1000 }, exhausted: true } });
    const done = await Promise.all(idle.map((id) => client.waitFor(id, { timeoutMs: 10_000 })));
    console.log(`${idle.length} idle runs on ${new Set(idle.map((id) => runs.get(id)?.host)).size} hosts stopped within ${Date.now() - t0} ms of the spending submit`);
    for (const t of done) {
      expect(t.state).toBe('failed');
      expect(t.attempts).toBe(1);
      expect(t.error).toMatch(/key fleet has spent its budget.*aborted \(reason budget\).*without a retry/);
      expect(runs.get(t.id)).toMatchObject({ reason: 'BudgetExceededError/budget/key' });
    }
    expect(new Set(done.map((t) => runs.get(t.id)?.host))).toEqual(new Set(['h1', 'h2']));
  });

  it('a report past the budget stops its own run too; overshoot is what the runs under way reported', async () => {
    await client.setKeyBudget('burners', { tokens: 1000 });
    const ids = await Promise.all([0, 1, 2, 3].map(() => client.submit({ type: 'burn', key: 'burners', attempts: 2 })));
    const done = await Promise.all(ids.map((s) => client.waitFor(s.id, { timeoutMs: 10_000 })));
    expect(done.every((t) => t.state === 'failed' && t.attempts === 1)).toBe(true);
    const spent = (await client.keyBudget('burners')).spent.tokens;
    console.log(`4 runs reporting 100 tokens every 30 ms against 1,000: ${spent} spent when they stopped`);
    expect(spent).toBeGreaterThanOrEqual(1000);
    // Each run reports at most once more after the budget is spent before its own report stops it.
    expect(spent).toBeLessThanOrEqual(1000 + 4 * 100 + 4 * 100);
  });

  it("with running: 'finish', they finish", async () => {
    await client.setKeyBudget('gentle', { tokens: 100, running: 'finish' });
    const slow = await client.submit({ type: 'sleep', payload: { ms: 400 }, key: 'gentle' });
    await until(async () => runs.has(slow.id), 5000, 'the slow task to start');
    await client.waitFor((await client.submit({ type: 'charge', payload: { tokens: 150 }, key: 'gentle' })).id, { timeoutMs: 10_000 });
    expect(await client.waitFor(slow.id, { timeoutMs: 10_000 })).toMatchObject({ state: 'completed', result: 'slept' });
    expect((await client.keyBudget('gentle')).exhausted).toBe(true);
  });
});

describe('a task past its own budget', () => {
  it('is aborted with reason budget and fails without a retry; its usage shows; alerts at 80 and 100 % of it', async () => {
    const { id } = await client.submit({ type: 'burn', budget: { tokens: 250 }, attempts: 3 });
    const t = await client.waitFor(id, { timeoutMs: 10_000 });
    expect(t).toMatchObject({ state: 'failed', attempts: 1, budget: { tokens: 250 }, usage: { tokens: 300, reports: 3 } });
    expect(t.error).toMatch(/went past its own budget: 300 tokens of its 250 spent/);
    expect(runs.get(id)).toMatchObject({ reason: 'BudgetExceededError' });
    const alerts = (await conn.xrange(swarmKeys(stack.config.prefix).events, '-', '+'))
      .filter(([, f]) => f[1] === 'budget:alert')
      .map(([, f]) => JSON.parse(f[3]!) as { scope: string; task: string; threshold: number })
      .filter((e) => e.scope === 'task' && e.task === id);
    expect(alerts.map((a) => a.threshold)).toEqual([80, 100]);
  });

  it('within it, completes and shows what it spent', async () => {
    const { id } = await client.submit({ type: 'charge', payload: { tokens: 250 }, budget: { tokens: 250, costUsd: 1 } });
    expect(await client.waitFor(id, { timeoutMs: 10_000 })).toMatchObject({ state: 'completed', usage: { tokens: 250, costUsd: 0, reports: 1 } });
  });

  it('a bad report throws in the processor at once', async () => {
    let said = '';
    const ctxUsage = (await import('../../src/agents/budgetGate.ts')).BudgetGate.prototype.check;
    try {
      ctxUsage.call(undefined as never, { tokens: -1 });
    } catch (err) {
      said = (err as Error).message;
    }
    expect(said).toMatch(/ctx.usage: tokens: .*report \{ tokens, inputTokens, outputTokens, costUsd \}/);
  });
});

describe('sandboxed processors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swarmq-budget-sbx-'));
  let host: AgentHost;
  let sbxClient: SwarmClient;
  afterAll(async () => {
    await sbxClient?.close();
    await host?.stop(500);
    rmSync(dir, { recursive: true, force: true });
  });

  it('report usage and hold their key through the host (ctx.usage, ctx.holdKey)', async () => {
    const modulePath = join(dir, 'spenders.mjs');
    writeFileSync(
      modulePath,
      `export async function sbxSpend(payload, ctx) {\n` +
        `  const receipt = await ctx.usage({ inputTokens: 10, outputTokens: 20, costUsd: 0.5 });\n` +
        `  let refused; try { await ctx.usage({ tokens: 'lots' }); } catch (err) { refused = err.message; }\n` +
        `  const until = await ctx.holdKey(200);\n` +
        `  return { receipt, refused, until, key: ctx.key, pid: process.pid };\n}\n`,
    );
    const config = testConfig(redis);
    host = new AgentHost({ config, hostId: 'sbx', agents: [{ type: 'w', count: 1 }], processors: await processorsFor(modulePath), sandbox: { types: 'all', modulePath }, logger: silentLogger });
    await host.start();
    sbxClient = new SwarmClient({ redis: redis.url, prefix: config.prefix });
    await sbxClient.setKeyBudget('sbx-key', { costUsd: 10 });
    const before = Date.now();
    const { id } = await sbxClient.submit({ type: 'sbxSpend', key: 'sbx-key' });
    const t = await sbxClient.waitFor(id, { timeoutMs: 20_000 });
    expect(t.state).toBe('completed');
    const r = t.result as { receipt: { task: { tokens: number }; key: { spent: { costUsd: number }; limit: { costUsd: number } } }; refused: string; until: number; key: string; pid: number };
    expect(r.pid).not.toBe(process.pid);
    expect(r.key).toBe('sbx-key');
    expect(r.receipt).toMatchObject({ task: { tokens: 30 }, key: { spent: { costUsd: 0.5 }, limit: { costUsd: 10 } } });
    expect(r.refused).toMatch(/ctx.usage: tokens/);
    expect(r.until).toBeGreaterThanOrEqual(before + 200);
    expect(t.usage).toMatchObject({ tokens: 30, inputTokens: 10, outputTokens: 20, costUsd: 0.5, reports: 1 });
    // The hold is the key's, for every host (holdKey-1.lua), however short.
    expect(Number(await conn.hget(`${config.prefix}:{k:sbx-key}:state`, 'holdUntil'))).toBe(r.until);
  }, 30_000);
});

describe('HTTP agents', () => {
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/json') res.writeHead(200, { 'content-type': 'application/json', 'swarmq-usage': '{"inputTokens":12,"outputTokens":30,"costUsd":0.01}' }).end('{"ok":true}');
        else if (req.url === '/stream') res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end('{"usage":{"tokens":5}}\n{"progress":1}\n{"usage":{"tokens":7,"costUsd":0.002}}\n{"result":"done"}\n');
        else if (req.url === '/bad') res.writeHead(200, { 'content-type': 'application/json', 'swarmq-usage': 'lots' }).end('{"ok":true}');
        else res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  async function call(path: string): Promise<{ result: unknown; usage: unknown[] }> {
    const usage: unknown[] = [];
    const p = httpProcessor({ type: 'w', endpoint: base + path, secret: 'budget-secret-0123456789', timeoutMs: 5000, maxSockets: 2 });
    try {
      const ctx: TaskContext = { taskId: 'n1.t1', agentId: 'h-a1', nodeId: 'n1', attempt: 1, signal: new AbortController().signal, progress: () => {}, usage: async (u) => (usage.push(u), { task: null, key: null }) };
      return { result: await p(null, ctx), usage };
    } finally {
      p.close();
    }
  }

  it('report usage in a swarmq-usage header or in usage lines of a stream; a report that is not one fails the attempt', async () => {
    expect(await call('/json')).toEqual({ result: { ok: true }, usage: [{ inputTokens: 12, outputTokens: 30, costUsd: 0.01 }] });
    expect(await call('/stream')).toEqual({ result: 'done', usage: [{ tokens: 5 }, { tokens: 7, costUsd: 0.002 }] });
    await expect(call('/bad')).rejects.toThrow(/sent usage in its swarmq-usage header that is not JSON/);
  });
});

describe("the scripts' periods", () => {
  it('a new period starts the totals afresh, the last one kept as spent-prev; a start is checked against the current period only', async () => {
    const prefix = stack.config.prefix;
    const k = keyStateKeys(prefix, 'rolling');
    await client.setKeyBudget('rolling', { tokens: 100, period: 'hour' });
    // Last hour's spend, all of the budget.
    const { start } = periodBounds('hour', Date.now());
    await conn.hset(k.spent, { start: String(start - 3_600_000), end: String(start), period: 'hour', tokens: '100', 'alerted:100': '1' });
    expect(await checkBudget(conn, { prefix, key: 'rolling', taskId: 'n1.x', node: 'n1' })).toEqual({ verdict: 'ok' });
    const r = await recordUsage(conn, { prefix, key: 'rolling', type: 'w', usage: { tokens: 90, inputTokens: 0, outputTokens: 0, costUsd: 0 } });
    expect(r).toMatchObject({ periodStart: start, periodEnd: start + 3_600_000, spentTokens: 90, limitTokens: 100, spent: false, over: false, crossed: [80] });
    expect(await conn.hget(k.spentPrev, 'tokens')).toBe('100');
    expect(Number(await conn.pttl(k.spent))).toBeGreaterThan(3_600_000);
    const again = await recordUsage(conn, { prefix, key: 'rolling', type: 'w', usage: { tokens: 20, inputTokens: 0, outputTokens: 0, costUsd: 0 } });
    expect(again).toMatchObject({ spentTokens: 110, spent: true, over: true, crossed: [100], running: 'abort' });
    expect(await checkBudget(conn, { prefix, key: 'rolling', taskId: 'n1.x', node: 'n1' })).toMatchObject({ verdict: 'wait', spentTokens: 110, limitTokens: 100, resetsAt: start + 3_600_000 });
    expect(await conn.zrange(k.budgetHeld, '0', '-1')).toEqual(['n1|n1.x']);
  });

  it('agree with periodBounds at the edges of hours, days, months and years', async () => {
    const read = (p: string) => readFileSync(new URL(`../../queues/commands/${p}.lua`, import.meta.url), 'utf8');
    const lua = `${resolveIncludes('--- @include "includes/budgetPeriod"\n', read)}\nlocal s, e = budgetPeriodBounds(ARGV[1], tonumber(ARGV[2]))\nreturn { budgetMs(s), budgetMs(e) }`;
    const instants = ['2026-12-31T23:59:59.999Z', '2027-01-01T00:00:00Z', '2028-02-29T23:00:00Z', '2100-03-01T00:00:00Z', '2026-06-15T12:34:56.789Z'].map(Date.parse);
    for (const period of ['hour', 'day', 'month', String(15 * 60_000), String(7 * 86_400_000)]) {
      for (const now of instants) {
        const [s, e] = (await conn.eval(lua, 0, period, String(now))) as [string, string];
        const want = periodBounds(/^\d+$/.test(period) ? Number(period) : (period as 'hour'), now);
        expect([Number(s), Number(e)], `${period} at ${new Date(now).toISOString()}`).toEqual([want.start, want.end]);
      }
    }
  });
});
