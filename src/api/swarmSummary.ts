// GET /api/summary: the swarm in counts, what a dashboard polls every couple of
// seconds instead of the roster. Pure: the roster index (built once per roster
// version), the heartbeats, the health states and the node loads come in.
import type { HealthState } from '../health/classify.ts';
import { liveCapacity } from '../routing/capacity.ts';
import { emptyBandCounts, loadBand, type LoadBandCounts } from '../routing/loadBand.ts';
import type { NodeView } from '../routing/loads.ts';
import { idOrder } from '../swarm/idOrder.ts';
import type { RosterIndex } from './rosterIndex.ts';
import { agentState, isLive, type Liveness } from './agentPage.ts';

export type HealthCounts = Record<HealthState | 'unknown', number>;

export interface HostSummary {
  id: string;
  /** ms since the epoch; null when the host has agents in the roster but no heartbeat entry. */
  lastHeartbeat: number | null;
  live: boolean;
  /** The leading coordinator's class of the host; unknown when not classified (or this coordinator does not lead). */
  health: HealthState | 'unknown';
  agents: number;
}

export interface SwarmSummary {
  /** The roster version the agent counts come from (opaque; changes when agents or nodes join or leave). */
  rosterVersion: string;
  at: number;
  /** byHealth: each agent's health, its host's or, for an HTTP agent, a silent endpoint's when worse (as GET /api/agents?state= filters). */
  agents: { total: number; live: number; down: number; byHealth: HealthCounts };
  hosts: { total: number; live: number; down: number };
  byHost: HostSummary[];
  byType: { type: string; agents: number; live: number }[];
  /** Coordination nodes per load band (load = (waiting + active) / live slots). */
  nodes: { total: number; byLoad: LoadBandCounts };
  /** Over every node: live slots, waiting and active tasks. */
  totals: { capacity: number; waiting: number; active: number };
}

export function swarmSummary(index: RosterIndex, l: Liveness, nodes: readonly NodeView[]): SwarmSummary {
  const hostIds = new Set<string>([...l.hostBeats.keys(), ...index.perHost.keys()]);
  const byHost: HostSummary[] = [...hostIds]
    .sort(idOrder)
    .map((id) => ({ id, lastHeartbeat: l.hostBeats.get(id) ?? null, live: isLive(id, l), health: l.health.get(id) ?? 'unknown', agents: index.perHost.get(id) ?? 0 }));
  const byHealth: HealthCounts = { healthy: 0, degraded: 0, critical: 0, failed: 0, unknown: 0 };
  let live = 0;
  // Per host, except where an endpoint is silent: there each agent's task types say whether it runs on it.
  const silent = l.endpoints?.size ? l.endpoints : undefined;
  for (const h of byHost) {
    if (!silent?.has(h.id)) byHealth[h.health] += h.agents;
    if (h.live) live += h.agents;
  }
  if (silent) for (const a of index.agents) if (silent.has(a.hostId)) byHealth[agentState(a, l)]++;
  const byType = [...index.perType.entries()]
    .map(([type, hosts]) => {
      let liveOfType = 0;
      let all = 0;
      for (const [host, n] of hosts) {
        all += n;
        if (isLive(host, l)) liveOfType += n;
      }
      return { type, agents: all, live: liveOfType };
    })
    .sort((a, b) => idOrder(a.type, b.type));
  const byLoad = emptyBandCounts();
  const totals = { capacity: 0, waiting: 0, active: 0 };
  for (const n of nodes) {
    const capacity = liveCapacity(n);
    totals.capacity += capacity;
    totals.waiting += n.waiting;
    totals.active += n.active;
    byLoad[loadBand((n.waiting + n.active) / Math.max(1, capacity), capacity)]++;
  }
  const liveHosts = byHost.filter((h) => h.live).length;
  return {
    rosterVersion: index.version,
    at: l.now,
    agents: { total: index.agents.length, live, down: index.agents.length - live, byHealth },
    hosts: { total: byHost.length, live: liveHosts, down: byHost.length - liveHosts },
    byHost,
    byType,
    nodes: { total: nodes.length, byLoad },
    totals,
  };
}
