// The planner for moves between slot groups: a pure function from node loads
// to moves of waiting jobs. Within a group the planner in plan.ts evens nodes
// out; it cannot help when a whole group is loaded and another idles (all
// tasks routed to nodes of one group). Here each group's load is its waiting
// per live slot, per profile (only nodes of one profile exchange work), and a
// group far above the profile's mean gives to groups far below it, until both
// sides are within the tolerance band. Moves leave only groups the caller may
// move out of (the ones whose partition it holds: it carries the source's fence).
import type { BalanceNode, Move, PlanOptions } from './plan.ts';

interface GroupLoad {
  slot: string;
  nodes: BalanceNode[];
  capacity: number;
  waiting: number;
  /** waiting still to give (>0) or room still to take (<0), at the profile's mean */
  excess: number;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function groupsOf(nodes: readonly BalanceNode[], mean: number): GroupLoad[] {
  const by = new Map<string, BalanceNode[]>();
  for (const n of nodes) by.set(n.slot, [...(by.get(n.slot) ?? []), n]);
  return [...by].map(([slot, list]) => {
    const capacity = list.reduce((s, n) => s + n.capacity, 0);
    const waiting = list.reduce((s, n) => s + n.waiting, 0);
    return { slot, nodes: list, capacity, waiting, excess: waiting - mean * capacity };
  });
}

/**
 * Moves from groups above (1 + tolerance) × their fair share (or with waiting
 * work and no live slot) to groups below (1 − tolerance) × theirs, largest gaps
 * first. Within a source group the nodes with the most waiting above their own
 * fair share give first; within a target group the nodes with the most room take first.
 */
export function planAcrossGroups(nodes: readonly BalanceNode[], o: Pick<PlanOptions, 'tolerance'>, mayGive: (slot: string) => boolean): Move[] {
  const byProfile = new Map<string, BalanceNode[]>();
  for (const n of nodes) byProfile.set(n.profile, [...(byProfile.get(n.profile) ?? []), n]);
  const moves: Move[] = [];
  for (const list of byProfile.values()) {
    const capacity = list.reduce((s, n) => s + n.capacity, 0);
    const waiting = list.reduce((s, n) => s + n.waiting, 0);
    if (capacity <= 0 || waiting <= 0) continue;
    const mean = waiting / capacity;
    const groups = groupsOf(list, mean);
    if (groups.length < 2) continue;
    const over = groups
      .filter((g) => mayGive(g.slot) && g.excess >= 1 && (g.capacity === 0 || g.waiting > mean * g.capacity * (1 + o.tolerance)))
      .sort((a, b) => b.excess - a.excess || cmp(a.slot, b.slot));
    const under = groups
      .filter((g) => g.capacity > 0 && g.waiting < mean * g.capacity * (1 - o.tolerance))
      .sort((a, b) => a.excess - b.excess || cmp(a.slot, b.slot));
    // Each node's waiting as the moves planned so far leave it: a group may give to, or take from, several.
    const left = new Map(list.map((x) => [x.id, x.waiting]));
    for (const dst of under) {
      for (const src of over) {
        const give = Math.min(Math.floor(-dst.excess), Math.floor(src.excess));
        if (give <= 0) continue;
        moves.push(...pairNodes(src, dst, give, mean, left));
        src.excess -= give;
        dst.excess += give;
      }
    }
  }
  return moves;
}

/** Splits `count` between the source group's nodes (most over their share first) and the target's (most room first). */
function pairNodes(src: GroupLoad, dst: GroupLoad, count: number, mean: number, waiting: Map<string, number>): Move[] {
  const givers = src.nodes
    .map((n) => ({ id: n.id, left: waiting.get(n.id)!, over: waiting.get(n.id)! - mean * n.capacity }))
    .filter((g) => g.left > 0)
    .sort((a, b) => b.over - a.over || cmp(a.id, b.id));
  const takers = dst.nodes
    .filter((n) => n.capacity > 0)
    .map((n) => ({ id: n.id, room: mean * n.capacity - waiting.get(n.id)! }))
    .filter((t) => t.room > 0)
    .sort((a, b) => b.room - a.room || cmp(a.id, b.id));
  const moves: Move[] = [];
  let left = count;
  // Each taker takes up to its room (at least one, so a rounded-down share still lands), from the givers in order.
  for (const t of takers) {
    let want = Math.min(left, Math.max(1, Math.floor(t.room)));
    for (const g of givers) {
      if (want <= 0) break;
      const n = Math.min(want, g.left);
      if (n <= 0) continue;
      const prev = moves.find((m) => m.from === g.id && m.to === t.id);
      if (prev) prev.count += n;
      else moves.push({ from: g.id, to: t.id, count: n, reason: 'cross-group' });
      g.left -= n;
      waiting.set(g.id, g.left);
      waiting.set(t.id, waiting.get(t.id)! + n);
      want -= n;
      left -= n;
    }
    if (left <= 0) break;
  }
  return moves;
}
