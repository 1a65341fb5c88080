// Issue 15: hosts of 1,000 agents started together on a busy machine each
// raised predicted-degradation. The health monitor on a real Redis, fed the
// heartbeats such hosts write (timings as measured: five hosts of 1,000 agents
// under CPU load, a first beat or two on time, then seconds of spawning with the
// event loop blocked, then on time again): no alert, while a host that slows on
// its own is still predicted, and several at once are one summarized alert.
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { swarmKeys } from '../../queues/keys.ts';
import type { SwarmConfig } from '../../src/config/schema.ts';
import { HostControl } from '../../src/coordinator/hostControl.ts';
import { HealthMonitor, type HealthAlert } from '../../src/health/monitor.ts';
import { parseEventEntry, type StreamEntry } from '../../src/swarm/events.ts';
import { redisForFile } from '../support/redis.ts';
import { testConfig } from '../support/swarm.ts';

const redis = redisForFile();
const INTERVAL = 1000;
let conn: Redis;

beforeAll(() => {
  conn = new Redis(redis.url);
});
afterAll(async () => {
  await conn.quit();
});

/** A monitor of its own swarm, driven tick by tick on a virtual clock, with its log lines kept. */
async function monitorOf() {
  const config: SwarmConfig = testConfig(redis, { agents: { heartbeatIntervalMs: INTERVAL } });
  const keys = swarmKeys(config.prefix);
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  // This monitor holds every host's partition (no other coordinator shares them).
  const owned = new Map<string, number>();
  const partitions = { id: 'monitor', hosts: () => owned };
  const monitor = new HealthMonitor({ redis: conn, config, partitions, hosts: new HostControl(conn, config.prefix), logger });
  const emitted: HealthAlert[] = [];
  monitor.on('health:alert', (a) => emitted.push(a));
  const t0 = Date.now();
  const last = new Map<string, number>();
  let now = t0;
  return {
    monitor,
    emitted,
    logs,
    t0,
    /** Each host beats `delays[host]` ms after one interval since its last beat; then the monitor checks. */
    async round(delays: Record<string, number>) {
      const p = conn.pipeline();
      for (const [host, d] of Object.entries(delays)) {
        const beat = (last.get(host) ?? t0 - INTERVAL) + INTERVAL + d;
        last.set(host, beat);
        owned.set(host, 1);
        p.zadd(keys.hosts, beat, host);
      }
      await p.exec();
      now = Math.max(now, ...last.values()) + 20;
      await monitor.tick(now);
    },
    /** The host finished starting now (its clock: the beats'), as AgentHost writes it. */
    async ready(...hosts: string[]) {
      for (const h of hosts) await conn.hset(keys.hostsReady, h, String(last.get(h)! + 1));
    },
    async alertsOnStream() {
      const entries = (await conn.xrange(keys.events, '-', '+')) as StreamEntry[];
      return entries.flatMap((e) => {
        const p = parseEventEntry(e);
        return p.ok && p.event.type === 'health:alert' ? [p.event.data] : [];
      });
    },
    stop: () => monitor.stop(),
  };
}

