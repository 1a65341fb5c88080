// Keys' limits, swarm-wide (docs/keys.md): maxActive and rate held across three
// agent hosts, checked at every start; a key held for its provider's rate limit
// on every host; limits set over HTTP and the CLI's functions, listed, and
// exported as metrics; a slot whose host never frees it lapses with its lease.
// The full 30 s rate window of issue 19 runs with SWARMQ_KEYS_RATE_WINDOW_S=30.
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentHost } from '../../src/agents/host.ts';
import type { TaskContext } from '../../src/agents/processor.ts';
import { RetryLaterError } from '../../src/agents/retryLater.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { limitsGet, limitsSet } from '../../src/cli/limits.ts';
import { silentLogger } from '../../src/log.ts';
import { admitKeyed, releaseKeyed } from '../../queues/keyState.ts';
import { INTAKE_QUEUE } from '../../queues/keys.ts';
import { parseProm, value } from '../support/promText.ts';
import { redisForFile } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

const RATE_WINDOW_S = Number(process.env.SWARMQ_KEYS_RATE_WINDOW_S ?? 5);

/** What every host's processors saw, in this process: starts with their key, host and time, and how many of a key ran at each start. */
const starts: { key: string; host: string; at: number; running: number }[] = [];
/** For the rate's tasks: when Redis admitted each start, as the key's starts window recorded it (admitKeyed-6.lua). */
const admitted: number[] = [];
const running = new Map<string, number>();
let tripped = 0;

function processorsOf(host: string) {
  const timed = async (ms: number, ctx: TaskContext) => {
    const key = ctx.key ?? '-';
    const now = (running.get(key) ?? 0) + 1;
    running.set(key, now);
    starts.push({ key, host, at: Date.now(), running: now });
    try {
      await new Promise((r) => setTimeout(r, ms));
    } finally {
      running.set(key, (running.get(key) ?? 1) - 1);
    }
    return { host };
  };
  return {
    hold: (payload: unknown, ctx: TaskContext) => timed((payload as { ms: number }).ms, ctx),
    rated: async (_payload: unknown, ctx: TaskContext) => {
      const at = Date.now();
      const score = await redis.connection.zscore(`${stack.config.prefix}:{k:${ctx.key}}:starts`, `${ctx.taskId}#${ctx.attempt - 1}`);
      admitted.push(Number(score));
      starts.push({ key: ctx.key ?? '-', host, at, running: 0 });
      return null;
    },
    // The first run answers as a provider's 429 does (an HTTP agent throws the same RetryLaterError): the key is held on every host.
    trip: async (_payload: unknown, ctx: TaskContext) => {
      if (tripped++ === 0) throw new RetryLaterError(1500, 'the provider said 429, retry after 1.5 s');
      return await timed(1, ctx);
    },
    pause: async (payload: unknown, ctx: TaskContext) => {
      const until = await ctx.holdKey!((payload as { ms: number }).ms);
      return { until };
    },
  };
}

const redis = redisForFile();
let stack: Stack;
let client: SwarmClient;
const hosts: AgentHost[] = [];

beforeAll(async () => {
  const config = testConfig(redis, { agents: { heartbeatIntervalMs: 200 } });
  stack = await startStack(config);
  for (const id of ['ka', 'kb', 'kc']) {
    const h = new AgentHost({ config, hostId: id, agents: [{ type: 'worker', count: 4, capacity: 1 }], processors: processorsOf(id), logger: silentLogger });
    await h.start();
    hosts.push(h);
  }
  client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
  await Promise.all(hosts.map((h) => h.stop(500)));
});

async function putLimits(key: string, body: unknown) {
  return await stack.request('PUT', `/api/keys/${key}/limits`, body);
}

