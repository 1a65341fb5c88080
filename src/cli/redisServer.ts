// A redis-server of our own, from PATH: for `swarmq start` without REDIS_URL,
// for tests that kill and restart Redis, and for benchmarks on a private server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisServerOptions {
  dir: string;
  port?: number;
  appendonly: boolean;
  appendfsync?: 'always' | 'everysec' | 'no';
  readyTimeoutMs?: number;
  /** More `--name value` arguments (tests start Cluster nodes with `--cluster-enabled yes`). */
  extraArgs?: readonly string[];
  /**
   * A process group of its own, so a Ctrl-C at the terminal reaches only its
   * owner, which drains its agents through it before stopping it.
   */
  ownProcessGroup?: boolean;
}

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  /** Start it again (same port, same dir: the AOF replays), with `extraArgs` besides its own (a restart as a replica: `--replicaof`). */
  start(extraArgs?: readonly string[]): Promise<void>;
  /** Signal it and wait for it to exit; SIGTERM lets it flush its AOF. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export async function freePort(): Promise<number> {
  return await listenOnce(0);
}

/** Whether nothing listens on `port` on 127.0.0.1 right now. */
export async function portIsFree(port: number): Promise<boolean> {
  return await listenOnce(port).then(
    () => true,
    () => false,
  );
}

/** Listens on `port` (0: any free one) and closes again; resolves with the port it had. */
async function listenOnce(port: number): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(port, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** PONG, not LOADING: a server replaying its AOF is not ready yet. */
export async function waitForRedis(url: string, timeoutMs: number, gaveUp: () => string | undefined = () => undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const r = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    r.on('error', () => {});
    try {
      await r.connect();
      if ((await r.ping()) === 'PONG') return;
    } catch (err) {
      last = err;
    } finally {
      r.disconnect();
    }
    const why = gaveUp();
    if (why) throw new Error(why);
    if (Date.now() > deadline) throw new Error(`redis at ${url} did not answer within ${timeoutMs} ms: ${String(last)}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

export async function launchRedisServer(o: RedisServerOptions): Promise<RedisServer> {
  const port = o.port ?? (await freePort());
  const url = `redis://127.0.0.1:${port}`;
  const log = join(o.dir, 'redis.log');
  let child: ChildProcess | undefined;
  const running = (c: ChildProcess | undefined): c is ChildProcess => !!c && c.exitCode === null && c.signalCode === null;
  const server: RedisServer = {
    url,
    port,
    dir: o.dir,
    async start(more = []) {
      const c = spawn(
        'redis-server',
        [
          '--port', String(port), '--bind', '127.0.0.1', '--dir', o.dir, '--save', '', '--daemonize', 'no', '--logfile', log,
          '--appendonly', o.appendonly ? 'yes' : 'no', ...(o.appendonly ? ['--appendfsync', o.appendfsync ?? 'everysec'] : []),
          ...(o.extraArgs ?? []),
          ...more,
        ],
        { stdio: 'ignore', detached: o.ownProcessGroup ?? false },
      );
      child = c;
      await waitForRedis(url, o.readyTimeoutMs ?? 30_000, () => (c.exitCode === null && c.signalCode === null ? undefined : `redis-server exited (${c.exitCode ?? c.signalCode}); see ${log}`));
    },
    async kill(signal = 'SIGTERM') {
      const c = child;
      if (!running(c)) return;
      await new Promise<void>((res) => {
        c.once('exit', () => res());
        c.kill(signal);
      });
    },
  };
  await server.start();
  return server;
}
