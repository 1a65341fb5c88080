// A redis-server of our own, from PATH: for `swarmq start` without REDIS_URL,
// for tests that kill and restart Redis, and for benchmarks on a private server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
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

/** redis-server could not listen: its port (or a cluster node's bus port, + 10,000) was taken after it was chosen. */
export class RedisPortTaken extends Error {}

const EPHEMERAL_RANGE = '/proc/sys/net/ipv4/ip_local_port_range';
const LOWEST_SERVER_PORT = 10_000;
/** Where freeServerPort's walk is in the range (an offset from LOWEST_SERVER_PORT). */
let nextServerPort: number | undefined;

/**
 * A free port for a server of ours, below the range the system hands out to
 * outgoing connections, with `port + offset` free too (a cluster node's bus:
 * 10,000). A port from that range can be taken between our choosing it and
 * redis-server binding it, or while a test has the server stopped, by any
 * client's connection: CI once lost a cluster test that way. Where the range
 * is unknown (not Linux), or too low to leave room, the system's free port.
 */
export async function freeServerPort(offset = 0, taken: ReadonlySet<number> = new Set()): Promise<number> {
  const span = ephemeralLow() - offset - LOWEST_SERVER_PORT;
  for (let tries = 0; span > 1000 && tries < 200; tries++) {
    // A walk through the range from a place this process's id picks: parallel test workers start apart, with no randomness.
    nextServerPort = (nextServerPort ?? (process.pid * 7919) % span) % span;
    const port = LOWEST_SERVER_PORT + nextServerPort;
    nextServerPort += 1;
    if (!taken.has(port) && (await portIsFree(port)) && (offset === 0 || (await portIsFree(port + offset)))) return port;
  }
  for (let tries = 0; tries < 1000; tries++) {
    const port = await freePort();
    if (port + offset <= 65_535 && !taken.has(port) && (offset === 0 || (await portIsFree(port + offset)))) return port;
  }
  throw new Error(`found no free port whose port + ${offset} is free too; free some ports and start again`);
}

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync(EPHEMERAL_RANGE, 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 0;
  } catch {
    return 0;
  }
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

/**
 * PONG, not LOADING: a server replaying its AOF is not ready yet. With `pid`,
 * from that process: another server on the port (ours lost the bind) is not it.
 */
export async function waitForRedis(url: string, timeoutMs: number, gaveUp: () => string | undefined = () => undefined, pid?: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const r = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    r.on('error', () => {});
    try {
      await r.connect();
      if ((await r.ping()) === 'PONG') {
        const answering = pid === undefined ? undefined : await answeringPid(r);
        if (answering === undefined || answering === String(pid)) return;
      }
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

/** The answering server's process id; undefined where its default user may not ask (an ACL file that allows only PING). */
async function answeringPid(r: Redis): Promise<string | undefined> {
  try {
    return /^process_id:(\d+)/m.exec(String(await r.info('server')))?.[1];
  } catch (err) {
    if (/NOPERM/.test(String(err))) return undefined;
    throw err;
  }
}

/** A server on `o.port`, or on a free port of ours, chosen again if it is taken before redis-server binds it. */
export async function launchRedisServer(o: RedisServerOptions): Promise<RedisServer> {
  if (o.port !== undefined) return await launchOn(o.port, o);
  for (let tries = 1; ; tries++) {
    try {
      return await launchOn(await freeServerPort(), o);
    } catch (err) {
      if (!(err instanceof RedisPortTaken) || tries >= 5) throw err;
    }
  }
}

async function launchOn(port: number, o: RedisServerOptions): Promise<RedisServer> {
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
      const logFrom = existsSync(log) ? statSync(log).size : 0;
      await waitForRedis(url, o.readyTimeoutMs ?? 30_000, () => {
        if (c.exitCode === null && c.signalCode === null) return undefined;
        const why = `redis-server on port ${port} exited (${c.exitCode ?? c.signalCode}); see ${log}`;
        if (portWasTaken(log, logFrom)) throw new RedisPortTaken(`${why}: its port or its cluster bus port was taken`);
        return why;
      }, c.pid);
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

function portWasTaken(log: string, from: number): boolean {
  try {
    return readFileSync(log).subarray(from).toString('utf8').includes('Address already in use');
  } catch {
    return false;
  }
}
