// What the API derives from one version of the roster, once: the agents in id
// order and their counts per host and type. Rebuilt only when the roster's
// version moves, so a page of agents or a summary at 10,000 agents does not sort
// or count 10,000 records per request. Pure: a function of the roster.
import type { AgentRecord } from '../swarm/records.ts';

import { idOrder } from '../swarm/idOrder.ts';


export interface RosterIndex {
  /** Opaque; a new value means a new roster. */
  version: string;
  /** Every agent of the roster (warm-pool seats included), in idOrder order. */
  agents: readonly AgentRecord[];
  /** Agents per host, and per type and host (live counts follow from which hosts are live). */
  perHost: ReadonlyMap<string, number>;
  perType: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

export function indexRoster(version: string, agents: Iterable<AgentRecord>): RosterIndex {
  const sorted = [...agents].sort((x, y) => idOrder(x.id, y.id));
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
function indexAfter(sorted: readonly { id: string }[], id: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (idOrder(sorted[mid]!.id, id) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface Page<T> {
  items: T[];
  /** All of `sorted`. */
  total: number;
  /** Those passing the filter. */
  matched: number;
  /** The id to pass as the next page's cursor; null on the last page. */
  nextCursor: string | null;
}

/**
 * One page of `sorted` (in idOrder): the first `limit` items after `cursor`
 * that pass, with how many pass in all. Walks the whole list once, so the
 * counts are exact whatever the page.
 */
export function pageOf<T extends { id: string }>(sorted: readonly T[], passes: (item: T) => boolean, limit: number, cursor: string | undefined): Page<T> {
  const start = cursor === undefined ? 0 : indexAfter(sorted, cursor);
  let matched = 0;
  let after = 0;
  const items: T[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const item = sorted[i]!;
    if (!passes(item)) continue;
    matched++;
    if (i < start) continue;
    after++;
    if (items.length < limit) items.push(item);
  }
  return { items, total: sorted.length, matched, nextCursor: after > items.length ? items[items.length - 1]!.id : null };
}
