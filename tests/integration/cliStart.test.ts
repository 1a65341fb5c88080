// `swarmq start` as a child process, with no REDIS_URL: it starts its own
// redis-server with AOF, serves HTTP, completes a task, and Ctrl-C exits 0.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliChild } from '../support/cli.ts';
import { until } from '../support/swarm.ts';

const dir = mkdtempSync(join(tmpdir(), 'swarmq-start-'));
let cli: CliChild | undefined;

afterAll(() => {
  if (cli && cli.child.exitCode === null) process.kill(-cli.child.pid!, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('swarmq start', () => {
  it('runs a task submitted over HTTP and exits 0 on Ctrl-C', async () => {
    const env = { ...process.env };
    delete env.REDIS_URL;
    cli = spawnCli(['start', '--port', '0', '--count', '3'], { cwd: dir, env, ownGroup: true });
    const started = await cli.waitFor(/started redis-server with AOF/);
    expect(String(started.aof)).toBe(join(dir, '.swarmq', 'redis'));
    const up = await cli.waitFor(/swarmq is up/);
    const base = String(up.url);
    // The URLs a newcomer opens are printed, and answer.
    // (on stdout, a pipe of its own: wait for it rather than race the log on stderr)
    expect((await cli.waitFor(/swarm dashboard {2}http/)).line).toContain(`${base}/dashboard`);
    expect((await cli.waitFor(/Bull Board {7}http/)).line).toContain(`${base}/admin/queues`);
    expect((await fetch(`${base}/dashboard`)).status).toBe(200);
    const res = await fetch(`${base}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'cpu', payload: { iterations: 1000 } }) });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const task = await until(async () => {
      const t = (await (await fetch(`${base}/api/tasks/${id}`)).json()) as { state: string; result: { digest: string } };
      return t.state === 'completed' ? t : undefined;
    });
    expect(task.result.digest).toMatch(/^[0-9a-f]{64}$/);
    // Ctrl-C at a terminal signals the whole foreground process group, children included.
    process.kill(-cli.child.pid!, 'SIGINT');
    const exit = await cli.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(cli.output()).toMatch(/agent host stopped/);
    // The AOF is on disk for the next start.
    expect(readdirSync(join(dir, '.swarmq', 'redis')).some((f) => f.startsWith('appendonly'))).toBe(true);
    // Its URL was published for other commands while it ran, and withdrawn on exit.
    expect(existsSync(join(dir, '.swarmq', 'redis.url'))).toBe(false);
  }, 60_000);

  it('with neither REDIS_URL nor redis-server, exits 1 saying how to get Redis', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: mkdtempSync(join(tmpdir(), 'swarmq-empty-path-')) };
    delete env.REDIS_URL;
    const c = spawnCli(['start', '--port', '0'], { cwd: dir, env });
    expect((await c.exited).code).toBe(1);
    expect(c.output()).toMatch(/REDIS_URL/);
    expect(c.output()).toMatch(/apt-get install redis-server/);
    expect(c.output()).toMatch(/docker compose up -d redis/);
  }, 30_000);
});
