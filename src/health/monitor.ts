// The health monitor, run by every coordinator: every livenessIntervalMs it
// classifies each host (and so its agents) from its heartbeat age, and watches
// the Redis connection each host announced. Each host is one partition
// (src/coordinator/partitions.ts): only the coordinator holding it raises the
// host's alerts and recovers it, and the recovery starts with a step fenced by
// the partition's token (isolateHost-6.lua), so a host is recovered once. Every
// coordinator classifies every host (three reads a round, and the endpoint silence), so each one's
// GET /api/health shows the whole swarm and a new owner knows the host's state. A process that dies drops that
// connection at once, so it is failed within one interval; a process that is
// stopped or blocked keeps its connection and goes the heartbeat way (degraded,
// critical, failed), so a slow but alive host is never recovered early.
// An HTTP agent also answers for its endpoint: a host publishes its endpoints
// that stopped answering (src/health/endpointHealth.ts), each is classified by
// how long it has been silent, and its agents' health is the worse of the two.
// That raises alerts but recovers nothing: the host is alive and holds its
// tasks; the agents' breakers stop them taking more, and the balancer moves
// the waiting ones.
import { EventEmitter } from 'node:events';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { swarmKeys } from '../../queues/keys.ts';
import type { SwarmConfig } from '../config/schema.ts';
import type { HostControl } from '../coordinator/hostControl.ts';
import { LeaderLoop } from '../coordinator/leaderLoop.ts';
import type { Partitions } from '../coordinator/partitions.ts';
import { isolateHost } from '../../queues/partitions.ts';
import { LoadsReader, type Roster } from '../coordinator/loadsReader.ts';
import type { Logger } from '../log.ts';
import { publishEvent } from '../swarm/events.ts';
import { hold, release, worstSeverity, type Bursts } from './alertBurst.ts';
import { DEFAULT_BASELINE_OPTIONS } from './baseline.ts';
import { classifyHeartbeat, type HealthState } from './classify.ts';
import { endpointSilenceSchema, endpointsOfAgent, judgeEndpoints, type EndpointHealth, type EndpointMemory, type EndpointSilence } from './endpointHealth.ts';

export type { EndpointHealth } from './endpointHealth.ts';
import { firstBeat, judgeHostTrend, mediansOfOthers, observeBeat, type HostTrend } from './heartbeatTrend.ts';
import { recoverHost, type FailureReason, type RecoveryRecord } from './recovery.ts';
import { slotPipeline } from '../../queues/slotPipeline.ts';
import { idOnServer, serverOf, type ServerOf } from '../../queues/serverOf.ts';

export interface HealthAlert {
  at: number;
  host: string;
  agents: number;
  from: HealthState;
  to: HealthState;
  severity: 'info' | 'warning' | 'critical';
  reason: FailureReason | 'heartbeat' | 'recovered' | 'predicted-degradation' | 'endpoint';
  heartbeatAgeMs: number | null;
  /** For a predicted degradation: which trend, its baseline and recent values (ms). */
  trend?: { metric: string; baseline: number; recent: number };
  /** Reason endpoint: the HTTP agents' endpoint whose state changed (agents: those running on it; from/to: its states), and how long it has been silent (0 once it answers again). */
  endpoint?: string;
  silentForMs?: number;
}

/** Several hosts' alerts of one kind within one window, published and logged as one (host '*'). */
export interface HealthAlertSummary {
  at: number;
  host: '*';
  hosts: string[];
  count: number;
  agents: number;
  severity: HealthAlert['severity'];
  reason: HealthAlert['reason'];
}

/** How late a host's beats run (ms), from the beats after it was ready; the per-host detail behind a summary. */
export interface HostBeatTrend {
  /** When the host said it was ready; null while it is starting (no trend is judged then). */
  readyAt: number | null;
  samples: number;
  baseline: number | null;
  recent: number | null;
  /** The other hosts' median recent delay this host was compared with. */
  peers: number | null;
  predicted: boolean;
}

export interface HostHealth {
  host: string;
  /** The host's own state: its heartbeat and connection. */
  state: HealthState;
  since: number;
  heartbeatAgeMs: number | null;
  connection: 'open' | 'closed' | 'unknown';
  agents: number;
  heartbeatTrend?: HostBeatTrend;
  /** Its endpoints not answering, when any: their agents' health is the worse of the host's state and theirs. */
  endpoints?: EndpointHealth[];
}

export interface HealthMonitor {
  on(event: 'health:alert', listener: (a: HealthAlert) => void): this;
  on(event: 'recovery', listener: (r: RecoveryRecord) => void): this;
}

