// The health of an HTTP agent's endpoint, judged like a host's heartbeat: an
// endpoint that stops answering is silent from its first unanswered request
// since its last answer, and is degraded, critical, then failed as that
// silence ages past the swarm's thresholds. Pure: the HTTP processor reports
// each exchange, the host keeps one record per endpoint and publishes the
// silent ones with its heartbeat, and the health monitor and the API judge
// them here, so all agree on the boundaries.
import { z } from 'zod';
import { classifyHeartbeat, worse, type HealthState, type HealthThresholds } from './classify.ts';

/** answered: the service spoke (2xx, 3xx, 4xx, 429); unanswered: no usable answer (refused, reset, timed out, 5xx). */
export type ExchangeOutcome = 'answered' | 'unanswered';

/** What one request to an endpoint ended with, as the processor saw it. */
export interface ExchangeFacts {
  /** The task's own signal ended it: cancelled, the task's timeoutMs, its host shutting down. */
  taskAborted: boolean;
  /** The endpoint's timeoutMs passed before the answer's last byte. */
  timedOut: boolean;
  /** The answer's status, once its headers arrived. */
  status: number | undefined;
  /** The socket error it ended on (ECONNREFUSED, ECONNRESET, ENOTFOUND, …), if any. */
  socketError: string | undefined;
}

/**
 * What an exchange says of its endpoint, or undefined when nothing. An abort
 * by the task (a cancel, the task's own deadline, a host shutting down) is
 * about the task or the host: the service had no chance to answer. A reset
 * after the headers is a service dying mid-answer. Anything with a status
 * below 500 is the service up and speaking, however wrong the answer (a body
 * that is not JSON, a 422): those fail the task, not the endpoint.
 */
export function exchangeOutcome(f: ExchangeFacts): ExchangeOutcome | undefined {
  if (f.taskAborted) return undefined;
  if (f.timedOut || f.socketError !== undefined) return 'unanswered';
  if (f.status === undefined) return undefined;
  return f.status >= 500 ? 'unanswered' : 'answered';
}

/** One endpoint, as its host has seen it. */
export interface EndpointRecord {
  /** When the first request not answered since the last answer was sent (ms); null while it answers. */
  silentSince: number | null;
  /** When the last answer arrived (ms); null before any. */
  answeredAt: number | null;
}

export const ANSWERING: EndpointRecord = Object.freeze({ silentSince: null, answeredAt: null });

/**
 * One exchange's outcome folded into its endpoint's record. An answer ends the
 * silence. An unanswered request makes it silent from when it was sent, but
 * not from before the last answer (a request that hung while others were
 * answered shows silence only from that answer on), and an earlier start of
 * the silence is kept.
 */
export function recordExchange(r: EndpointRecord, outcome: ExchangeOutcome, sentAt: number, endedAt: number): EndpointRecord {
  if (outcome === 'answered') return { silentSince: null, answeredAt: r.answeredAt === null ? endedAt : Math.max(r.answeredAt, endedAt) };
  const from = r.answeredAt === null ? sentAt : Math.max(sentAt, r.answeredAt);
  return { silentSince: r.silentSince === null ? from : Math.min(r.silentSince, from), answeredAt: r.answeredAt };
}

/** An endpoint silent since `silentSince`, at `now`: classified exactly as a host whose last beat was then. */
export function endpointState(silentSince: number, now: number, t: HealthThresholds): HealthState {
  return classifyHeartbeat(now - silentSince, t);
}

/**
 * What a host publishes (the hash `{swarm}:endpoint-silence`, field: its id):
 * its endpoints not answering, with the task types each serves. Read by the
 * monitor through this schema: Redis is a boundary (any host can write the hash).
 */
export const endpointSilenceSchema = z.object({
  endpoints: z
    .array(
      z.object({
        /** Origin and path, as task errors name it (no query: it may hold a token). */
        url: z.string().min(1).max(2048),
        types: z.array(z.string().min(1).max(200)).max(1000),
        silentSince: z.number().finite(),
      }),
    )
    .max(1000),
});
export type EndpointSilence = z.infer<typeof endpointSilenceSchema>;

