// Two Redis servers (the second always one of its own) and a temp directory for
// one test file: checkpoint tests take from one and restore into the other.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startRedis, type TestRedis } from './redis.ts';

export interface TwoRedis {
  readonly a: TestRedis;
  readonly b: TestRedis;
  readonly dir: string;
  /** Run at the end of the file, newest first, before the servers stop. */
  cleanups: (() => Promise<unknown> | unknown)[];
  /** A connection closed at the end of the file. */
  connect(url: string): Redis;
}

export function twoRedisForFile(dirPrefix: string): TwoRedis {
  let a: TestRedis | undefined;
  let b: TestRedis | undefined;
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  beforeAll(async () => {
    a = await startRedis();
    b = await startRedis({ own: true }); // a second server, even when REDIS_URL names the first
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    await a?.stop();
    await b?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    get a() {
      if (!a) throw new Error('the Redis servers start in beforeAll');
      return a;
    },
    get b() {
      if (!b) throw new Error('the Redis servers start in beforeAll');
      return b;
    },
    dir,
    cleanups,
    connect(url) {
      const r = new Redis(url);
      cleanups.push(() => r.disconnect());
      return r;
    },
  };
}
