// Real Redis for tests (DESIGN.md, Testing): REDIS_URL, else our own redis-server
// from PATH on a free port in a temp dir, else Testcontainers. Never a mock.
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort, hasRedisServer, launchRedisServer } from '../../src/cli/redisServer.ts';
import { readThrough } from './forFile.ts';
import { startCluster } from './cluster.ts';
import { clusterAsRedis } from './clusterAsRedis.ts';

/**
 * Where the suites run: `single` (one redis-server, the default) or `cluster`
 * (a three-master Cluster per file, SWARMQ_TEST_TOPOLOGY=cluster: the vitest
 * project `cluster` sets it for the files listed in docs/cluster.md).
 */
export function testTopology(): 'single' | 'cluster' {
  const t = process.env.SWARMQ_TEST_TOPOLOGY ?? 'single';
  if (t !== 'single' && t !== 'cluster') throw new Error(`SWARMQ_TEST_TOPOLOGY=${t}: expected single or cluster`);
  return t;
}

export interface TestRedis {
  url: string;
  host: string;
  port: number;
  /** A key prefix of this test file's own, so files can share one server. */
  prefix: string;
  kind: 'env' | 'local' | 'container' | 'cluster';
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

export { freePort };

export async function startLocalRedis(opts: StartOptions = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'swarmq-redis-'));
  const server = await launchRedisServer({ dir, appendonly: true, appendfsync: opts.appendfsync ?? 'always', readyTimeoutMs: 10_000 });
  return {
    url: server.url,
    host: '127.0.0.1',
    port: server.port,
    prefix: uniquePrefix(),
    kind: 'local',
    kill: (signal = 'SIGKILL') => server.kill(signal),
    restart: async () => {
      await server.kill('SIGKILL');
      await server.start();
    },
    stop: async () => {
      await server.kill('SIGKILL');
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

/**
 * A three-master Cluster as a TestRedis: `url` is its seed list, `host`/`port`
 * its first master. Killing it is for the Cluster failover tests
 * (tests/support/cluster.ts), so a file that kills its Redis stays single.
 */
async function startClusterRedis(): Promise<TestRedis & { seeds: { host: string; port: number }[] }> {
  const cluster = await startCluster({ masters: 3 });
  const refuse = () => Promise.reject(new Error('redisForFile on a Cluster: killing a node is for tests/support/cluster.ts; leave this file out of the cluster project'));
  return {
    url: cluster.url,
    host: cluster.nodes[0]!.host,
    port: cluster.nodes[0]!.port,
    seeds: cluster.nodes,
    prefix: uniquePrefix(),
    kind: 'cluster',
    kill: refuse,
    restart: refuse,
    stop: () => cluster.stop(),
  };
}

export async function startRedis(opts: StartOptions = {}): Promise<TestRedis> {
  if (testTopology() === 'cluster') return await startClusterRedis();
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

/** The Redis of one test file; its fields are valid inside the file's hooks and tests. */
export interface RedisForFile extends TestRedis {
  /**
   * A connection to it, closed at the end of the file, before the server stops.
   * On a Cluster, a Cluster client answering KEYS, CLIENT LIST, INFO, DBSIZE,
   * FLUSHDB and CONFIG SET for every master (clusterAsRedis.ts).
   */
  connect(options?: RedisOptions): Redis;
  /**
   * The file's own connection, for tests that read and write keys directly:
   * opened the first time it is asked for, closed like those of `connect`.
   * `maxRetriesPerRequest: null`, so BullMQ's Queue and Worker take it too.
   */
  readonly connection: Redis;
}

/**
 * One Redis for the test file that calls it (at top level, before the file's
 * own hooks): started in a beforeAll, stopped in an afterAll. Hooks run as a
 * stack, so the file's own beforeAll runs after the server is up and its
 * afterAll before the server stops. `own: true` for files that kill or
 * restart it.
 */
export function redisForFile(opts: StartOptions = {}): RedisForFile {
  let server: TestRedis | undefined;
  const connections: Redis[] = [];
  let shared: Redis | undefined;
  beforeAll(async () => {
    server = await startRedis(opts);
  });
  afterAll(async () => {
    for (const c of connections) c.disconnect();
    connections.length = 0;
    shared = undefined;
    await server?.stop();
    server = undefined;
  });
  const handle: RedisForFile = readThrough('redisForFile: the server', () => server, ['url', 'host', 'port', 'prefix', 'kind', 'kill', 'restart', 'stop'], {
    connect(options?: RedisOptions): Redis {
      const conn = connectTo(handle.url, options);
      connections.push(conn);
      return conn;
    },
    get connection(): Redis {
      shared ??= handle.connect({ maxRetriesPerRequest: null });
      return shared;
    },
  });
  return handle;
}

/** A connection to a test's Redis by its URL: one server's, or a Cluster's seed list (see RedisForFile.connect). */
export function connectTo(url: string, options?: RedisOptions): Redis {
  const urls = url.split(',').map((u) => u.trim()).filter((u) => u !== '');
  if (urls.length === 1) return options === undefined ? new Redis(url) : new Redis(url, options);
  const seeds = urls.map((u) => {
    const p = new URL(u);
    return { host: p.hostname, port: Number(p.port || 6379) };
  });
  return clusterAsRedis(seeds, options);
}
