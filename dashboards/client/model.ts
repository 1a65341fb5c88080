// What the dashboard knows about the swarm, as a pure state: snapshots from
// the JSON routes and events from the stream are folded in by the functions
// below, and the page renders whatever they return. No I/O, no clock of its
// own (callers pass `now`), so every rule here is unit-tested.
import type { ConsensusReachedEvent, HealthState, RebalanceMove, SwarmEvent } from './swarmEvents.ts';

/** An agent as GET /api/agents lists it (the fields the page uses). */
export interface AgentSnapshot {
  id: string;
  type: string;
  node: string;
  hostId: string;
  capacity: number;
  live: boolean;
}

/** A host as GET /api/health lists it. */
export interface HostSnapshot {
  host: string;
  state: HealthState;
  since: number;
}

/** A recovery as GET /api/recoveries lists it. */
export interface RecoverySnapshot {
  id: string;
  host: string;
  state: 'running' | 'done' | 'escalated';
  detectedAt: number;
  /** Per-node steps (requeue, verify) name their node in `detail`. */
  steps: { step: string; at: number; detail?: Record<string, unknown> }[];
  requeued: number;
}

export interface Snapshot {
  /** The agents of the page on show (GET /api/agents with the page's filters and cursor). */
  agents: AgentSnapshot[];
  /** Which page that is (filters and cursor): agents missing from the same page again have left; on another page they are merely elsewhere. */
  agentsKey?: string;
  hosts: HostSnapshot[];
  recoveries: RecoverySnapshot[];
}

export interface Alert {
  at: number;
  host: string;
  agent?: string;
  severity: 'info' | 'warning' | 'critical';
  /** What happened, the same for the same alert from another host: a burst of one kind is one line (alertBursts.ts). */
  kind: string;
  text: string;
  /** The coordinator's own summary of one kind of alert from several hosts (`host` is then '*'). */
  hosts?: string[];
}

export interface DashboardState {
  /** Each host's latest health state and when it was reached. */
  hosts: Record<string, { state: HealthState; at: number }>;
  /** Agents of the page on show, and those that left it recently (their host failed, or they were retired). */
  agents: Record<string, { agent: AgentSnapshot; lastSeen: number; departed: boolean }>;
  agentsKey: string | undefined;
  /** Agents whose circuit breaker is open. */
  isolated: Record<string, true>;
  rebalances: { at: number; moves: RebalanceMove[] }[];
  recoveries: RecoverySnapshot[];
  consensus: (ConsensusReachedEvent & { at: number })[];
  alerts: Alert[];
  /** The last stream entry folded in: later ones only (SSE may replay). */
  lastEventId: string | undefined;
}

/** Alerts are kept by the hundred: a burst from many hosts is one line on the page. */
export const KEPT = { rebalances: 12, recoveries: 8, consensus: 12, alerts: 200, departed: 50 } as const;
/** How long an agent that left the roster stays on the page, with its last state. */
export const DEPARTED_SHOWN_MS = 5 * 60_000;

export function emptyState(): DashboardState {
  return { hosts: {}, agents: {}, agentsKey: undefined, isolated: {}, rebalances: [], recoveries: [], consensus: [], alerts: [], lastEventId: undefined };
}

/** Stream ids `<ms>-<seq>` in order; -1, 0 or 1. */
export function compareStreamIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am !== bm ? Math.sign(am - bm) : Math.sign(as - bs);
}

export function applySnapshot(s: DashboardState, snap: Snapshot, now: number): DashboardState {
  const hosts = { ...s.hosts };
  for (const h of snap.hosts) {
    const known = hosts[h.host];
    // An alert newer than the snapshot's state wins; the snapshot fills in the rest.
    if (!known || known.state === h.state || known.at <= h.since) hosts[h.host] = { state: h.state, at: h.since };
  }
  const agents: DashboardState['agents'] = {};
  const inRoster = new Set(snap.agents.map((a) => a.id));
  for (const a of snap.agents) agents[a.id] = { agent: a, lastSeen: now, departed: false };
  if (snap.agentsKey === s.agentsKey) {
    let departed = 0;
    for (const [id, seen] of Object.entries(s.agents)) {
      if (inRoster.has(id) || now - seen.lastSeen > DEPARTED_SHOWN_MS || departed >= KEPT.departed) continue;
      agents[id] = { ...seen, departed: true };
      departed++;
    }
  }
  const byId = new Map(s.recoveries.map((r) => [r.id, r]));
  for (const r of snap.recoveries) byId.set(r.id, r);
  return { ...s, hosts, agents, agentsKey: snap.agentsKey, recoveries: newestFirst([...byId.values()], (r) => r.detectedAt).slice(0, KEPT.recoveries) };
}

