// A host killed (SIGKILL) with tasks running: the health monitor sees its Redis
// connection close, hands its tasks back at once, and they start on another
// host well before any BullMQ lock (30 s here, its default) could lapse; each
// completes once, and the lost agents are replaced. A host stopped (SIGSTOP)
// for 3 s keeps its connection: it goes degraded and back, and nothing is recovered.
import { afterAll, describe, expect, it } from 'vitest';
import { bullKey, nodeQueueName } from '../../queues/keys.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import type { HealthAlert } from '../../src/health/monitor.ts';
import type { RecoveryRecord } from '../../src/health/recovery.ts';
import { silentLogger } from '../../src/log.ts';
import { CliFleet } from '../support/cli.ts';
import { redisForFile } from '../support/redis.ts';
import { testConfig, until } from '../support/swarm.ts';

const redis = redisForFile();
const fleet = new CliFleet();

afterAll(async () => {
  fleet.killAll();
});

/** Default lock (30 s), stalled check and heartbeat (1 s): recovery must not depend on tuning them. */
async function swarm(agents: { failedAfterMs?: number } = {}) {
  const config = testConfig(redis, { agents: { heartbeatIntervalMs: 1000, ...agents } });
  const coordinator = new Coordinator({ config, logger: silentLogger, intake: false });
  const alerts: HealthAlert[] = [];
  const recoveries: RecoveryRecord[] = [];
  coordinator.health.on('health:alert', (a) => alerts.push(a));
  coordinator.health.on('recovery', (r) => recoveries.push(r));
  await coordinator.start();
  const client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
  const host = async (id: string, count: number) => {
    const c = fleet.spawn(['agents', '--count', String(count), '--type', 'worker', '--host-id', id, '--redis-url', redis.url, '--prefix', config.prefix]);
    await c.waitFor(/agent host ready/);
    return c;
  };
  const close = async () => {
    await client.close();
    await coordinator.stop();
  };
  return { config, coordinator, client, host, alerts, recoveries, close };
}

async function completedEvents(prefix: string, node: string): Promise<string[]> {
  const events = await redis.connection.xrange(bullKey(prefix, nodeQueueName(node), 'events'), '-', '+');
  return events.flatMap(([, f]) => (f[1] === 'completed' ? [f[3]!] : []));
}

/**
 * The SIGKILL test's tasks: still running on their host once a second host has
 * started and the monitor sees it (a loaded CI box once took longer than 8 s),
 * then run again whole on the second.
 */
const TASK_MS = 15_000;
/**
 * The SIGSTOP-past-failed test's task: it must still run on its host after a
 * second host has started (a child process: seconds on a loaded box; a CI run
 * once took longer than 8 s), and then runs again whole on that second host.
 */
const STOPPED_TASK_MS = 15_000;

