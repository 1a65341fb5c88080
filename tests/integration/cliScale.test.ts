// `swarmq agents --count 1000` in two processes: 2,000 agents in GET /api/agents,
// tasks flowing to both; and a host started before its Redis says so, backs off
// without spinning, and comes up when Redis does.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, launchRedisServer, type RedisServer } from '../../src/cli/redisServer.ts';
import { spawnCli, type CliChild } from '../support/cli.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { testConfig, until } from '../support/swarm.ts';
import { startStack, type Stack } from '../support/stack.ts';

const children: CliChild[] = [];
let redis: TestRedis | undefined;
let stack: Stack | undefined;
let late: RedisServer | undefined;
const lateDir = mkdtempSync(join(tmpdir(), 'swarmq-late-'));

afterAll(async () => {
  for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  await stack?.stop();
  await redis?.stop();
  await late?.kill('SIGKILL');
  rmSync(lateDir, { recursive: true, force: true });
});

describe('agents from the CLI at scale', () => {
  it('two hosts of 1,000 agents: 2,000 live in GET /api/agents, work reaches both', async () => {
    redis = await startRedis();
    stack = await startStack(testConfig(redis));
    const env = { SWARMQ_HEARTBEAT_INTERVAL_MS: '200' };
    for (const id of ['big1', 'big2']) {
      children.push(spawnCli(['agents', '--count', '1000', '--host-id', id, '--mode', 'waves', '--wave-size', '100', '--redis-url', redis.url, '--prefix', stack.config.prefix], { env }));
    }
    const lines = await Promise.all(children.map((c) => c.waitFor(/^spawned \d+ agents/, 60_000)));
    for (const l of lines) expect(String(l.line)).toMatch(/^spawned 1000 agents on host big\d in [\d.]+ s: [\d.]+ KB of memory per agent, \d+ Redis connections \(100 nodes\)/);
    const live = (await stack.request('GET', '/api/agents?state=live&limit=1')).body as { total: number; matched: number };
    expect(live).toMatchObject({ total: 2000, matched: 2000 });
    const r = await stack.request('POST', '/api/tasks/batch', { tasks: Array.from({ length: 400 }, (_, i) => ({ type: 'echo', payload: i })) });
    const done = await Promise.all(
      (r.body.ids as string[]).map((id) =>
        until(async () => {
          const t = await stack!.request('GET', `/api/tasks/${id}`);
          return t.body.state === 'completed' ? t.body : undefined;
        }, 30_000),
      ),
    );
    const hosts = new Set(done.map((t: { agentId: string }) => t.agentId.split('-a')[0]));
    expect(hosts).toEqual(new Set(['big1', 'big2']));
  }, 120_000);

  it('a host without Redis says so, backs off without spinning, and starts when Redis appears', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const c = spawnCli(['agents', '--count', '3', '--host-id', 'patient', '--redis-url', url, '--prefix', 'late']);
    children.push(c);
    await c.waitFor(/cannot reach Redis; retrying with backoff/, 20_000);
    const cpuBefore = await cpuSeconds(c.child.pid!);
    await new Promise((r) => setTimeout(r, 3000));
    // Waiting, not spinning: well under a tenth of a core over three seconds.
    expect((await cpuSeconds(c.child.pid!)) - cpuBefore).toBeLessThan(0.3);
    expect(c.output().match(/cannot reach Redis/g)!.length).toBeLessThan(10);
    late = await launchRedisServer({ dir: lateDir, port, appendonly: false });
    await c.waitFor(/agent host ready/, 20_000);
  }, 60_000);
});

/** user + system CPU seconds of a process, from /proc. */
async function cpuSeconds(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