export function applyEvent(s: DashboardState, e: SwarmEvent): DashboardState {
  if (s.lastEventId !== undefined && compareStreamIds(e.id, s.lastEventId) <= 0) return s;
  const next = { ...s, lastEventId: e.id };
  switch (e.type) {
    case 'health:alert': {
      const a = e.data;
      let text: string;
      const kind = a.to && a.to !== a.from ? `${a.reason}: ${a.to}` : a.reason;
      if (a.hosts) {
        // The leading coordinator summarized a burst: no one host's state moves.
        text = `${a.reason} on ${a.hosts.length} hosts`;
      } else if (a.agent) {
        const isolated = { ...s.isolated };
        if (a.reason === 'isolated') isolated[a.agent] = true;
        else if (a.reason === 'reintegrated' || a.reason === 'reintegrating') delete isolated[a.agent];
        next.isolated = isolated;
        text = a.trend ? `agent ${a.agent}: ${a.trend.metric} ${a.trend.recent} ms vs ${a.trend.baseline} ms normal` : `agent ${a.agent} ${a.reason}`;
      } else if (a.endpoint) {
        // The agents on one of the host's HTTP endpoints changed state; the host's own state is unchanged.
        text = `endpoint ${a.endpoint} of host ${a.host}: ${a.from ?? 'healthy'} → ${a.to ?? 'healthy'}${a.agents ? ` (${a.agents} agents)` : ''}`;
      } else if (a.to) {
        next.hosts = { ...s.hosts, [a.host]: { state: a.to, at: a.at } };
        text = a.from && a.from !== a.to ? `host ${a.host}: ${a.from} → ${a.to} (${a.reason})` : `host ${a.host} ${a.to}: ${a.reason}`;
      } else {
        text = `host ${a.host}: ${a.reason}`;
      }
      next.alerts = [{ at: a.at, host: a.host, ...(a.agent ? { agent: a.agent } : {}), ...(a.hosts ? { hosts: a.hosts } : {}), severity: a.severity, kind, text }, ...s.alerts].slice(0, KEPT.alerts);
      return next;
    }
    case 'budget:alert': {
      // A budget at 80 % (a warning) or spent (critical), in the alerts feed; the Keys panel shows where each key stands.
      const b = e.data;
      const who = b.scope === 'key' ? `key ${b.key ?? '?'}` : `task ${b.task}`;
      const spent = [b.limit.tokens !== undefined ? `${Math.round(b.spent.tokens).toLocaleString('en')} / ${b.limit.tokens.toLocaleString('en')} tokens` : '', b.limit.costUsd !== undefined ? `$${b.spent.costUsd} / $${b.limit.costUsd}` : ''].filter(Boolean).join(', ');
      const text = `${who}: ${b.threshold} % of ${b.scope === 'key' ? 'its budget' : 'its own budget'} spent (${spent})`;
      next.alerts = [{ at: b.at, host: who, severity: b.threshold >= 100 ? ('critical' as const) : ('warning' as const), kind: `budget ${b.threshold} % ${who}`, text }, ...s.alerts].slice(0, KEPT.alerts);
      return next;
    }
    case 'load:rebalanced':
      next.rebalances = [{ at: e.data.at, moves: e.data.moves.filter((m) => m.moved > 0) }, ...s.rebalances].slice(0, KEPT.rebalances);
      return next;
    case 'recovery:step': {
      const st = e.data;
      const old = s.recoveries.find((r) => r.id === st.id);
      const steps = old?.steps.some((x) => x.step === st.step && x.at === st.at) ? old.steps : [...(old?.steps ?? []), { step: st.step, at: st.at, detail: st.detail }];
      const requeued = typeof st.detail.requeued === 'number' ? st.detail.requeued : (old?.requeued ?? 0);
      const rec: RecoverySnapshot = { id: st.id, host: st.host, state: st.state, detectedAt: old?.detectedAt ?? st.at, steps, requeued };
      next.recoveries = newestFirst([rec, ...s.recoveries.filter((r) => r.id !== st.id)], (r) => r.detectedAt).slice(0, KEPT.recoveries);
      return next;
    }
    case 'consensus:reached':
      next.consensus = [{ ...e.data, at: e.at }, ...s.consensus.filter((c) => c.id !== e.data.id)].slice(0, KEPT.consensus);
      return next;
  }
}

export interface AgentRow {
  id: string;
  type: string;
  node: string;
  host: string;
  capacity: number;
  state: HealthState | 'unknown';
  isolated: boolean;
  departed: boolean;
}

/**
 * Each agent of the page with the health state of its host (agents are classified by the
 * heartbeats their host writes for all of them). An agent whose host is not
 * classified yet is `unknown`, never guessed healthy.
 */
export function agentRows(s: DashboardState): AgentRow[] {
  return Object.values(s.agents)
    .map(({ agent: a, departed }): AgentRow => ({
      id: a.id,
      type: a.type,
      node: a.node,
      host: a.hostId,
      capacity: a.capacity,
      state: s.hosts[a.hostId]?.state ?? 'unknown',
      isolated: s.isolated[a.id] === true,
      departed,
    }))
    // The order of GET /api/agents' pages: by id, numeric-aware.
    .sort((x, y) => x.id.localeCompare(y.id, 'en', { numeric: true }) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

/** Agents per health state, departed ones included (a failed host's agents count as failed). */
export function stateCounts(rows: readonly AgentRow[]): Record<AgentRow['state'], number> {
  const out: Record<AgentRow['state'], number> = { healthy: 0, degraded: 0, critical: 0, failed: 0, unknown: 0 };
  for (const r of rows) out[r.state]++;
  return out;
}

function newestFirst<T>(xs: T[], at: (x: T) => number): T[] {
  return xs.sort((a, b) => at(b) - at(a));
}
