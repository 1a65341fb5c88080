// The events the dashboard follows, as GET /api/events sends them: each SSE
// message's data is `{ id, type, at, data }`, checked against its type's zod
// schema by the server (src/swarm/eventSchemas.ts). The page only checks the
// envelope, so a proxy's mangled message or a newer server's type is skipped.
import type { HealthState } from '../../src/health/classify.ts';
import type { SwarmEventData } from '../../src/swarm/eventSchemas.ts';

export type { HealthState };

export const DASHBOARD_EVENT_TYPES = ['health:alert', 'load:rebalanced', 'recovery:step', 'consensus:reached', 'budget:alert'] as const;
export type DashboardEventType = (typeof DASHBOARD_EVENT_TYPES)[number];

export type SwarmEvent = { [T in DashboardEventType]: { id: string; type: T; at: number; data: SwarmEventData<T> } }[DashboardEventType];
export type RebalanceMove = SwarmEventData<'load:rebalanced'>['moves'][number];
export type ConsensusReachedEvent = SwarmEventData<'consensus:reached'>;

/** Where the page subscribes: only its types, with the recent past so the feeds start filled. */
export function eventsUrl(api: URL, backlog: number): URL {
  const u = new URL('events', api);
  u.searchParams.set('types', DASHBOARD_EVENT_TYPES.join(','));
  u.searchParams.set('backlog', String(backlog));
  return u;
}

const STREAM_ID = /^[0-9]{1,20}-[0-9]{1,20}$/;
const TYPES = new Set<string>(DASHBOARD_EVENT_TYPES);

/** An SSE message's data as a dashboard event, or undefined when it is not one. */
export function toSwarmEvent(message: unknown): SwarmEvent | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const m = message as Record<string, unknown>;
  if (typeof m.id !== 'string' || !STREAM_ID.test(m.id) || typeof m.type !== 'string' || !TYPES.has(m.type)) return undefined;
  if (typeof m.at !== 'number' || typeof m.data !== 'object' || m.data === null) return undefined;
  return message as SwarmEvent;
}
