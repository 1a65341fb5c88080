// Our own redis-servers and a port someone else holds: CI once lost a Cluster
// test because a node's port was taken between its choosing and its bind.
// A launch on a taken port says so at once (it never takes the other server
// for its own), and a port we choose leaves the system's outgoing range alone.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freeServerPort, launchRedisServer, portIsFree, RedisPortTaken, type RedisServer } from '../../src/cli/redisServer.ts';

const dir = mkdtempSync(join(tmpdir(), 'swarmq-ports-'));
const servers: RedisServer[] = [];
const listeners: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.kill('SIGKILL')));
  for (const l of listeners) l.close();
  rmSync(dir, { recursive: true, force: true });
});

const hold = async (port: number) => {
  const l = createServer();
  listeners.push(l);
  await new Promise<void>((res) => l.listen(port, '127.0.0.1', () => res()));
};

describe('redis-server ports', () => {
  it('a launch on a port another redis-server holds rejects as taken, not answered by that server', async () => {
    const first = await launchRedisServer({ dir: mkdtempSync(join(dir, 'a')), appendonly: false });
    servers.push(first);
    const started = Date.now();
    await expect(launchRedisServer({ dir: mkdtempSync(join(dir, 'b')), port: first.port, appendonly: false, readyTimeoutMs: 20_000 })).rejects.toBeInstanceOf(RedisPortTaken);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("a cluster node whose bus port (+ 10,000) is held rejects as taken", async () => {
    const port = await freeServerPort(10_000);
    await hold(port + 10_000);
    const d = mkdtempSync(join(dir, 'c'));
    await expect(launchRedisServer({ dir: d, port, appendonly: false, extraArgs: ['--cluster-enabled', 'yes'] })).rejects.toThrow(/cluster bus port was taken/);
    expect(readFileSync(join(d, 'redis.log'), 'utf8')).toContain('Address already in use');
  });

  it('chooses ports below the outgoing range, with port + offset free too', async () => {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const taken = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const port = await freeServerPort(10_000, taken);
      expect(port + 10_000).toBeLessThan(low);
      expect(taken.has(port)).toBe(false);
      expect(await portIsFree(port)).toBe(true);
      expect(await portIsFree(port + 10_000)).toBe(true);
      taken.add(port);
    }
  });
});
