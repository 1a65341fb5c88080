// Pure figures from one SwarmState: agents by the health of their host, node
// loads, totals. Shared by /metrics and the metrics:updated event, so both say
// the same thing.
import { classifyHeartbeat, type HealthState, type HealthThresholds } from '../health/classify.ts';
import type { SwarmState } from './swarmState.ts';
import { idOrder } from '../swarm/idOrder.ts';

export const HEALTH_STATES: readonly HealthState[] = ['healthy', 'degraded', 'critical', 'failed'];

export function hostStates(s: SwarmState, t: HealthThresholds): Map<string, HealthState> {
  const out = new Map<string, HealthState>();
  const hosts = new Set([...s.hostBeats.keys(), ...[...s.roster.agents.values()].map((a) => a.hostId)]);
  for (const h of hosts) {
    const beat = s.hostBeats.get(h);
    out.set(h, s.failedHosts.has(h) ? 'failed' : classifyHeartbeat(beat === undefined ? null : s.now - beat, t));
  }
  return out;
}

/** Working agents (warm pool seats left out) by the health state of their host. */
export function agentsByHealth(s: SwarmState, t: HealthThresholds): Record<HealthState, number> {
  const states = hostStates(s, t);
  const out: Record<HealthState, number> = { healthy: 0, degraded: 0, critical: 0, failed: 0 };
  for (const a of s.roster.agents.values()) if (!a.pooled) out[states.get(a.hostId) ?? 'failed']++;
  return out;
}

export interface NodeLoad {
  id: string;
  waiting: number;
  active: number;
  delayed: number;
  /** Slots of agents whose host is not failed. */
  capacity: number;
  agents: number;
  /** (waiting + active) per slot; waiting + active when the node has no slot. */
  load: number;
}

export function nodeLoads(s: SwarmState, t: HealthThresholds): NodeLoad[] {
  const states = hostStates(s, t);
  const seats = new Map<string, { capacity: number; agents: number }>();
  for (const a of s.roster.agents.values()) {
    if (a.pooled) continue;
    const n = seats.get(a.node) ?? { capacity: 0, agents: 0 };
    n.agents++;
    if (states.get(a.hostId) !== 'failed') n.capacity += a.capacity;
    seats.set(a.node, n);
  }
  return s.nodes
    .map((n) => {
      const { capacity, agents } = seats.get(n.id) ?? { capacity: 0, agents: 0 };
      const busy = n.counts.waiting + n.counts.active;
      return { id: n.id, waiting: n.counts.waiting, active: n.counts.active, delayed: n.counts.delayed, capacity, agents, load: capacity ? busy / capacity : busy };
    })
    .sort((a, b) => idOrder(a.id, b.id));
}

export interface Totals {
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  parked: number;
  deadLetters: number;
}

export function totals(s: SwarmState): Totals {
  const t: Totals = { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0, parked: s.parked, deadLetters: s.deadLetters };
  for (const n of s.nodes) {
    t.waiting += n.counts.waiting;
    t.active += n.counts.active;
    t.delayed += n.counts.delayed;
    t.completed += n.counts.completed;
    t.failed += n.counts.failed;
  }
  return t;
}
