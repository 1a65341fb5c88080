// One page of GET /api/agents: the filters applied to the roster's agents in
// id order, from a cursor (the id of the last agent of the page before), with
// the counts a pager needs. Pure: the roster index, the host heartbeats and the
// health states come in; so paging, filtering and the counts are unit-tested.
import type { HealthState } from '../health/classify.ts';
import type { AgentRecord } from '../swarm/records.ts';
import { pageOf, type RosterIndex } from './rosterIndex.ts';

export const AGENT_STATES = ['live', 'down', 'healthy', 'degraded', 'critical', 'failed', 'unknown'] as const;
/** live/down: the host's heartbeat is recent or not; the rest: the leading coordinator's class of the host (unknown when unclassified). */
export type AgentStateFilter = (typeof AGENT_STATES)[number];

export interface AgentFilters {
  host?: string | undefined;
  node?: string | undefined;
  type?: string | undefined;
  state?: AgentStateFilter | undefined;
  /** Part of the id, any case. */
  q?: string | undefined;
  limit: number;
  /** Agents after this id. */
  cursor?: string | undefined;
}

/** An agent as the API lists it: its roster record, its host's last heartbeat, and whether that is recent. */
export type AgentStatus = AgentRecord & { lastHeartbeat: number | null; live: boolean };

export interface AgentPage {
  agents: AgentStatus[];
  /** Agents in the roster. */
  total: number;
  /** Agents passing the filters (whatever the cursor). */
  matched: number;
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

export interface Liveness {
  now: number;
  failedAfterMs: number;
  hostBeats: ReadonlyMap<string, number>;
  /** Hosts the leading coordinator has classified (empty on a coordinator that does not lead). */
  health: ReadonlyMap<string, HealthState>;
}

export function isLive(hostId: string, l: Liveness): boolean {
  const beat = l.hostBeats.get(hostId);
  return beat !== undefined && l.now - beat < l.failedAfterMs;
}

function stateTest(state: AgentStateFilter, l: Liveness): (hostId: string) => boolean {
  if (state === 'live') return (h) => isLive(h, l);
  if (state === 'down') return (h) => !isLive(h, l);
  return (h) => (l.health.get(h) ?? 'unknown') === state;
}

export function agentPage(index: RosterIndex, f: AgentFilters, l: Liveness): AgentPage {
  const q = f.q?.toLowerCase();
  const state = f.state === undefined ? undefined : stateTest(f.state, l);
  // Per host, not per agent: 10 hosts, 10,000 agents.
  const hostPasses = new Map<string, boolean>();
  const passes = (a: AgentRecord): boolean => {
    if (f.host !== undefined && a.hostId !== f.host) return false;
    if (f.node !== undefined && a.node !== f.node) return false;
    if (f.type !== undefined && a.type !== f.type) return false;
    if (q !== undefined && !a.id.toLowerCase().includes(q)) return false;
    if (state) {
      let ok = hostPasses.get(a.hostId);
      if (ok === undefined) hostPasses.set(a.hostId, (ok = state(a.hostId)));
      if (!ok) return false;
    }
    return true;
  };
  const { items, ...counts } = pageOf(index.agents, passes, f.limit, f.cursor);
  const agents = items.map((a) => ({ ...a, lastHeartbeat: l.hostBeats.get(a.hostId) ?? null, live: isLive(a.hostId, l) }));
  return { agents, ...counts };
}
