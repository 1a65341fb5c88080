// A host SIGKILLed while its tasks hold their key's active slots (docs/keys.md):
// the slots do not leak. Its tasks, recovered by the health monitor, keep
// their slots where they run again, long before the slots' leases (BullMQ's
// lock duration, 30 s by default here) would free them; the tasks held for a
// slot start as those finish; maxActive holds throughout.
import { afterAll, describe, expect, it } from 'vitest';
import { keyStateKeys } from '../../queues/keys.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { limitsGet, limitsSet } from '../../src/cli/limits.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { silentLogger } from '../../src/log.ts';
import { CliFleet } from '../support/cli.ts';
import { redisForFile } from '../support/redis.ts';
import { testConfig, until } from '../support/swarm.ts';

const redis = redisForFile();
const fleet = new CliFleet();

afterAll(async () => {
  fleet.killAll();
});

const TASK_MS = 3000;

describe('a host killed while holding key slots', () => {
  it('SIGKILL: its slots go with its tasks to the host that runs them again, and maxActive 2 holds', async () => {
    const config = testConfig(redis, { agents: { heartbeatIntervalMs: 1000 } });
    const coordinator = new Coordinator({ config, logger: silentLogger, intake: false });
    await coordinator.start();
    const client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
    const host = async (id: string) => {
      const c = fleet.spawn(['agents', '--count', '3', '--type', 'worker', '--host-id', id, '--redis-url', redis.url, '--prefix', config.prefix]);
      await c.waitFor(/agent host ready/);
      return c;
    };
    try {
      await limitsSet(config, 'crash', { maxActive: '2' });
      const ka = await host('ka');
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push((await client.submit({ type: 'sleep', payload: { ms: TASK_MS }, key: 'crash' })).id);
      const active = keyStateKeys(config.prefix, 'crash').active;
      await until(async () => (await redis.connection.zcard(active)) === 2, 10_000, 'two slots taken on ka');
      const holders = await redis.connection.zrange(active, '0', '-1');
      await host('kb');
      await until(async () => coordinator.health.hosts().filter((h) => h.connection === 'open').length === 2, 10_000, 'the monitor to see both hosts');
      expect((await Promise.all(holders.map((id) => client.get(id)))).map((t) => t?.state)).toEqual(['active', 'active']);

      const killedAt = Date.now();
      ka.child.kill('SIGKILL');
      await ka.exited;
      // Nothing frees the dead host's slots (their leases run 30 s)…
      expect(await redis.connection.zrange(active, '0', '-1')).toEqual(holders);
      // …yet its two tasks run again on kb within seconds, in their own slots.
      await until(async () => (await Promise.all(holders.map((id) => client.get(id)))).every((t) => (t?.startedAt ?? 0) >= killedAt), 10_000, "ka's tasks to start again on kb");

      const done = await Promise.all(ids.map((id) => client.waitFor(id, { timeoutMs: 30_000 })));
      const took = Date.now() - killedAt;
      for (const t of done) expect(t).toMatchObject({ state: 'completed', key: 'crash', agentId: expect.stringMatching(/^kb-a/) });
      // At most two ran at once (each task's last run; the killed runs were on ka, before).
      const edges = done.flatMap((t) => [
        { at: t.startedAt!, d: 1 },
        { at: t.finishedAt!, d: -1 },
      ]);
      edges.sort((a, b) => a.at - b.at || a.d - b.d);
      let now = 0;
      let most = 0;
      for (const e of edges) most = Math.max(most, (now += e.d));
      console.log(`killed host: 6 tasks of ${TASK_MS} ms with maxActive 2 done ${took} ms after the kill; most running at once ${most}`);
      expect(most).toBe(2);
      // Three rounds of two after the kill; slots leaked until their leases lapse would take past 30 s.
      expect(took).toBeLessThan(20_000);
      expect((await limitsGet(config, 'crash'))[0]).toMatchObject({ active: 0, held: 0, waiting: 0, started: expect.any(Number) });
    } finally {
      await client.close();
      await coordinator.stop();
    }
  }, 90_000);
});