describe('maxActive', () => {
  it('3 is never exceeded across three hosts, checked at every start; held tasks start as slots free, no attempt spent', async () => {
    expect((await putLimits('m3', { maxActive: 3 })).body).toMatchObject({ key: 'm3', limits: { maxActive: 3 } });
    const t0 = Date.now();
    const ids = await Promise.all(Array.from({ length: 30 }, () => client.submit({ type: 'hold', payload: { ms: 150 }, key: 'm3' })));
    const done = await Promise.all(ids.map((s) => client.waitFor(s.id, { timeoutMs: 20_000 })));
    const took = Date.now() - t0;
    const mine = starts.filter((s) => s.key === 'm3');
    const hostsUsed = new Set(mine.map((s) => s.host));
    console.log(`maxActive 3: 30 tasks of 150 ms in ${took} ms on ${hostsUsed.size} hosts, most running at a start ${Math.max(...mine.map((s) => s.running))}`);
    expect(done.every((t) => t.state === 'completed' && t.attempts === 1 && t.key === 'm3')).toBe(true);
    expect(mine).toHaveLength(30);
    expect(Math.max(...mine.map((s) => s.running))).toBe(3);
    expect(hostsUsed.size).toBeGreaterThan(1);
    // Ten rounds of three; a held task waiting for its 5 s recheck instead of a freed slot would show here.
    expect(took).toBeLessThan(4500);
    const view = (await stack.request('GET', '/api/keys/m3')).body;
    expect(view).toMatchObject({ key: 'm3', active: 0, waiting: 0, held: 0, started: 30 });
    expect(view.throttled.active).toBeGreaterThan(0);
  });
});

describe('rate', () => {
  it(`20/s across three hosts holds within 5 % over ${RATE_WINDOW_S} s, and no 1 s window of starts holds more than 20`, async () => {
    expect((await putLimits('r20', { rate: '20/s' })).body.limits).toEqual({ rate: { max: 20, perMs: 1000 }, rateText: '20/s' });
    const total = 20 * RATE_WINDOW_S + 60;
    for (let i = 0; i < total; i += 500) {
      await client.submitBatch(Array.from({ length: Math.min(500, total - i) }, () => ({ type: 'rated', key: 'r20' })));
    }
    await until(async () => admitted.length >= 20 * RATE_WINDOW_S + 20, (RATE_WINDOW_S + 10) * 1000, 'the window to fill');
    // Checked at every start: when Redis admitted it (every host's starts go through the key's one window), and when its processor began.
    const byRedis = [...admitted].sort((a, b) => a - b);
    const byProcessor = starts.filter((s) => s.key === 'r20').map((s) => s.at).sort((a, b) => a - b);
    const mostIn = (at: number[], ms: number) => {
      let most = 0;
      for (let i = 0, j = 0; i < at.length; i++) {
        while (at[j]! <= at[i]! - ms) j++;
        most = Math.max(most, i - j + 1);
      }
      return most;
    };
    const t0 = byRedis[0]!;
    const inWindow = byRedis.filter((t) => t < t0 + RATE_WINDOW_S * 1000).length;
    const hostsUsed = new Set(starts.filter((s) => s.key === 'r20').map((s) => s.host)).size;
    console.log(
      `rate 20/s: ${inWindow} starts in the first ${RATE_WINDOW_S} s (${(inWindow / RATE_WINDOW_S).toFixed(2)}/s) on ${hostsUsed} hosts; ` +
        `most in any 1000 ms as Redis admitted them: ${mostIn(byRedis, 1000)}; as processors began them: ${mostIn(byProcessor, 1000)} (in any 950 ms: ${mostIn(byProcessor, 950)})`,
    );
    expect(Math.abs(inWindow - 20 * RATE_WINDOW_S), `starts in the first ${RATE_WINDOW_S} s: ${inWindow}`).toBeLessThanOrEqual(20 * RATE_WINDOW_S * 0.05);
    expect(mostIn(byRedis, 1000), 'most starts Redis admitted in any 1000 ms').toBeLessThanOrEqual(20);
    // A processor begins a moment after Redis admits it, by its event loop's delay (three hosts, a coordinator
    // and the test share one here, beside other test files under CI): a window 100 ms short absorbs that.
    expect(mostIn(byProcessor, 900), 'most starts processors began in any 900 ms').toBeLessThanOrEqual(20);
    expect(hostsUsed, 'hosts that ran the key').toBeGreaterThanOrEqual(2);
    expect((await stack.request('GET', '/api/keys/r20')).body.throttled.rate).toBeGreaterThan(0);
  }, (RATE_WINDOW_S + 30) * 1000);
});

