// `swarmq agents` as a child process: user processors from a module, drain on
// SIGTERM (the unfinished task goes back to its queue, no attempt spent), and
// clear errors for a bad module or bad flags.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { swarmKeys } from '../../queues/keys.ts';
import { spawnCli, type CliChild } from '../support/cli.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';
import { until } from '../support/swarm.ts';

const redis = redisForFile();
let client: SwarmClient;
const prefix = uniquePrefix('cli');
const dir = mkdtempSync(join(tmpdir(), 'swarmq-procs-'));
const children: CliChild[] = [];
const env = { SWARMQ_HEARTBEAT_INTERVAL_MS: '200' };

function agents(...args: string[]): CliChild {
  const c = spawnCli(['agents', '--redis-url', redis.url, '--prefix', prefix, ...args], { env });
  children.push(c);
  return c;
}

beforeAll(async () => {
  client = new SwarmClient({ redis: redis.url, prefix });
  writeFileSync(
    join(dir, 'handlers.mjs'),
    `export async function shout(payload, ctx) { return { text: String(payload.text).toUpperCase(), agent: ctx.agentId, attempt: ctx.attempt }; }\n` +
      `export const wait = (payload, ctx) => new Promise((resolve, reject) => { const t = setTimeout(() => resolve('waited'), payload.ms); ctx.signal.addEventListener('abort', () => { clearTimeout(t); reject(ctx.signal.reason); }); });\n`,
  );
  writeFileSync(join(dir, 'broken.mjs'), `export const notAFunction = 42;\n`);
});

afterAll(async () => {
  for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  await client?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('swarmq agents', () => {
  it('runs a user processor loaded with --processors', async () => {
    const host = agents('--count', '2', '--type', 'shouter', '--host-id', 'up', '--processors', join(dir, 'handlers.mjs'));
    await host.waitFor(/agent host ready/);
    const { id } = await client.submit({ type: 'shout', payload: { text: 'hi' }, affinity: { agentType: 'shouter' } });
    const t = await client.waitFor(id, { timeoutMs: 10_000 });
    expect(t).toMatchObject({ state: 'completed', result: { text: 'HI', attempt: 1 } });
    expect((t.result as { agent: string }).agent).toBe(t.agentId);
    host.child.kill('SIGTERM');
    expect((await host.exited).code).toBe(0);
  });

  it('on SIGTERM finishes what it can by the deadline and returns the rest to the queue', async () => {
    const host = agents('--count', '1', '--host-id', 'drainer', '--processors', join(dir, 'handlers.mjs'), '--drain-ms', '300');
    await host.waitFor(/agent host ready/);
    const { id } = await client.submit({ type: 'wait', payload: { ms: 60_000 } });
    await until(async () => (await client.get(id))?.state === 'active', 10_000, 'task to start');
    host.child.kill('SIGTERM');
    const exit = await host.exited;
    expect(exit.code).toBe(0);
    expect(host.output()).toMatch(/"returned":1/);
    const back = await client.get(id);
    expect(back).toMatchObject({ state: 'waiting', attempts: 0, error: null });
    // Its agent left the roster and its host stopped beating.
    const r = redis.connect();
    try {
      expect(Object.keys(await r.hgetall(swarmKeys(prefix).agents)).filter((a) => a.startsWith('drainer-'))).toEqual([]);
      expect(await r.zscore(swarmKeys(prefix).hosts, 'drainer')).toBeNull();
    } finally {
      r.disconnect();
    }
    // Another host picks it up and runs it from its first attempt.
    const next = agents('--count', '1', '--host-id', 'drainer2', '--processors', join(dir, 'handlers.mjs'));
    await next.waitFor(/agent host ready/);
    // The only host left runs it (an agent is named on a task when it finishes).
    await until(async () => (await client.get(id))?.state === 'active', 10_000, 'the returned task to start again');
    // Running on the second host now: a cancel reaches that host, which aborts it (`wait` honours its signal).
    expect(await client.cancel(id)).toMatchObject({ state: 'cancelled', wasRunning: true });
  });

  it('a bad processors module or bad flags exit 1 with a message', async () => {
    const broken = agents('--processors', join(dir, 'broken.mjs'));
    expect((await broken.exited).code).toBe(1);
    expect(broken.output()).toMatch(/export "notAFunction" is not a function/);
    const missing = agents('--processors', join(dir, 'nope.mjs'));
    expect((await missing.exited).code).toBe(1);
    expect(missing.output()).toMatch(/cannot load processors from .*nope\.mjs/);
    const zero = agents('--count', '0');
    expect((await zero.exited).code).toBe(1);
    expect(zero.output()).toMatch(/--count must be a whole number ≥ 1/);
  });
});