/** The silent endpoints of a host's records, in url order, or null when every one answers (the host's field is then deleted). */
export function silenceOf(records: ReadonlyMap<string, EndpointRecord>, served: ReadonlyMap<string, readonly string[]>): EndpointSilence | null {
  const endpoints: EndpointSilence['endpoints'] = [];
  for (const [url, r] of records) if (r.silentSince !== null) endpoints.push({ url, types: [...(served.get(url) ?? [])].sort(), silentSince: r.silentSince });
  if (!endpoints.length) return null;
  return { endpoints: endpoints.sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0)) };
}

/** An endpoint's state, for the task types it serves. */
export interface EndpointStateOf {
  url: string;
  types: readonly string[];
  state: HealthState;
}

/**
 * The endpoints an agent runs on: those serving a task type it takes. Every
 * agent of a host takes all the host's task types, so an endpoint's silence
 * fails them all, as its failures reach each of them through their breakers.
 */
export function endpointsOfAgent<E extends { types: readonly string[] }>(taskTypes: readonly string[], endpoints: readonly E[]): E[] {
  return endpoints.filter((e) => e.types.some((t) => taskTypes.includes(t)));
}

/** An HTTP agent's health: the worse of its host's and of each endpoint it runs on. */
export function agentHealth(host: HealthState, taskTypes: readonly string[], endpoints: readonly EndpointStateOf[]): HealthState {
  return endpointsOfAgent(taskTypes, endpoints).reduce<HealthState>((s, e) => worse(s, e.state), host);
}

/** What the monitor keeps of a host's silent endpoint between rounds, by url. */
export interface EndpointMemory {
  state: HealthState;
  /** When it entered this state. */
  since: number;
  types: readonly string[];
}

/** One of a host's HTTP agents' endpoints that has stopped answering, as GET /api/health shows it. */
export interface EndpointHealth {
  /** Origin and path. */
  url: string;
  /** The task types it serves there. */
  types: string[];
  /** From how long it has been silent, with the heartbeat thresholds. */
  state: HealthState;
  /** When it entered this state (as the monitor saw it). */
  since: number;
  /** When its first unanswered request since its last answer was sent (the host's clock). */
  silentSince: number;
  silentForMs: number;
  /** The host's agents that run on it (their task types include one it serves). */
  agents: number;
}

/** An endpoint's state moved: what its alert says. Back to healthy when it answers again (its host took it out of the hash). */
export interface EndpointChange {
  url: string;
  from: HealthState;
  to: HealthState;
  agents: number;
  /** 0 once it answers again. */
  silentForMs: number;
}

/**
 * One round of a host's endpoints: the silent ones it published classified at
 * `now`, what to remember for the next round, and each change of state since
 * the last (an endpoint not seen before starts from healthy).
 */
export function judgeEndpoints(
  before: ReadonlyMap<string, EndpointMemory> | undefined,
  silent: EndpointSilence['endpoints'],
  now: number,
  t: HealthThresholds,
  agentsOn: (types: readonly string[]) => number,
): { after: Map<string, EndpointMemory>; endpoints: EndpointHealth[]; changes: EndpointChange[] } {
  const after = new Map<string, EndpointMemory>();
  const endpoints: EndpointHealth[] = [];
  const changes: EndpointChange[] = [];
  for (const e of silent) {
    const state = endpointState(e.silentSince, now, t);
    const prev = before?.get(e.url);
    const from = prev?.state ?? 'healthy';
    const since = prev && prev.state === state ? prev.since : now;
    const agents = agentsOn(e.types);
    const silentForMs = Math.max(0, now - e.silentSince);
    after.set(e.url, { state, since, types: e.types });
    endpoints.push({ url: e.url, types: e.types, state, since, silentSince: e.silentSince, silentForMs, agents });
    if (state !== from) changes.push({ url: e.url, from, to: state, agents, silentForMs });
  }
  for (const [url, prev] of before ?? []) {
    if (after.has(url) || prev.state === 'healthy') continue;
    changes.push({ url, from: prev.state, to: 'healthy', agents: agentsOn(prev.types), silentForMs: 0 });
  }
  return { after, endpoints, changes };
}