describe('a key held by its provider', () => {
  it("a 429 (RetryLaterError) holds the key's tasks on every host for its Retry-After, and hands the task back without spending an attempt", async () => {
    const first = await client.submit({ type: 'trip', key: 'prov' });
    const held = await until(async () => {
      const v = (await stack.request('GET', '/api/keys/prov')).body;
      return v.holdUntil ? v : undefined;
    }, 5000, 'the hold');
    const others = await Promise.all(Array.from({ length: 6 }, () => client.submit({ type: 'hold', payload: { ms: 1 }, key: 'prov' })));
    await Promise.all(others.map((s) => client.waitFor(s.id, { timeoutMs: 10_000 })));
    const provStarts = starts.filter((s) => s.key === 'prov');
    console.log(`hold: until ${held.holdUntil}; the 6 others started ${Math.min(...provStarts.map((s) => s.at)) - held.holdUntil} ms after it ended, on ${new Set(provStarts.map((s) => s.host)).size} hosts`);
    // Processor clocks and Redis's are one machine's here.
    for (const s of provStarts) expect(s.at).toBeGreaterThanOrEqual(held.holdUntil - 5);
    const t = await client.waitFor(first.id, { timeoutMs: 10_000 });
    expect(t).toMatchObject({ state: 'completed', attempts: 1, key: 'prov' });
    expect((await stack.request('GET', '/api/keys/prov')).body.throttled.hold).toBeGreaterThan(0);
  });

  it('ctx.holdKey holds the key for every host while the task itself goes on', async () => {
    const { id } = await client.submit({ type: 'pause', payload: { ms: 800 }, key: 'ctxhold' });
    const done = await client.waitFor(id, { timeoutMs: 10_000 });
    const until = (done.result as { until: number }).until;
    const next = await client.submit({ type: 'hold', payload: { ms: 1 }, key: 'ctxhold' });
    await client.waitFor(next.id, { timeoutMs: 10_000 });
    const s = starts.find((x) => x.key === 'ctxhold')!;
    expect(s.at).toBeGreaterThanOrEqual(until - 5);
  });
});

