// The balance planner: a pure function from node loads to moves of waiting jobs.
// Only nodes of one profile exchange work (any of their agents can run any of
// their tasks), and only within one slot group (their queues share a Redis
// Cluster slot, which an atomic move needs); only waiting jobs move, so load
// here is waiting per live slot.

export interface BalanceNode {
  id: string;
  /** Slot group: work moves only between nodes of the same one. */
  slot: string;
  /** Lowest-level group in the hierarchy: stealing prefers siblings. */
  group: string;
  /** Agents of the same profile can run each other's tasks. */
  profile: string;
  /** Live slots (sum of live agents' capacities). */
  capacity: number;
  waiting: number;
  active: number;
}

export interface Move {
  from: string;
  to: string;
  count: number;
  /** steal and rebalance stay within a slot group (plan.ts); cross-group moves go between groups (groupPlan.ts). */
  reason: 'steal' | 'rebalance' | 'cross-group';
}

export interface PlanOptions {
  /** Steal when a source's waiting per slot is at least this many times the mean. */
  stealRatio: number;
  /** Rebalancing brings every node within this fraction of its fair share. */
  tolerance: number;
}

interface Share {
  node: BalanceNode;
  /** waiting jobs this node should hold at the profile's mean load */
  fair: number;
  /** waiting still to give (>0) or room still to take (<0), updated as moves are planned */
  excess: number;
}

function byExchange(nodes: readonly BalanceNode[]): Map<string, BalanceNode[]> {
  const out = new Map<string, BalanceNode[]>();
  for (const n of nodes) {
    if (n.capacity <= 0 && n.waiting === 0) continue;
    const key = `${n.slot}\u0000${n.profile}`;
    const list = out.get(key) ?? [];
    list.push(n);
    out.set(key, list);
  }
  return out;
}

function shares(nodes: readonly BalanceNode[]): { shares: Share[]; mean: number } {
  const capacity = nodes.reduce((s, n) => s + n.capacity, 0);
  const waiting = nodes.reduce((s, n) => s + n.waiting, 0);
  const mean = capacity > 0 ? waiting / capacity : 0;
  return {
    mean,
    shares: nodes.map((node) => {
      const fair = mean * node.capacity;
      return { node, fair, excess: node.waiting - fair };
    }),
  };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Work stealing: a node with live slots and fewer tasks queued than slots (about
 * to idle) takes work from a node whose waiting per slot is at least
 * `stealRatio` × the mean, siblings first, up to the thief's fair share (and
 * never below the source's).
 */
export function planSteals(nodes: readonly BalanceNode[], o: PlanOptions): Move[] {
  const moves: Move[] = [];
  for (const group of byExchange(nodes).values()) {
    const { shares: all, mean } = shares(group);
    if (mean <= 0) continue;
    const sources = all
      .filter((s) => s.node.capacity > 0 ? s.node.waiting / s.node.capacity >= o.stealRatio * mean : s.node.waiting > 0)
      .sort((a, b) => b.excess - a.excess || cmp(a.node.id, b.node.id));
    // A node steals before it runs dry: with fewer queued than its slots, it idles within one task.
    const thieves = all
      .filter((s) => s.node.capacity > 0 && s.node.waiting < s.node.capacity && s.node.waiting < s.fair)
      .sort((a, b) => a.node.waiting - b.node.waiting || cmp(a.node.id, b.node.id));
    for (const thief of thieves) {
      const want = Math.max(1, Math.floor(thief.fair - thief.node.waiting));
      // Siblings first, then the most overloaded anywhere.
      const ordered = [...sources.filter((s) => s.node.group === thief.node.group), ...sources.filter((s) => s.node.group !== thief.node.group)];
      let got = 0;
      for (const src of ordered) {
        if (got >= want) break;
        const give = Math.min(want - got, Math.floor(src.excess));
        if (give <= 0) continue;
        moves.push({ from: src.node.id, to: thief.node.id, count: give, reason: 'steal' });
        src.excess -= give;
        got += give;
      }
    }
  }
  return moves;
}

/**
 * Rebalancing: move waiting work from nodes above (1 + tolerance) × their fair
 * share to nodes below (1 − tolerance) × theirs, largest gaps first, until no
 * pair is outside the band.
 */
export function planRebalance(nodes: readonly BalanceNode[], o: PlanOptions): Move[] {
  const moves: Move[] = [];
  for (const group of byExchange(nodes).values()) {
    const { shares: all } = shares(group);
    const over = all.filter((s) => s.node.waiting > s.fair * (1 + o.tolerance) && s.excess >= 1).sort((a, b) => b.excess - a.excess || cmp(a.node.id, b.node.id));
    const under = all
      .filter((s) => s.node.capacity > 0 && s.node.waiting < s.fair * (1 - o.tolerance))
      .sort((a, b) => a.excess - b.excess || cmp(a.node.id, b.node.id));
    for (const dst of under) {
      for (const src of over) {
        const room = Math.floor(-dst.excess);
        if (room <= 0) break;
        const give = Math.min(room, Math.floor(src.excess));
        if (give <= 0) continue;
        moves.push({ from: src.node.id, to: dst.node.id, count: give, reason: 'rebalance' });
        src.excess -= give;
        dst.excess += give;
      }
    }
  }
  return moves;
}
