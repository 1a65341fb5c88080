// A Sentinel-managed primary for tests: one primary, one replica and three
// Sentinels (`redis-server sentinel.conf --sentinel`) that watch it as
// `mymaster` and promote the replica within about two seconds of losing it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freeServerPort, launchRedisServer, waitForRedis, type RedisServer } from '../../src/cli/redisServer.ts';
import { until } from './swarm.ts';

export const SENTINEL_MASTER = 'mymaster';

export interface TestSentinels {
  primary: RedisServer;
  replica: RedisServer;
  /** `host:port,…` as REDIS_SENTINELS takes them. */
  sentinels: string;
  /** The port the Sentinels name as the primary now. */
  primaryPort(): Promise<number>;
  stop(): Promise<void>;
}

async function replicaInSync(port: number): Promise<boolean> {
  const r = new Redis(port, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.info('replication')).includes('master_link_status:up');
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export async function startSentinels(): Promise<TestSentinels> {
  const dir = mkdtempSync(join(tmpdir(), 'swarmq-sentinel-'));
  const children: ChildProcess[] = [];
  const servers: RedisServer[] = [];
  const stop = async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.kill('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const mk = (name: string) => {
      const d = join(dir, name);
      mkdirSync(d);
      return d;
    };
    const primary = await launchRedisServer({ dir: mk('primary'), appendonly: false });
    servers.push(primary);
    const replica = await launchRedisServer({ dir: mk('replica'), appendonly: false, extraArgs: ['--replicaof', '127.0.0.1', String(primary.port)] });
    servers.push(replica);
    await until(() => replicaInSync(replica.port), 10_000, 'the replica to sync');
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freeServerPort();
      const d = mk(`s${i}`);
      const conf = join(d, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${d}`,
          `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
          `sentinel failover-timeout ${SENTINEL_MASTER} 5000`,
          `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
          '',
        ].join('\n'),
      );
      const c = spawn('redis-server', [conf, '--sentinel', '--logfile', join(d, 'sentinel.log')], { stdio: 'ignore' });
      children.push(c);
      await waitForRedis(`redis://127.0.0.1:${port}`, 10_000, () => (c.exitCode === null ? undefined : `sentinel on ${port} exited; see ${join(d, 'sentinel.log')}`), c.pid);
      ports.push(port);
    }
    const primaryPort = async () => {
      for (const port of ports) {
        const r = new Redis(port, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        r.on('error', () => {});
        try {
          await r.connect();
          const [, p] = (await r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER)) as [string, string];
          return Number(p);
        } catch {
          // ask the next one
        } finally {
          r.disconnect();
        }
      }
      throw new Error('no Sentinel answers');
    };
    // Every Sentinel knows the others and the replica before a test kills anything.
    await until(async () => {
      for (const port of ports) {
        const r = new Redis(port);
        const m = (await r.call('SENTINEL', 'MASTER', SENTINEL_MASTER).finally(() => r.disconnect())) as string[];
        const field = (k: string) => Number(m[m.indexOf(k) + 1]);
        if (field('num-other-sentinels') < 2 || field('num-slaves') < 1) return false;
      }
      return true;
    }, 15_000, 'the Sentinels to find each other and the replica');
    return { primary, replica, sentinels: ports.map((p) => `127.0.0.1:${p}`).join(','), primaryPort, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
