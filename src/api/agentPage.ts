// One page of GET /api/agents: the filters applied to the roster's agents in
// id order, from a cursor (the id of the last agent of the page before), with
// the counts a pager needs. Pure: the roster index, the host heartbeats, the
// health states and the endpoints not answering come in; so paging, filtering
// and the counts are unit-tested.
import type { HealthState } from '../health/classify.ts';
import { agentHealth, endpointsOfAgent, type EndpointStateOf } from '../health/endpointHealth.ts';
import type { AgentRecord } from '../swarm/records.ts';
import { pageOf, type RosterIndex } from './rosterIndex.ts';

export const AGENT_STATES = ['live', 'down', 'healthy', 'degraded', 'critical', 'failed', 'unknown'] as const;
/**
 * live/down: the host's heartbeat is recent or not; the rest: the agent's
 * health, the leading coordinator's class of its host, or of an endpoint it
 * runs on when that is worse (unknown when the host is unclassified).
 */
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

/**
 * An agent as the API lists it: its roster record, its host's last heartbeat,
 * whether that is recent, and for an HTTP agent whose endpoint is not
 * answering, that endpoint and its state.
 */
export type AgentStatus = AgentRecord & { lastHeartbeat: number | null; live: boolean; endpoints?: { url: string; state: HealthState }[] };

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
  /** Per host, its HTTP agents' endpoints not answering (none: every endpoint answers). */
  endpoints?: ReadonlyMap<string, readonly EndpointStateOf[]>;
}

export function isLive(hostId: string, l: Liveness): boolean {
  const beat = l.hostBeats.get(hostId);
  return beat !== undefined && l.now - beat < l.failedAfterMs;
}

/** An agent's health: its host's state, or the worse state of an endpoint it runs on. */
export function agentState(a: Pick<AgentRecord, 'hostId' | 'taskTypes'>, l: Liveness): HealthState | 'unknown' {
  const host = l.health.get(a.hostId);
  if (host === undefined) return 'unknown';
  const endpoints = l.endpoints?.get(a.hostId);
  return endpoints?.length ? agentHealth(host, a.taskTypes, endpoints) : host;
}

function stateTest(state: AgentStateFilter, l: Liveness): (a: AgentRecord) => boolean {
  if (state === 'live') return (a) => isLive(a.hostId, l);
  if (state === 'down') return (a) => !isLive(a.hostId, l);
  return (a) => agentState(a, l) === state;
}

/** What a state filter's verdict depends on: the host, and with endpoints not answering, the agent's task types. */
function verdictKey(a: AgentRecord, l: Liveness): string {
  return l.endpoints?.has(a.hostId) ? `${a.hostId}\n${a.taskTypes.join('\n')}` : a.hostId;
}

export function agentPage(index: RosterIndex, f: AgentFilters, l: Liveness): AgentPage {
  const q = f.q?.toLowerCase();
  const state = f.state === undefined ? undefined : stateTest(f.state, l);
  // Per host (and set of task types, where an endpoint is silent), not per agent: 10 hosts, 10,000 agents.
  const hostPasses = new Map<string, boolean>();
  const passes = (a: AgentRecord): boolean => {
    if (f.host !== undefined && a.hostId !== f.host) return false;
    if (f.node !== undefined && a.node !== f.node) return false;
    if (f.type !== undefined && a.type !== f.type) return false;
    if (q !== undefined && !a.id.toLowerCase().includes(q)) return false;
    if (state) {
      const key = verdictKey(a, l);
      let ok = hostPasses.get(key);
      if (ok === undefined) hostPasses.set(key, (ok = state(a)));
      if (!ok) return false;
    }
    return true;
  };
  const { items, ...counts } = pageOf(index.agents, passes, f.limit, f.cursor);
  const agents = items.map((a): AgentStatus => {
    const silent = endpointsOfAgent(a.taskTypes, l.endpoints?.get(a.hostId) ?? []);
    return { ...a, lastHeartbeat: l.hostBeats.get(a.hostId) ?? null, live: isLive(a.hostId, l), ...(silent.length ? { endpoints: silent.map((e) => ({ url: e.url, state: e.state })) } : {}) };
  });
  return { agents, ...counts };
}
