// `swarmq start --cluster 3` as a child process: it forms a Redis Cluster of
// its own (AOF in ./.swarmq/cluster), runs the swarm on it, completes a task,
// and Ctrl-C stops the Cluster's nodes too.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { waitForRedis } from '../../src/cli/redisServer.ts';
import { spawnCli, type CliChild } from '../support/cli.ts';
import { until } from '../support/swarm.ts';

const dir = mkdtempSync(join(tmpdir(), 'swarmq-start-cluster-'));
let cli: CliChild | undefined;

afterAll(async () => {
  if (cli && cli.child.exitCode === null) process.kill(-cli.child.pid!, 'SIGKILL');
  // The nodes lead process groups of their own: a failed run may leave them up, so shut down what answers.
  const layout = join(dir, '.swarmq', 'cluster', 'cluster.json');
  if (existsSync(layout)) {
    for (const port of (JSON.parse(readFileSync(layout, 'utf8')) as { ports: number[] }).ports) {
      const r = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      r.on('error', () => {});
      await r.connect().then(() => r.call('SHUTDOWN', 'NOSAVE')).catch(() => {});
      r.disconnect();
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('swarmq start --cluster 3', () => {
  it('forms a local Cluster, runs a task on it, and stops it on Ctrl-C', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, SWARMQ_LOCAL_CLUSTER: '3' };
    delete env.REDIS_URL;
    cli = spawnCli(['start', '--port', '0', '--count', '3'], { cwd: dir, env, ownGroup: true });
    const started = await cli.waitFor(/started a local Redis Cluster/, 30_000);
    expect(started.masters).toBe(3);
    expect(String(started.aof)).toBe(join(dir, '.swarmq', 'cluster'));
    const seeds = String(started.redis).split(',');
    expect(seeds).toHaveLength(3);
    const up = await cli.waitFor(/swarmq is up/, 30_000);
    expect(String(up.redis)).toMatch(/^cluster /);
    const base = String(up.url);
    // Other commands in this dir find the Cluster's seeds.
    expect(readFileSync(join(dir, '.swarmq', 'redis.url'), 'utf8').trim()).toBe(String(started.redis));
    const res = await fetch(`${base}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'echo', payload: { on: 'cluster' } }) });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const task = await until(async () => {
      const t = (await (await fetch(`${base}/api/tasks/${id}`)).json()) as { state: string; result: unknown };
      return t.state === 'completed' ? t : undefined;
    });
    expect(task.result).toEqual({ on: 'cluster' });
    process.kill(-cli.child.pid!, 'SIGINT');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    // Every node kept an AOF, and was stopped with the swarm.
    for (const n of ['n0', 'n1', 'n2']) expect(readdirSync(join(dir, '.swarmq', 'cluster', n)).some((f) => f.startsWith('appendonly'))).toBe(true);
    await expect(waitForRedis(seeds[0]!, 200)).rejects.toThrow(/did not answer/);
    expect(existsSync(join(dir, '.swarmq', 'redis.url'))).toBe(false);
  }, 90_000);
});
