// What the API derives from one version of the roster, once: the agents in id
// order and their counts per host and type. Rebuilt only when the roster's
// version moves, so a page of agents or a summary at 10,000 agents does not sort
// or count 10,000 records per request. Pure: a function of the roster.
import type { AgentRecord } from '../swarm/records.ts';

import { idOrder } from '../swarm/idOrder.ts';

/** Agent ids in the order the API lists them (a total order, so a cursor never skips one). */
export const compareIds = idOrder;

export interface RosterIndex {
  /** Opaque; a new value means a new roster. */
  version: string;
  /** Every agent of the roster (warm-pool seats included), in compareIds order. */
  agents: readonly AgentRecord[];
  /** Agents per host, and per type and host (live counts follow from which hosts are live). */
  perHost: ReadonlyMap<string, number>;
  perType: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

export function indexRoster(version: string, agents: Iterable<AgentRecord>): RosterIndex {
  const sorted = [...agents].sort((x, y) => compareIds(x.id, y.id));
  const perHost = new Map<string, number>();
  const perType = new Map<string, Map<string, number>>();
  for (const a of sorted) {
    perHost.set(a.hostId, (perHost.get(a.hostId) ?? 0) + 1);
    let hosts = perType.get(a.type);
    if (!hosts) perType.set(a.type, (hosts = new Map()));
    hosts.set(a.hostId, (hosts.get(a.hostId) ?? 0) + 1);
  }
  return { version, agents: sorted, perHost, perType };
}

/** The first position in `sorted` whose id comes after `id` (binary search). */
export function indexAfter(sorted: readonly { id: string }[], id: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareIds(sorted[mid]!.id, id) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