const hostsNamed = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i + 1}`);
const all = (hosts: string[], delay: (h: string, i: number) => number) => Object.fromEntries(hosts.map((h, i) => [h, delay(h, i)]));

describe('predicted degradation at scale', () => {
  it('five hosts started together, spawning for seconds under load: no predicted-degradation', async () => {
    const s = await monitorOf();
    const hosts = hostsNamed(5, 'st');
    try {
      // Heartbeats start before spawning: two beats on time.
      await s.round(all(hosts, (_, i) => 2 + i));
      await s.round(all(hosts, (_, i) => 10 + 3 * i));
      // Spawning 1,000 agents with the machine's cores shared: 3-4.5 s late.
      await s.round(all(hosts, (_, i) => 3000 + 300 * i));
      await s.round(all(hosts, (_, i) => [1008, 1090, 1107, 1423, 6][i]!));
      await s.ready(...hosts);
      for (let k = 0; k < 12; k++) await s.round(all(hosts, (_, i) => (k + i) % 4));
      expect(s.emitted.filter((a) => a.reason === 'predicted-degradation')).toEqual([]);
      expect((await s.alertsOnStream()).filter((a) => a.reason === 'predicted-degradation')).toEqual([]);
      // The detail is there: baselines from the beats after ready only.
      for (const h of s.monitor.hosts()) expect(h.heartbeatTrend).toMatchObject({ predicted: false, samples: 11 });
    } finally {
      await s.stop();
    }
  });

  it('a host started alone: its own spawning stall is not a degradation', async () => {
    const s = await monitorOf();
    try {
      for (const d of [2, 17, 4321, 1008, 1, 3]) await s.round({ solo: d });
      await s.ready('solo');
      for (let k = 0; k < 10; k++) await s.round({ solo: k % 3 });
      expect(s.emitted.filter((a) => a.reason === 'predicted-degradation')).toEqual([]);
    } finally {
      await s.stop();
    }
  });

  it('ready hosts all slowed by their busy machine (siblings still spawning) are not blamed one by one', async () => {
    const s = await monitorOf();
    const hosts = hostsNamed(5, 'bz');
    try {
      await s.round(all(hosts, () => 0));
      await s.ready(...hosts);
      for (let k = 0; k < 8; k++) await s.round(all(hosts, (_, i) => (k * i) % 5));
      for (let k = 0; k < 8; k++) await s.round(all(hosts, (_, i) => 400 + 60 * i + 40 * k));
      expect(s.emitted.filter((a) => a.reason === 'predicted-degradation')).toEqual([]);
    } finally {
      await s.stop();
    }
  });

  it('a host slowing on its own is still predicted, and published as its own alert', async () => {
    const s = await monitorOf();
    const hosts = hostsNamed(5, 'dg');
    try {
      await s.round(all(hosts, () => 0));
      await s.ready(...hosts);
      for (let k = 0; k < 8; k++) await s.round(all(hosts, (_, i) => (k + i) % 3));
      for (const d of [300, 500, 700, 900, 900]) await s.round(all(hosts, (h, i) => (h === 'dg3' ? d : i % 3)));
      expect(s.emitted.filter((a) => a.reason === 'predicted-degradation').map((a) => a.host)).toEqual(['dg3']);
      // Held for the window (two intervals), then out as it was.
      for (let k = 0; k < 3; k++) await s.round(all(hosts, (h, i) => (h === 'dg3' ? 900 : i % 3)));
      const published = (await s.alertsOnStream()).filter((a) => a.reason === 'predicted-degradation');
      expect(published).toEqual([expect.objectContaining({ host: 'dg3', severity: 'warning', trend: expect.objectContaining({ metric: 'heartbeatDelay' }) })]);
      expect(published[0]!.hosts).toBeUndefined();
      expect(s.monitor.hosts().find((h) => h.host === 'dg3')?.heartbeatTrend).toMatchObject({ predicted: true });
    } finally {
      await s.stop();
    }
  });

  it('three of eight hosts degrading together: one summarized alert on the stream and in the log, detail per host', async () => {
    const s = await monitorOf();
    const hosts = hostsNamed(8, 'sm');
    const slow = new Set(['sm2', 'sm5', 'sm7']);
    try {
      await s.round(all(hosts, () => 0));
      await s.ready(...hosts);
      for (let k = 0; k < 8; k++) await s.round(all(hosts, (_, i) => (k + i) % 3));
      for (let k = 0; k < 8; k++) await s.round(all(hosts, (h, i) => (slow.has(h) ? 300 + 150 * k + 10 * i : i % 3)));
      expect(new Set(s.emitted.filter((a) => a.reason === 'predicted-degradation').map((a) => a.host))).toEqual(slow);
      const published = (await s.alertsOnStream()).filter((a) => a.reason === 'predicted-degradation');
      expect(published).toEqual([expect.objectContaining({ host: '*', hosts: ['sm2', 'sm5', 'sm7'], count: 3, severity: 'warning' })]);
      const logged = s.logs.filter((l) => l.reason === 'predicted-degradation');
      expect(logged).toEqual([expect.objectContaining({ host: '*', hosts: ['sm2', 'sm5', 'sm7'], count: 3 })]);
      const detail = new Map(s.monitor.hosts().map((h) => [h.host, h.heartbeatTrend]));
      for (const h of hosts) expect(detail.get(h)).toMatchObject({ predicted: slow.has(h), samples: 15 });
    } finally {
      await s.stop();
    }
  });
});