const SEVERITY: Record<HealthState, HealthAlert['severity']> = { healthy: 'info', degraded: 'warning', critical: 'critical', failed: 'critical' };

export class HealthMonitor extends EventEmitter {
  private readonly reader: LoadsReader;
  private readonly keys;
  private readonly loop: LeaderLoop;
  private readonly states = new Map<string, HostHealth>();
  private readonly recovering = new Map<string, Promise<unknown>>();
  private runId: string | undefined;
  /** Per host: the last heartbeat seen, how late beats arrive (EMA baselines), and whether a trend alert is out. */
  private readonly beats = new Map<string, HostTrend>();
  /** Trend alerts waiting out their window, so a burst from many hosts goes out as one. */
  private bursts: Bursts<HealthAlert> = new Map();
  /** After Redis itself restarts every connection is new: judge by heartbeats alone for a while. */
  private connectionsTrustedFrom = 0;
  /** Per host, each silent endpoint's last state and since when: what an endpoint alert is a change from. */
  private readonly endpointStates = new Map<string, Map<string, EndpointMemory>>();
  /** The last unreadable endpoint silence per host, said once rather than every round. */
  private readonly badSilence = new Map<string, string>();

  constructor(private readonly o: { redis: RedisClient; config: SwarmConfig; partitions: Pick<Partitions, 'hosts' | 'id'> & { nudge?: () => void }; hosts: HostControl; logger: Logger }) {
    super();
    this.reader = new LoadsReader(o.redis, o.config.prefix, o.config.agents.failedAfterMs);
    this.keys = swarmKeys(o.config.prefix);
    this.loop = new LeaderLoop({
      intervalMs: o.config.coordinator.livenessIntervalMs,
      onError: (err) => o.logger.warn({ err: err.message }, 'health check failed'),
    });
  }

  start(): void {
    this.loop.start(() => this.tick());
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await Promise.allSettled([...this.recovering.values()]);
    await this.releaseAlerts(Date.now(), true).catch((err: Error) => this.o.logger.warn({ err: err.message }, 'could not publish the last held health alerts'));
  }

  /** Hosts as last classified (every host, whoever owns it). */
  hosts(): HostHealth[] {
    return [...this.states.values()].sort((a, b) => (a.host < b.host ? -1 : 1));
  }

  /** Every host the last check saw (beating, announced or with agents): the host partitions to share. */
  knownHosts(): string[] {
    return [...this.states.keys()];
  }

