// The Redis a benchmark runs on: REDIS_URL when set, otherwise a private
// redis-server from PATH on a free port in a temp dir, without persistence, so
// every contender in the run sees the same server with the same settings.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { hasRedisServer, launchRedisServer } from '../../src/cli/redisServer.ts';

export interface BenchRedis {
  url: string;
  /** "private redis-server" or "REDIS_URL". */
  source: string;
  version: string;
  stop(): Promise<void>;
}

async function serverVersion(url: string): Promise<string> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  try {
    await r.connect();
    const info = await r.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  } finally {
    r.disconnect();
  }
}

export async function benchRedis(): Promise<BenchRedis> {
  const given = process.env.REDIS_URL;
  if (given) return { url: given, source: 'REDIS_URL', version: await serverVersion(given), stop: async () => {} };

  if (!hasRedisServer()) {
    throw new Error('no Redis: set REDIS_URL=redis://host:port, or put redis-server on PATH (apt-get install redis-server / brew install redis)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'swarmq-bench-'));
  const server = await launchRedisServer({ dir, appendonly: false, readyTimeoutMs: 15_000 });
  const stop = async () => {
    await server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  return { url: server.url, source: 'private redis-server', version: await serverVersion(server.url), stop };
}

/** Removes every key under a prefix (SCAN + UNLINK), so a shared REDIS_URL is left as found. */
export async function dropPrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let removed = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 2000);
    cursor = next;
    if (keys.length) removed += await redis.unlink(...keys);
  } while (cursor !== '0');
  return removed;
}
