// Two coordinators, two agent hosts, 5,000 tasks. The leading coordinator is
// SIGKILLed mid-run, then a host with tasks running: the standby takes the lease
// within its time, its health monitor recovers the host's tasks, and every task
// completes exactly once (counted from BullMQ's own event streams).
import { afterAll, describe, expect, it } from 'vitest';
import { bullKey, nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { CliFleet, type CliChild } from '../support/cli.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';
import { leaderPid, until } from '../support/swarm.ts';

const redis = redisForFile();
const fleet = new CliFleet();
const prefix = uniquePrefix('failover');
const TASKS = 5000;

afterAll(async () => {
  fleet.killAll();
});

function cli(args: string[]): CliChild {
  return fleet.spawn([...args, '--redis-url', redis.url, '--prefix', prefix], { env: { SWARMQ_LEASE_MS: '1500' } });
}

describe('coordinator failover', () => {
  it('kill the leader, then a host, mid-run: the standby leads and recovers; all 5,000 complete exactly once', async () => {
    const coordinators = [cli(['coordinator', '--port', '0']), cli(['coordinator', '--port', '0'])];
    await Promise.all(coordinators.map((c) => c.waitFor(/coordinator ready/)));
    const hosts = [cli(['agents', '--count', '20', '--host-id', 'fa']), cli(['agents', '--count', '20', '--host-id', 'fb'])];
    await Promise.all(hosts.map((h) => h.waitFor(/agent host ready/)));
    const first = await until(() => leaderPid(redis.connection, prefix), 10_000, 'a leader');
    const leader = coordinators.find((c) => c.child.pid === first)!;
    const standby = coordinators.find((c) => c !== leader)!;

    const client = new SwarmClient({ redis: redis.url, prefix });
    try {
      const ids: string[] = [];
      for (let i = 0; i < TASKS; i += 500) {
        const { ids: batch } = await client.submitBatch(Array.from({ length: 500 }, (_, j) => ({ type: 'sleep' as const, payload: { ms: 5 + ((i + j) % 4) * 10 } })));
        ids.push(...batch);
      }
      const nodes = [...new Set(ids.map((id) => id.split('.')[0]!))];
      const completed = async () => {
        let n = 0;
        for (const node of nodes) n += await redis.connection.zcard(bullKey(prefix, nodeQueueName(node), 'completed'));
        return n;
      };
      await until(async () => (await completed()) >= TASKS / 10, 30_000, 'a tenth of the run');
      leader.child.kill('SIGKILL');
      const killedAt = Date.now();
      const next = await until(async () => {
        const pid = await leaderPid(redis.connection, prefix);
        return pid !== undefined && pid !== first ? pid : undefined;
      }, 10_000, 'the standby to take the lease');
      expect(next).toBe(standby.child.pid);
      expect(Date.now() - killedAt, 'within the lease (1.5 s) plus a liveness interval, generously').toBeLessThan(6000);

      // Now a host dies with tasks running: only the new leader can recover them.
      hosts[0]!.child.kill('SIGKILL');
      const finals = await Promise.all(ids.map((id) => client.waitFor(id, { timeoutMs: 90_000 })));
      expect(finals.filter((t) => t.state !== 'completed')).toEqual([]);
      const recoveries = Object.values(await redis.connection.hgetall(swarmKeys(prefix).recoveries)).map((r) => JSON.parse(r) as { host: string; reason: string });
      expect(recoveries).toContainEqual(expect.objectContaining({ host: 'fa', reason: 'connection-closed' }));

      const completions = new Map<string, number>();
      for (const node of nodes) {
        for (const [, f] of await redis.connection.xrange(bullKey(prefix, nodeQueueName(node), 'events'), '-', '+')) {
          if (f[1] === 'completed' && !f[3]!.startsWith('probe-')) completions.set(f[3]!, (completions.get(f[3]!) ?? 0) + 1);
        }
      }
      expect(completions.size).toBe(TASKS);
      expect([...completions.values()].every((n) => n === 1)).toBe(true);
    } finally {
      await client.close();
    }
  }, 150_000);
});