  async tick(now = Date.now()): Promise<void> {
    const owned = this.o.partitions.hosts(now);
    const { roster, hostBeats } = await this.reader.readRoster();
    // Connections are asked about on the server that hosts announce them on (on a Cluster, the master of the swarm's slot), INFO too.
    const server = await serverOf(this.o.redis, this.keys.hostConnections);
    const p = slotPipeline(this.o.redis).hgetall(this.keys.hostConnections).hgetall(this.keys.hostsReady).hgetall(this.keys.endpointSilence);
    if (server?.redis === this.o.redis) p.info('server');
    const [[, announced], [, readyMarks], [, silenceMarks], infoReply] = (await p.exec()) as [
      [unknown, Record<string, string>],
      [unknown, Record<string, string>],
      [unknown, Record<string, string>],
      [unknown, string]?,
    ];
    const info = infoReply ? infoReply[1] : server ? await server.redis.info('server') : '';
    const runId = /run_id:(\w+)/.exec(info)?.[1];
    if (runId !== this.runId) {
      if (this.runId !== undefined) this.connectionsTrustedFrom = now + this.o.config.agents.failedAfterMs;
      this.runId = runId;
    }
    const connectionOf = await this.connections(announced, server);
    const agentsOf = this.agentsPerHost(roster);
    const all = new Set([...hostBeats.keys(), ...Object.keys(announced), ...agentsOf.keys()]);
    for (const host of this.states.keys()) if (!all.has(host)) this.states.delete(host);
    const newcomers = [...all].some((h) => !this.states.has(h));
    for (const host of this.beats.keys()) if (!all.has(host)) this.beats.delete(host);
    for (const host of this.endpointStates.keys()) if (!all.has(host)) this.endpointStates.delete(host);

    const { degradedAfterMs, criticalAfterMs, failedAfterMs } = this.o.config.agents;
    for (const host of all) {
      const beat = hostBeats.get(host);
      const age = beat === undefined ? null : Math.max(0, now - beat);
      const connection = connectionOf.get(host) ?? 'unknown';
      let reason: HealthAlert['reason'] = 'heartbeat';
      let state: HealthState;
      if (connection === 'closed' && now >= this.connectionsTrustedFrom) {
        state = 'failed';
        reason = 'connection-closed';
      } else if (age === null) {
        // Announced but not yet beating: a host starting up. Neither: agents left by a host long gone.
        state = connection === 'open' ? 'healthy' : 'failed';
      } else {
        state = classifyHeartbeat(age, { degradedAfterMs, criticalAfterMs, failedAfterMs });
      }
      const prev = this.states.get(host);
      const from = prev?.state ?? 'healthy';
      this.states.set(host, { host, state, since: prev && prev.state === state ? prev.since : now, heartbeatAgeMs: age, connection, agents: agentsOf.get(host) ?? 0 });
      const token = owned.get(host);
      if (state !== from && token !== undefined) {
        const alert: HealthAlert = {
          at: now,
          host,
          agents: agentsOf.get(host) ?? 0,
          from,
          to: state,
          severity: SEVERITY[state],
          reason: state === 'healthy' ? 'recovered' : state === 'failed' && reason === 'heartbeat' ? 'heartbeat-timeout' : reason,
          heartbeatAgeMs: age,
        };
        this.emit('health:alert', alert);
        await publishEvent(this.o.redis, this.o.config.prefix, 'health:alert', alert);
        this.o.logger[state === 'healthy' ? 'info' : 'warn'](alert, 'health:alert');
      }
      await this.judgeEndpoints(host, this.silenceOf(host, silenceMarks[host]), now, token, age, roster);
      if (beat !== undefined && state !== 'failed') this.observeBeat(host, beat, readyMarks[host]);
      else this.beats.delete(host);
      if (state === 'failed' && token !== undefined && !this.recovering.has(host)) {
        const why: FailureReason = reason === 'connection-closed' ? 'connection-closed' : 'heartbeat-timeout';
        const run = this.recover(host, token, why, now, roster).finally(() => this.recovering.delete(host));
        this.recovering.set(host, run);
      }
    }
    // A host not seen before has no partition owner yet: have one claimed now (it is in knownHosts() from here on).
    if (newcomers) this.o.partitions.nudge?.();
    this.judgeTrends(now, owned);
    await this.releaseAlerts(now);
  }

  private async recover(host: string, token: number, reason: FailureReason, detectedAt: number, roster: Awaited<ReturnType<LoadsReader['readRoster']>>['roster']): Promise<void> {
    try {
      const record = await recoverHost(
        {
          redis: this.o.redis,
          isolate: () => isolateHost(this.o.redis, this.o.config.prefix, host, { id: this.o.partitions.id, token }, detectedAt),
          prefix: this.o.config.prefix,
          maxStalledCount: this.o.config.agents.maxStalledCount,
          failedAfterMs: this.o.config.agents.failedAfterMs,
          hosts: this.o.hosts,
          probeTimeoutMs: 5000,
          logger: this.o.logger,
          onStep: async (r, s) => {
            await this.o.redis.hset(this.keys.recoveries, r.id, JSON.stringify(r));
            await publishEvent(this.o.redis, this.o.config.prefix, 'recovery:step', { id: r.id, host: r.host, state: r.state, ...s });
            this.emit('recovery', r);
          },
        },
        host,
        reason,
        detectedAt,
        roster,
        (excluding) => this.hosts().filter((h) => h.host !== excluding && h.state === 'healthy' && h.connection !== 'closed').map((h) => h.host),
      );
      if (!record) {
        this.o.logger.info({ host, token }, 'host not recovered here: its partition has passed to another coordinator');
        return;
      }
      this.o.logger.info({ recovery: record.id, host, state: record.state, requeued: record.requeued, ms: (record.finishedAt ?? Date.now()) - detectedAt }, 'recovery finished');
      if (record.state === 'escalated') {
        const alert: HealthAlert = { at: Date.now(), host, agents: record.agents.length, from: 'failed', to: 'failed', severity: 'critical', reason, heartbeatAgeMs: null };
        this.emit('health:alert', alert);
        await publishEvent(this.o.redis, this.o.config.prefix, 'health:alert', { ...alert, escalated: record.steps.at(-1)?.detail });
      }
    } catch (err) {
      this.o.logger.error({ host, err: (err as Error).message }, 'recovery failed; it is retried on the next check');
    }
  }

