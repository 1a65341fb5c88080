// One page of GET /api/nodes: coordination nodes in id order with their live
// capacity and queue counts, filtered by id and load band. Pure.
import { liveCapacity } from '../routing/capacity.ts';
import { loadBand, type LoadBand } from '../routing/loadBand.ts';
import type { NodeView } from '../routing/loads.ts';
import type { NodeRecord } from '../swarm/records.ts';
import { idOrder } from '../swarm/idOrder.ts';
import { pageOf } from './rosterIndex.ts';

export interface NodeStatus {
  id: string;
  queue: string;
  /** Seats taken in the roster (warm-pool seats included). */
  members: number;
  liveAgents: number;
  /** Slots of its live agents. */
  capacity: number;
  waiting: number;
  active: number;
  /** (waiting + active) / max(1, capacity), and its band. */
  load: number;
  band: LoadBand;
  createdAt: number;
}

export interface NodeFilters {
  q?: string | undefined;
  load?: LoadBand | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface NodePage {
  nodes: NodeStatus[];
  total: number;
  matched: number;
  nextCursor: string | null;
}

export function nodeStatuses(views: readonly NodeView[], records: ReadonlyMap<string, NodeRecord>): NodeStatus[] {
  const out: NodeStatus[] = [];
  for (const n of views) {
    const rec = records.get(n.id);
    if (!rec) continue;
    const capacity = liveCapacity(n);
    const load = (n.waiting + n.active) / Math.max(1, capacity);
    out.push({
      id: n.id,
      queue: rec.queue,
      members: rec.members,
      liveAgents: n.agents.filter((a) => a.live).length,
      capacity,
      waiting: n.waiting,
      active: n.active,
      load,
      band: loadBand(load, capacity),
      createdAt: rec.createdAt,
    });
  }
  return out.sort((x, y) => idOrder(x.id, y.id));
}

/** `sorted` in idOrder order (as nodeStatuses returns it). */
export function nodePage(sorted: readonly NodeStatus[], f: NodeFilters): NodePage {
  const q = f.q?.toLowerCase();
  const passes = (n: NodeStatus) => (f.load === undefined || n.band === f.load) && (q === undefined || n.id.toLowerCase().includes(q));
  const { items, ...counts } = pageOf(sorted, passes, f.limit, f.cursor);
  return { nodes: items, ...counts };
}