describe('limits over HTTP, the CLI and the metrics', () => {
  it('PUT checks the whole body and the key before writing anything', async () => {
    const bad = await putLimits('acme', { maxActive: 0, rate: 'fast', weight: 5000, extra: true });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
    expect(bad.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['(root)', 'maxActive', 'rate', 'weight']);
    expect((await putLimits('no%7Bbraces%7D', { maxActive: 1 })).status).toBe(400);
    expect((await stack.request('PUT', '/api/keys/acme/limits', 'maxActive=1', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await stack.request('GET', '/api/keys/acme')).body).toMatchObject({ key: 'acme', limits: {}, active: 0, waiting: 0 });
    expect((await redis.connection.hexists(`${stack.config.prefix}:{swarm}:key-limits`, 'acme'))).toBe(0);
  });

  it('swarmq limits set / get replace and read the same limits; GET /api/keys lists every key with its counts', async () => {
    const set = await limitsSet(stack.config, 'cli-key', { maxActive: '2', rate: '500/min', weight: '2.5' });
    expect(set.limits).toEqual({ maxActive: 2, rate: { max: 500, perMs: 60_000 }, weight: 2.5, rateText: '500/min' });
    expect(await limitsGet(stack.config, 'cli-key')).toMatchObject([{ key: 'cli-key', limits: { maxActive: 2, weight: 2.5 } }]);
    // Set again without a rate: the limits are replaced whole.
    expect((await limitsSet(stack.config, 'cli-key', { weight: '1' })).limits).toEqual({ weight: 1 });
    await expect(limitsSet(stack.config, 'cli-key', { rate: '20 per second' })).rejects.toThrow(/rate: .*<n>\/<unit>/);
    // The client's methods go through the same checks and writes.
    expect((await client.setKeyLimits('client-key', { rate: '10/min', maxActive: 4 })).limits).toMatchObject({ maxActive: 4, rateText: '10/min' });
    await expect(client.setKeyLimits('client-key', { maxActive: -1 })).rejects.toMatchObject({ code: 'invalid_request' });
    expect((await client.key('client-key')).limits.maxActive).toBe(4);
    const listed = (await stack.request('GET', '/api/keys')).body.keys.map((k: { key: string }) => k.key);
    expect(listed).toEqual(expect.arrayContaining(['m3', 'r20', 'prov', 'cli-key', 'client-key']));
    expect((await client.keys()).map((k) => k.key)).toEqual(listed);
  });

  it('the metrics export each key: swarmq_key_active, swarmq_key_waiting, swarmq_key_throttled_total', async () => {
    const text = await (await fetch(`${stack.base}/metrics`)).text();
    const { samples, problems } = parseProm(text);
    expect(problems).toEqual([]);
    expect(value(samples, 'swarmq_key_active', { key: 'm3' })).toBe(0);
    expect(value(samples, 'swarmq_key_waiting', { key: 'm3' })).toBe(0);
    expect(value(samples, 'swarmq_key_throttled_total', { key: 'm3', reason: 'active' })).toBeGreaterThan(0);
    expect(value(samples, 'swarmq_key_throttled_total', { key: 'r20', reason: 'rate' })).toBeGreaterThan(0);
  });

  it('an intake job carries its key in its options; the task view shows it', async () => {
    const intake = new Queue(INTAKE_QUEUE, { connection: redis.connection, prefix: stack.config.prefix });
    try {
      const job = await intake.add('hold', { ms: 1 }, { key: 'from-intake' } as Parameters<Queue['add']>[2]);
      const routed = await until(async () => ((await intake.getJob(job.id!))?.returnvalue as { id: string } | undefined) ?? undefined, 10_000, 'the intake job to be routed');
      expect(await client.waitFor(routed.id, { timeoutMs: 10_000 })).toMatchObject({ state: 'completed', key: 'from-intake' });
    } finally {
      await intake.close();
    }
  });
});

describe('a slot no host frees', () => {
  it("lapses with its lease: a host that died frees its key's slots even if its tasks never run again", async () => {
    const r = redis.connection;
    const prefix = stack.config.prefix;
    await limitsSet(stack.config, 'lease', { maxActive: '1' });
    expect(await admitKeyed(r, { prefix, key: 'lease', taskId: 'n1.dead000000a', attempt: 0, leaseMs: 300, node: 'n1' })).toEqual({ verdict: 'ok', delayMs: 0 });
    expect((await admitKeyed(r, { prefix, key: 'lease', taskId: 'n1.other00000b', attempt: 0, leaseMs: 300, node: 'n1' })).verdict).toBe('active');
    // The same task run again (recovered from its dead host) keeps its slot.
    expect((await admitKeyed(r, { prefix, key: 'lease', taskId: 'n1.dead000000a', attempt: 0, leaseMs: 300, node: 'n1' })).verdict).toBe('ok');
    await new Promise((res) => setTimeout(res, 350));
    expect((await admitKeyed(r, { prefix, key: 'lease', taskId: 'n1.other00000b', attempt: 0, leaseMs: 300, node: 'n1' })).verdict).toBe('ok');
    expect(await releaseKeyed(r, { prefix, key: 'lease', taskId: 'n1.other00000b', most: 10 })).toEqual([]);
    expect((await limitsGet(stack.config, 'lease'))[0]).toMatchObject({ active: 0 });
  });
});