  /** A host's published endpoint silence, checked: an unreadable one is said once and taken as none. */
  private silenceOf(host: string, raw: string | undefined): EndpointSilence['endpoints'] {
    if (raw === undefined) {
      this.badSilence.delete(host);
      return [];
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = undefined;
    }
    const parsed = endpointSilenceSchema.safeParse(value);
    if (parsed.success) return parsed.data.endpoints;
    if (this.badSilence.get(host) !== raw) {
      this.badSilence.set(host, raw);
      this.o.logger.warn({ host, value: raw.slice(0, 200) }, `unreadable endpoint silence in ${this.keys.endpointSilence} (written by another version, or by hand); its endpoints count as answering`);
    }
    return [];
  }

  /**
   * A host's silent endpoints classified; each change of an endpoint's state
   * (an endpoint answering again goes back to healthy) is an alert with reason
   * `endpoint`, raised by the host's partition owner. Never a recovery: the
   * host is alive and its tasks are not lost.
   */
  private async judgeEndpoints(host: string, silent: EndpointSilence['endpoints'], now: number, token: number | undefined, heartbeatAgeMs: number | null, roster: Roster): Promise<void> {
    const before = this.endpointStates.get(host);
    if (!silent.length && !before) return;
    const { degradedAfterMs, criticalAfterMs, failedAfterMs } = this.o.config.agents;
    const { after, endpoints, changes } = judgeEndpoints(before, silent, now, { degradedAfterMs, criticalAfterMs, failedAfterMs }, (types) => this.agentsOnEndpoint(roster, host, types));
    if (after.size) this.endpointStates.set(host, after);
    else this.endpointStates.delete(host);
    const health = this.states.get(host);
    if (health) {
      if (endpoints.length) health.endpoints = endpoints;
      else delete health.endpoints;
    }
    if (token === undefined) return;
    for (const c of changes) {
      const alert: HealthAlert = {
        at: now,
        host,
        agents: c.agents,
        from: c.from,
        to: c.to,
        severity: SEVERITY[c.to],
        reason: 'endpoint',
        heartbeatAgeMs,
        endpoint: c.url,
        silentForMs: c.silentForMs,
      };
      this.emit('health:alert', alert);
      await publishEvent(this.o.redis, this.o.config.prefix, 'health:alert', alert);
      this.o.logger[c.to === 'healthy' ? 'info' : 'warn'](alert, c.to === 'healthy' ? `endpoint ${c.url} of host ${host} answers again` : `endpoint ${c.url} of host ${host} is not answering: its agents are ${c.to}`);
    }
  }

  private observeBeat(host: string, beat: number, readyMark: string | undefined): void {
    const readyAt = readyMark === undefined || !Number.isFinite(Number(readyMark)) ? undefined : Number(readyMark);
    const seen = this.beats.get(host);
    this.beats.set(host, seen ? observeBeat(seen, beat, readyAt, this.o.config.agents.heartbeatIntervalMs, DEFAULT_BASELINE_OPTIONS) : firstBeat(beat, readyAt));
  }

  /**
   * Heartbeats arriving later and later (a host swapping, its event loop
   * clogging) warn before the host degrades: a predicted-degradation alert once
   * the recent delay runs 50 % over its baseline (beats after the host was
   * ready) and over the other hosts' recent delay, cleared when it settles.
   * Why both: src/health/heartbeatTrend.ts.
   */
  private judgeTrends(now: number, owned: ReadonlyMap<string, number>): void {
    const recents = new Map<string, number>();
    for (const [host, t] of this.beats) if (t.recentAll) recents.set(host, t.recentAll.mean);
    const peersOf = mediansOfOthers(recents);
    for (const [host, t] of this.beats) {
      const j = judgeHostTrend(t, peersOf.get(host), DEFAULT_BASELINE_OPTIONS);
      const health = this.states.get(host);
      const base = t.baselines.heartbeatDelay;
      const recent = t.baselines.recentDelay;
      if (health) {
        health.heartbeatTrend = {
          readyAt: t.readyAt ?? null,
          samples: base?.samples ?? 0,
          baseline: base ? Math.round(base.mean) : null,
          recent: recent ? Math.round(recent.mean) : null,
          peers: j.peers === undefined ? null : Math.round(j.peers),
          predicted: j.predicted,
        };
      }
      // Every host's trend is judged (it is a peer of the others), but only its partition's owner raises its alert.
      if (j.predicted === t.predicted || !owned.has(host)) continue;
      this.beats.set(host, { ...t, predicted: j.predicted });
      if (!j.predicted) continue;
      const alert: HealthAlert = {
        at: now,
        host,
        agents: health?.agents ?? 0,
        from: health?.state ?? 'healthy',
        to: health?.state ?? 'healthy',
        severity: 'warning',
        reason: 'predicted-degradation',
        heartbeatAgeMs: health?.heartbeatAgeMs ?? null,
        trend: { metric: j.metric!, baseline: Math.round(j.baseline!), recent: Math.round(j.recent!) },
      };
      // In-process listeners get every host's alert at once; the stream and the log get the burst summarized.
      this.emit('health:alert', alert);
      this.bursts = hold(this.bursts, alert.reason, alert, now);
    }
  }