describe('host failure', () => {
  it('SIGKILL: its running tasks start elsewhere within a second, complete once, and its agents are replaced', async () => {
    const s = await swarm();
    try {
      const ha = await s.host('ha', 2);
      const ids: string[] = [];
      // Long enough to still be running once hb is up: a host takes seconds to start on a loaded box.
      for (let i = 0; i < 2; i++) ids.push((await s.client.submit({ type: 'sleep', payload: { ms: TASK_MS } })).id);
      await until(async () => (await Promise.all(ids.map((id) => s.client.get(id)))).every((t) => t?.state === 'active'), 10_000, 'both tasks to run on ha');
      await s.host('hb', 2);
      await until(async () => s.coordinator.health.hosts().filter((h) => h.connection === 'open').length === 2, 10_000, 'the monitor to see both hosts');

      const before = await Promise.all(ids.map((id) => s.client.get(id)));
      expect(before.map((t) => t?.state), 'the tasks still run on ha when it is killed').toEqual(['active', 'active']);
      const killedAt = Date.now();
      ha.child.kill('SIGKILL');
      await ha.exited;
      // Started again on hb: processedOn moves past the kill.
      const restarted = await until(async () => {
        const ts = await Promise.all(ids.map((id) => s.client.get(id)));
        return ts.every((t) => t && t.startedAt !== undefined && t.startedAt !== null && t.startedAt >= killedAt) ? ts : undefined;
      }, 10_000, 'the tasks to start on another host');
      const latency = Math.max(...restarted.map((t) => t!.startedAt! - killedAt));
      expect(latency, 'a generous liveness bound; the recovery benchmark measures it').toBeLessThan(5000);

      const done = await Promise.all(ids.map((id) => s.client.waitFor(id, { timeoutMs: 30_000 })));
      for (const t of done) expect(t).toMatchObject({ state: 'completed', result: { slept: TASK_MS } });
      for (const t of done) expect(t.agentId).toMatch(/^hb-a/);
      const completions = await completedEvents(s.config.prefix, done[0]!.node);
      for (const id of ids) expect(completions.filter((c) => c === id)).toHaveLength(1);

      const rec = await until(async () => s.recoveries.find((r) => r.host === 'ha' && r.state !== 'running'), 10_000, 'the recovery to finish');
      expect(rec).toMatchObject({ reason: 'connection-closed', state: 'done', requeued: 2 });
      expect(rec.steps.map((x) => x.step)).toEqual(['isolate', 'requeue', 'remove', 'transfer', 'replace', 'verify']);
      // The probe ran in the replacements' node, on a live agent of hb.
      expect(rec.steps.at(-1)!.detail).toMatchObject({ ok: true, agent: expect.stringMatching(/^hb-a/) });
      expect(s.alerts.find((a) => a.host === 'ha' && a.to === 'failed')).toMatchObject({ severity: 'critical', reason: 'connection-closed' });
      // Replaced on hb, and recorded for GET /api/recoveries.
      const agents = Object.values(await redis.connection.hgetall(`${s.config.prefix}:{swarm}:agents`)).map((r) => JSON.parse(r) as { hostId: string });
      expect(agents.filter((a) => a.hostId === 'hb')).toHaveLength(4);
      expect(agents.filter((a) => a.hostId === 'ha')).toHaveLength(0);
      expect(JSON.parse((await redis.connection.hget(`${s.config.prefix}:{swarm}:recoveries`, rec.id))!)).toMatchObject({ host: 'ha', state: 'done' });
    } finally {
      await s.close();
    }
  }, 90_000);

  it('SIGSTOP for 3 s: degraded, then healthy again; nothing recovered, the task finishes where it ran', async () => {
    const s = await swarm();
    try {
      const hc = await s.host('hc', 1);
      // Still running while hc is stopped, so the stop really catches a task in flight.
      const { id } = await s.client.submit({ type: 'sleep', payload: { ms: 4000 } });
      await until(async () => (await s.client.get(id))?.state === 'active', 10_000, 'the task to start');
      await until(async () => s.coordinator.health.hosts().some((h) => h.host === 'hc' && h.connection === 'open'), 10_000, 'the monitor to see hc');
      hc.child.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 3000));
      hc.child.kill('SIGCONT');
      const t = await s.client.waitFor(id, { timeoutMs: 20_000 });
      expect(t).toMatchObject({ state: 'completed', attempts: 1, agentId: 'hc-a1' });
      await until(async () => s.alerts.some((a) => a.host === 'hc' && a.to === 'healthy'), 10_000, 'hc to be healthy again');
      const path = s.alerts.filter((a) => a.host === 'hc' && a.reason !== 'predicted-degradation').map((a) => a.to);
      expect(path).toEqual(['degraded', 'healthy']);
      expect(s.recoveries).toEqual([]);
      hc.child.kill('SIGTERM');
      expect((await hc.exited).code).toBe(0);
    } finally {
      await s.close();
    }
  }, 60_000);

  it('SIGSTOP past the failed age: its task is recovered and finishes once elsewhere; the host wakes and rejoins', async () => {
    const s = await swarm({ failedAfterMs: 2500 });
    try {
      const hd = await s.host('hd', 1);
      const { id } = await s.client.submit({ type: 'sleep', payload: { ms: STOPPED_TASK_MS } });
      await until(async () => (await s.client.get(id))?.state === 'active', 10_000, 'the task to start on hd');
      await s.host('he', 1);
      expect((await s.client.get(id))?.state, 'the task still runs on hd when it is stopped').toBe('active');
      // The recovery this stop causes: on a loaded box a beat of hd's can come late past the 2.5 s failed age before
      // the stop too (a false failure, recovered and rejoined), and its record, with nothing to hand back, is not this one.
      const stoppedAt = Date.now();
      hd.child.kill('SIGSTOP');
      const rec = await until(async () => s.recoveries.find((r) => r.host === 'hd' && r.detectedAt >= stoppedAt && r.state !== 'running'), 15_000, 'hd to be failed and recovered');
      expect(rec).toMatchObject({ reason: 'heartbeat-timeout', requeued: 1 });
      hd.child.kill('SIGCONT');
      await hd.waitFor(/rejoining with fresh agents/, 10_000);
      const t = await s.client.waitFor(id, { timeoutMs: STOPPED_TASK_MS + 15_000 });
      expect(t.state).toBe('completed'); // a stall is not a failed attempt in BullMQ: attempts stays 1
      expect(t.agentId).toMatch(/^he-a/);
      expect((await completedEvents(s.config.prefix, t.node)).filter((c) => !c.startsWith('probe-'))).toEqual([id]);
      // hd dropped its copy when it rejoined, or, when its sleep ran out the moment it woke (before it saw it had been
      // failed), tried to finish it and was refused (the lock was gone): at most that one refusal, and one completion above.
      expect(Number(await redis.connection.hget(`${s.config.prefix}:{swarm}:stats`, 'duplicateCompletions') ?? 0)).toBeLessThanOrEqual(1);
      // Back as a member with a fresh agent, and healthy again.
      await until(async () => {
        const agents = Object.values(await redis.connection.hgetall(`${s.config.prefix}:{swarm}:agents`)).map((r) => JSON.parse(r) as { id: string; hostId: string });
        return agents.some((a) => a.hostId === 'hd' && a.id !== 'hd-a1');
      }, 10_000, 'hd to rejoin with a fresh agent');
      await until(async () => s.coordinator.health.hosts().some((h) => h.host === 'hd' && h.state === 'healthy'), 10_000, 'hd healthy again');
      hd.child.kill('SIGTERM');
      expect((await hd.exited).code).toBe(0);
    } finally {
      await s.close();
    }
  }, 90_000);
});
