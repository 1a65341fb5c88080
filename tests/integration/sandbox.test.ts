// Sandboxed processors run in BullMQ child processes; the parent keeps the
// job's lock renewed while a child blocks its own event loop for longer than
// the lock lasts, so the task is not falsely recovered.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { AgentHost } from '../../src/agents/host.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { silentLogger } from '../../src/log.ts';
import { processorsFor } from '../../processors/load.ts';
import { nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { redisForFile } from '../support/redis.ts';
import { testConfig } from '../support/swarm.ts';

const redis = redisForFile();
let host: AgentHost;
let client: SwarmClient;
let conn: Redis;
let prefix: string;
const dir = mkdtempSync(join(tmpdir(), 'swarmq-sandbox-'));
const modulePath = join(dir, 'heavy.mjs');

beforeAll(async () => {
  writeFileSync(
    modulePath,
    `export function whoami(payload, ctx) { return { pid: process.pid, agent: ctx.agentId, task: ctx.taskId }; }\n` +
      `export function spin({ ms }) { const end = Date.now() + ms; let n = 0; while (Date.now() < end) n++; return { spun: ms, pid: process.pid }; }\n` +
      `export async function report(payload, ctx) { for (let i = 1; i <= 2000; i++) ctx.progress({ i }); let refused; try { ctx.progress('x'.repeat(20000)); } catch (err) { refused = err.message; } return { refused }; }\n`,
  );
  conn = redis.connect();
  const config = testConfig(redis, { agents: { lockDurationMs: 1000, stalledIntervalMs: 500 } });
  prefix = config.prefix;
  host = new AgentHost({
    config,
    hostId: 'sbx',
    agents: [{ type: 'w', count: 2 }],
    processors: await processorsFor(modulePath),
    sandbox: { types: ['whoami', 'spin', 'cpu', 'report'], modulePath },
    logger: silentLogger,
  });
  await host.start();
  client = new SwarmClient({ redis: redis.url, prefix });
});

afterAll(async () => {
  await client?.close();
  await host?.stop(1000);
  rmSync(dir, { recursive: true, force: true });
});

describe('--sandbox', () => {
  it('runs the processor in a child process with the task context', async () => {
    const { id } = await client.submit({ type: 'whoami' });
    const t = await client.waitFor(id, { timeoutMs: 20_000 });
    expect(t.state).toBe('completed');
    const r = t.result as { pid: number; agent: string; task: string };
    expect(r.pid).not.toBe(process.pid);
    expect(r.agent).toBe(t.agentId);
    expect(r.task).toBe(id);
  }, 30_000);

  it('ctx.progress in a child: a bad value throws there, the reports are coalesced in the host and the last one recorded', async () => {
    const { id, node } = await client.submit({ type: 'report' });
    const t = await client.waitFor(id, { timeoutMs: 20_000 });
    expect(t.state).toBe('completed');
    expect((t.result as { refused: string }).refused).toMatch(/over the limit of 16384 \(agents\.progressMaxBytes\)/);
    expect(t.progress).toEqual({ i: 2000 });
    const entries = (await conn.xrange(`${prefix}:${nodeQueueName(node)}:events`, '-', '+')) as [string, string[]][];
    const writes = entries.filter(([, f]) => f[1] === 'progress' && f[3] === id).length;
    // 2,000 reports, sent by the child as fast as it can: a handful of writes.
    expect(writes).toBeGreaterThanOrEqual(1);
    expect(writes).toBeLessThan(20);
  }, 30_000);

  it('built-in types run sandboxed too', async () => {
    const { id } = await client.submit({ type: 'cpu', payload: { iterations: 20_000 } });
    const t = await client.waitFor(id, { timeoutMs: 20_000 });
    expect(t.state).toBe('completed');
    expect((t.result as { digest: string }).digest).toMatch(/^[0-9a-f]{64}$/);
  }, 30_000);

  it('a child blocked for 3× the lock duration keeps its lock: one attempt, no recovery', async () => {
    // A second Worker on the node's queue runs BullMQ's stalled check and nothing else (never run: it takes
    // no job; a paused Worker would stop its stalled checks too), so an expired lock would be caught and the
    // task taken back.
    const node = host.agents()[0]!.node;
    const checker = new Worker(nodeQueueName(node), async () => {}, { connection: { url: redis.url }, prefix, stalledInterval: 300, lockDuration: 1000, autorun: false });
    await checker.waitUntilReady();
    await checker.startStalledCheckTimer();
    const { id } = await client.submit({ type: 'spin', payload: { ms: 3000 } });
    const t = await client.waitFor(id, { timeoutMs: 20_000 });
    expect(t).toMatchObject({ state: 'completed', attempts: 1, result: { spun: 3000 } });
    expect(await conn.hgetall(swarmKeys(prefix).stats)).toEqual({});
    const job = await conn.hget(`${prefix}:${nodeQueueName(t.node)}:${id}`, 'ats');
    expect(job).toBe('1'); // started once: never taken back by a stalled check
    await checker.close();
  }, 30_000);
});
