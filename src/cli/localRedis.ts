// `swarmq start` without REDIS_URL: a redis-server of our own with AOF in
// ./.swarmq/redis, so tasks survive a restart of the whole thing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';

export const NO_REDIS_HELP = [
  'swarmq needs Redis and found none:',
  '  - set REDIS_URL=redis://host:port to use a Redis you have, or',
  '  - install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), or',
  '  - run `docker compose up -d redis` from this repository and set REDIS_URL=redis://127.0.0.1:6379.',
].join('\n');

export interface LocalRedis {
  url: string;
  dir: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return await new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export async function startLocalRedis(stateDir = '.swarmq'): Promise<LocalRedis> {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) throw new Error(NO_REDIS_HELP);
  const dir = resolve(stateDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--logfile', join(dir, 'redis.log')],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    r.on('error', () => {});
    try {
      await r.connect();
      if ((await r.ping()) === 'PONG') break;
    } catch {
      // not up yet, or replaying its AOF (LOADING)
    } finally {
      r.disconnect();
    }
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}; see ${join(dir, 'redis.log')}`);
    if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${url} within 30 s; see ${join(dir, 'redis.log')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // Lets `swarmq submit` and `swarmq status` in another terminal find it.
  writeFileSync(resolve(stateDir, 'redis.url'), url + '\n');
  return {
    url,
    dir,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM'); // redis flushes its AOF on SIGTERM
      await exited;
    },
  };
}