  /**
   * Held trend alerts whose window has passed: one host's as it is, several
   * hosts' as one summary (the per-host detail stays in hosts(), so GET /api/health).
   * The window is two heartbeat intervals: hosts slowed by one cause cross the
   * alarm line within a beat or so of each other.
   */
  private async releaseAlerts(now: number, everything = false): Promise<void> {
    const { bursts, out } = release(this.bursts, now, 2 * this.o.config.agents.heartbeatIntervalMs, everything);
    this.bursts = bursts;
    for (const r of out) {
      if (r.kind === 'one') {
        await publishEvent(this.o.redis, this.o.config.prefix, 'health:alert', r.alert);
        this.o.logger.warn(r.alert, 'health:alert');
        continue;
      }
      const hosts = r.alerts.map((a) => a.host).sort();
      const summary: HealthAlertSummary = {
        at: Math.max(...r.alerts.map((a) => a.at)),
        host: '*',
        hosts,
        count: hosts.length,
        agents: r.alerts.reduce((n, a) => n + a.agents, 0),
        severity: worstSeverity(r.alerts),
        reason: r.alerts[0]!.reason,
      };
      await publishEvent(this.o.redis, this.o.config.prefix, 'health:alert', summary);
      this.o.logger.warn(summary, `health:alert from ${hosts.length} hosts (per-host detail: GET /api/health)`);
    }
  }

  /**
   * Agents per host, and per host and set of task types (all of a host's
   * agents share one, as a rule), counted again only when the reader hands
   * over a new roster (its version moved): a check every 200 ms walks no agents.
   */
  private perHost: { roster: Roster; counts: Map<string, number>; byTypes: Map<string, Map<string, { taskTypes: readonly string[]; n: number }>> } | undefined;
  private countsOf(roster: Roster): NonNullable<HealthMonitor['perHost']> {
    if (this.perHost?.roster !== roster) {
      const counts = new Map<string, number>();
      const byTypes = new Map<string, Map<string, { taskTypes: readonly string[]; n: number }>>();
      for (const a of roster.agents.values()) {
        counts.set(a.hostId, (counts.get(a.hostId) ?? 0) + 1);
        let groups = byTypes.get(a.hostId);
        if (!groups) byTypes.set(a.hostId, (groups = new Map()));
        const key = a.taskTypes.join('\n');
        const g = groups.get(key);
        if (g) g.n++;
        else groups.set(key, { taskTypes: a.taskTypes, n: 1 });
      }
      this.perHost = { roster, counts, byTypes };
    }
    return this.perHost;
  }

  private agentsPerHost(roster: Roster): Map<string, number> {
    return this.countsOf(roster).counts;
  }

  /** A host's agents that run on an endpoint serving these task types. */
  private agentsOnEndpoint(roster: Roster, host: string, types: readonly string[]): number {
    let n = 0;
    for (const g of this.countsOf(roster).byTypes.get(host)?.values() ?? []) if (endpointsOfAgent(g.taskTypes, [{ types }]).length) n += g.n;
    return n;
  }

  /**
   * Each announcing host's connection: open or closed on the server it was
   * announced on; unknown when that is not the server asked (a Cluster's slot
   * moved since: the host announces again when it reconnects) or none is known.
   */
  private async connections(announced: Record<string, string>, server: ServerOf | undefined): Promise<Map<string, HostHealth['connection']>> {
    const out = new Map<string, HostHealth['connection']>();
    if (!server) return out;
    const ids = new Map<string, string>();
    for (const [host, mark] of Object.entries(announced)) {
      const id = idOnServer(mark, server.address);
      if (id !== undefined) ids.set(host, id);
    }
    if (!ids.size) return out;
    const list = (await server.redis.client('LIST', 'ID', ...new Set(ids.values()))) as string;
    const open = new Set([...list.matchAll(/(?:^|\n)id=(\d+) /g)].map((m) => m[1]!));
    for (const [host, id] of ids) out.set(host, open.has(id) ? 'open' : 'closed');
    return out;
  }
}
