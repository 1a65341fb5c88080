// Real Redis for tests (DESIGN.md, Testing): REDIS_URL, else our own redis-server
// from PATH on a free port in a temp dir, else Testcontainers. Never a mock.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export interface TestRedis {
  url: string;
  host: string;
  port: number;
  /** A key prefix of this test file's own, so files can share one server. */
  prefix: string;
  kind: 'env' | 'local' | 'container';
  /** Kill the server (SIGKILL by default). Only for servers this suite started. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Start it again on the same port and data dir, so AOF replays. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** A server of our own even when REDIS_URL is set: fault tests kill it. */
  own?: boolean;
  appendfsync?: 'always' | 'everysec';
}

const HOW_TO_GET_REDIS =
  'No Redis for tests: set REDIS_URL=redis://host:port, or install redis-server ' +
  "(Debian: apt-get install redis-server) so tests can start their own, or run a Docker engine for Testcontainers.";

export function uniquePrefix(label = 't'): string {
  return `sq-${label}-${randomBytes(4).toString('hex')}`;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function hasRedisServer(): boolean {
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

async function waitForPing(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    r.on('error', () => {});
    try {
      await r.connect();
      // While AOF is being replayed Redis answers LOADING: wait for real readiness.
      if ((await r.ping()) === 'PONG') return;
    } catch (err) {
      lastError = err;
    } finally {
      r.disconnect();
    }
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error(`redis at ${url} did not answer within ${timeoutMs} ms: ${String(lastError)}`);
}

export async function startLocalRedis(opts: StartOptions = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'swarmq-redis-'));
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn(
      'redis-server',
      [
        '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
        '--appendonly', 'yes', '--appendfsync', opts.appendfsync ?? 'always',
        '--save', '', '--daemonize', 'no', '--logfile', join(dir, 'redis.log'),
      ],
      { stdio: 'ignore' },
    );
    await waitForPing(`redis://127.0.0.1:${port}`, 10_000);
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((res) => {
      c.once('exit', () => res());
      c.kill(signal);
    });
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    prefix: uniquePrefix(),
    kind: 'local',
    kill,
    restart: async () => {
      await kill('SIGKILL');
      await launch();
    },
    stop: async () => {
      await kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startContainerRedis(): Promise<TestRedis> {
  // Lazy: testcontainers is only the fallback for users with a Docker engine.
  const { GenericContainer } = await import('testcontainers');
  const container = await new GenericContainer('redis:7-alpine')
    .withCommand(['redis-server', '--appendonly', 'yes', '--appendfsync', 'always'])
    .withExposedPorts(6379)
    .start();
  const host = container.getHost();
  const port = container.getMappedPort(6379);
  const notOwn = () => Promise.reject(new Error('killing a Testcontainers Redis is not supported; install redis-server'));
  return {
    url: `redis://${host}:${port}`,
    host,
    port,
    prefix: uniquePrefix(),
    kind: 'container',
    kill: notOwn,
    restart: notOwn,
    stop: async () => {
      await container.stop();
    },
  };
}

export async function startRedis(opts: StartOptions = {}): Promise<TestRedis> {
  const envUrl = process.env.REDIS_URL;
  if (envUrl && !opts.own) {
    const u = new URL(envUrl);
    const refuse = () => Promise.reject(new Error('REDIS_URL servers are shared: ask startRedis({ own: true }) to kill one'));
    return {
      url: envUrl,
      host: u.hostname,
      port: Number(u.port || 6379),
      prefix: uniquePrefix(),
      kind: 'env',
      kill: refuse,
      restart: refuse,
      stop: async () => {},
    };
  }
  if (hasRedisServer()) return await startLocalRedis(opts);
  try {
    return await startContainerRedis();
  } catch (err) {
    throw new Error(`${HOW_TO_GET_REDIS} (Testcontainers said: ${String(err)})`);
  }
}
