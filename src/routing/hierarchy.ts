// The hierarchy root → groups → nodes, as a pure, deterministic function of the
// node list: a restarting coordinator (or a second one) rebuilds exactly the same
// tree from the same roster, whatever order it read the nodes in. Also the part
// every tree strategy shares: which leaves a task may go to (eligibility), and
// the fallbacks for when none is free or none is capable.
import { routeLeastLoaded } from './leastLoaded.ts';
import { canRun, type NodeView, type RouteDecision, type TaskRequirement } from './snapshot.ts';

export const DEFAULT_FANOUT = 10;
export const DEFAULT_DEPTH = 3;
export const ROOT_ID = 'root';

export interface HierarchyOptions {
  /** Children per group (= maxAgentsPerNode); default 10. An integer ≥ 1. */
  fanout?: number | undefined;
  /**
   * Levels in all, counting the root and the node level; default 3.
   * 2: root → nodes; 3: root → groups → nodes; 4: root → groups of groups → groups → nodes; …
   */
  depth?: number | undefined;
}

/** Load figures of a subtree: sums over its nodes; load = (waiting + active) / max(1, live capacity). */
export interface HierarchyStats {
  /** Sum of the capacities of live agents. */
  capacity: number;
  waiting: number;
  active: number;
  load: number;
}

export interface HierarchyBranch extends HierarchyStats {
  id: string;
  kind: 'root' | 'group';
  /** 0 for the root; depth − 1 would be the node level. */
  level: number;
  /** In ascending order of the node seqs they hold. */
  children: readonly HierarchyTreeNode[];
  /** Every coordination node under it, in seq order. */
  nodeIds: readonly string[];
}

export interface HierarchyLeaf extends HierarchyStats {
  id: string;
  kind: 'node';
  /** Always depth − 1. */
  level: number;
  children: readonly [];
  nodeIds: readonly [string];
  seq: number;
  /** The snapshot this leaf was built from (agents, latency). */
  view: NodeView;
}

export type HierarchyTreeNode = HierarchyBranch | HierarchyLeaf;

export interface HierarchyTree {
  fanout: number;
  depth: number;
  root: HierarchyBranch;
  /** Every leaf, in seq order. */
  leaves: readonly HierarchyLeaf[];
}

/** The seq of a node id of the form `n<seq>` (seq ≥ 1, no leading zeros), else undefined. */
export function nodeSeq(id: string): number | undefined {
  const m = /^n([1-9][0-9]*)$/.exec(id);
  if (!m) return undefined;
  const s = Number(m[1]);
  return Number.isSafeInteger(s) ? s : undefined;
}

/** The id of a group `height` levels above the nodes: `g<i>`, `gg<i>`, `ggg<i>`, … */
export function groupId(height: number, index: number): string {
  return `${'g'.repeat(height)}${index}`;
}

/** 1-based index, at `height` levels above the nodes, of the group holding node `seq`. */
export function groupIndex(seq: number, fanout: number, height: number): number {
  return Math.floor((seq - 1) / fanout ** height) + 1;
}

/** The lowest-level group of node `seq`: `g<floor((seq − 1) / fanout) + 1>` (n1..n10 → g1 with fanout 10). */
export function groupOfNode(seq: number, fanout: number): string {
  return groupId(1, groupIndex(seq, fanout, 1));
}

function checkOptions(opts: HierarchyOptions): { fanout: number; depth: number } {
  const fanout = opts.fanout ?? DEFAULT_FANOUT;
  const depth = opts.depth ?? DEFAULT_DEPTH;
  if (!Number.isSafeInteger(fanout) || fanout < 1) throw new RangeError(`hierarchy fanout must be an integer ≥ 1, got ${fanout}`);
  if (!Number.isSafeInteger(depth) || depth < 2) throw new RangeError(`hierarchy depth must be an integer ≥ 2 (root and nodes), got ${depth}`);
  return { fanout, depth };
}

function liveCapacity(node: NodeView): number {
  let c = 0;
  for (const a of node.agents) if (a.live) c += a.capacity;
  return c;
}

function stats(capacity: number, waiting: number, active: number): HierarchyStats {
  return { capacity, waiting, active, load: (waiting + active) / Math.max(1, capacity) };
}

/**
 * Builds the tree. Node `n<s>` sits under group `g<floor((s−1)/F)+1>`; at each higher
 * group level the groups fan out F per parent the same way (group index i at height h
 * holds node seqs (i−1)·F^h + 1 … i·F^h). Only groups holding at least one node exist.
 * When there are more nodes than depth levels of fan-out F can hold (more than
 * F^(depth−1)), no level is added: the TOP level (the root's children) simply holds
 * more than F children; every other level holds at most F.
 *
 * Ids that are not of the form `n<seq>` are placed after every proper one, in id
 * order (deterministic, but their place shifts as proper nodes are added).
 * Duplicate ids are a caller bug and throw.
 */
export function buildHierarchy(nodes: readonly NodeView[], opts: HierarchyOptions = {}): HierarchyTree {
  const { fanout, depth } = checkOptions(opts);
  const seen = new Set<string>();
  let maxSeq = 0;
  const odd: NodeView[] = [];
  const withSeq: { seq: number; view: NodeView }[] = [];
  for (const view of nodes) {
    if (seen.has(view.id)) throw new Error(`duplicate node id "${view.id}" in the snapshot`);
    seen.add(view.id);
    const seq = nodeSeq(view.id);
    if (seq === undefined) odd.push(view);
    else {
      withSeq.push({ seq, view });
      if (seq > maxSeq) maxSeq = seq;
    }
  }
  odd.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  odd.forEach((view, i) => withSeq.push({ seq: maxSeq + i + 1, view }));
  withSeq.sort((a, b) => a.seq - b.seq);

  const leafLevel = depth - 1;
  const leaves: HierarchyLeaf[] = withSeq.map(({ seq, view }) => ({
    id: view.id,
    kind: 'node',
    level: leafLevel,
    children: [],
    nodeIds: [view.id],
    seq,
    view,
    ...stats(liveCapacity(view), view.waiting, view.active),
  }));

  // Groups `height` levels above the nodes, over a run of leaves sorted by seq
  // (so each group's leaves are contiguous).
  const build = (run: readonly HierarchyLeaf[], height: number): HierarchyTreeNode[] => {
    if (height === 0) return [...run];
    const out: HierarchyTreeNode[] = [];
    let start = 0;
    while (start < run.length) {
      const index = groupIndex(run[start]!.seq, fanout, height);
      let end = start + 1;
      while (end < run.length && groupIndex(run[end]!.seq, fanout, height) === index) end++;
      out.push(branch(groupId(height, index), 'group', leafLevel - height, build(run.slice(start, end), height - 1)));
      start = end;
    }
    return out;
  };
  const root = branch(ROOT_ID, 'root', 0, build(leaves, depth - 2));
  return { fanout, depth, root, leaves };
}

function branch(id: string, kind: 'root' | 'group', level: number, children: HierarchyTreeNode[]): HierarchyBranch {
  let capacity = 0;
  let waiting = 0;
  let active = 0;
  const nodeIds: string[] = [];
  for (const c of children) {
    capacity += c.capacity;
    waiting += c.waiting;
    active += c.active;
    nodeIds.push(...c.nodeIds);
  }
  return { id, kind, level, children, nodeIds, ...stats(capacity, waiting, active) };
}

// --- JSON for GET /api/hierarchy ---------------------------------------------------

export interface HierarchyNodeJSON extends HierarchyStats {
  id: string;
  kind: 'root' | 'group' | 'node';
  level: number;
  nodeIds: string[];
  children: HierarchyNodeJSON[];
  /** Nodes only. */
  seq?: number;
  agents?: number;
  liveAgents?: number;
  latencyMs?: number;
}

export interface HierarchyJSON {
  fanout: number;
  depth: number;
  nodes: number;
  root: HierarchyNodeJSON;
}

/** A plain, JSON-serialisable copy of the tree (agents summarised as counts). */
export function hierarchyToJSON(tree: HierarchyTree): HierarchyJSON {
  const conv = (n: HierarchyTreeNode): HierarchyNodeJSON => {
    const base: HierarchyNodeJSON = {
      id: n.id,
      kind: n.kind,
      level: n.level,
      capacity: n.capacity,
      waiting: n.waiting,
      active: n.active,
      load: n.load,
      nodeIds: [...n.nodeIds],
      children: n.children.map(conv),
    };
    if (n.kind === 'node') {
      base.seq = n.seq;
      base.agents = n.view.agents.length;
      base.liveAgents = n.view.agents.filter((a) => a.live).length;
      if (n.view.latencyMs !== undefined) base.latencyMs = n.view.latencyMs;
    }
    return base;
  };
  return { fanout: tree.fanout, depth: tree.depth, nodes: tree.leaves.length, root: conv(tree.root) };
}

// --- eligibility: shared by every tree strategy ----------------------------------

export interface RoutingContext {
  /**
   * A node is full when waiting + active ≥ (live capacity) × maxBacklogPerSlot.
   * Default Infinity: nothing is ever full. Must be a number ≥ 0 (0: everything full).
   */
  maxBacklogPerSlot?: number | undefined;
}

/** Whether a leaf is full: waiting + active ≥ live capacity × maxBacklogPerSlot. */
export function isFull(leaf: HierarchyStats, maxBacklogPerSlot: number = Infinity): boolean {
  if (maxBacklogPerSlot === Infinity) return false; // (also avoids 0 × Infinity = NaN)
  return leaf.waiting + leaf.active >= leaf.capacity * maxBacklogPerSlot;
}

export type Eligibility =
  /** A strategy chooses among `eligible` (non-empty): the capable, non-full leaves of the best liveness tier. */
  | { kind: 'choose'; eligible: ReadonlySet<string>; tier: 'live' | 'dead' }
  /** Already decided: an error (unknown type, no capable agent) or the all-full fallback. */
  | { kind: 'decided'; decision: RouteDecision };

/**
 * The leaves a strategy may pick for `task`, in order of preference:
 * 1. tier: leaves with a live agent that canRun the task; if there is none, leaves
 *    with a capable agent that is down (their queue holds the task durably until a
 *    host takes those seats back) — the same preference as routeLeastLoaded;
 * 2. within the tier, the non-full leaves. If every leaf of the tier is full, the
 *    task still routes (queues are durable; fullness never rejects): to the least
 *    loaded leaf of the tier, exactly as routeLeastLoaded picks (ties by lower id).
 * With no capable leaf at all, the decision is routeLeastLoaded's own error
 * (`unknown_task_type` / `no_capable_agent`, same messages).
 */
export function eligibility(task: TaskRequirement, tree: HierarchyTree, ctx: RoutingContext = {}): Eligibility {
  const m = ctx.maxBacklogPerSlot ?? Infinity;
  if (Number.isNaN(m) || m < 0) throw new RangeError(`maxBacklogPerSlot must be ≥ 0, got ${m}`);
  const live: HierarchyLeaf[] = [];
  const dead: HierarchyLeaf[] = [];
  for (const leaf of tree.leaves) {
    let capable = false;
    let liveCapable = false;
    for (const a of leaf.view.agents) {
      if (canRun(a, task)) {
        capable = true;
        if (a.live) {
          liveCapable = true;
          break;
        }
      }
    }
    if (liveCapable) live.push(leaf);
    else if (capable) dead.push(leaf);
  }
  const tierName = live.length > 0 ? 'live' : 'dead';
  const tier = live.length > 0 ? live : dead;
  if (tier.length === 0) return { kind: 'decided', decision: routeLeastLoaded(task, tree.leaves.map((l) => l.view)) };
  const eligible = new Set<string>();
  for (const leaf of tier) if (!isFull(leaf, m)) eligible.add(leaf.id);
  if (eligible.size === 0) return { kind: 'decided', decision: routeLeastLoaded(task, tier.map((l) => l.view)) };
  return { kind: 'choose', eligible, tier: tierName };
}

/** Per subtree holding at least one eligible leaf: sums over its eligible leaves only. */
export interface EligibleAggregate {
  count: number;
  capacity: number;
  waiting: number;
  active: number;
}

/** Sums over the eligible leaves of every subtree that has any (absent from the map: none). */
export function eligibleAggregates(root: HierarchyTreeNode, eligible: ReadonlySet<string>): Map<HierarchyTreeNode, EligibleAggregate> {
  const out = new Map<HierarchyTreeNode, EligibleAggregate>();
  const walk = (n: HierarchyTreeNode): EligibleAggregate | undefined => {
    let agg: EligibleAggregate | undefined;
    if (n.kind === 'node') {
      if (eligible.has(n.id)) agg = { count: 1, capacity: n.capacity, waiting: n.waiting, active: n.active };
    } else {
      for (const c of n.children) {
        const a = walk(c);
        if (!a) continue;
        if (!agg) agg = { ...a };
        else {
          agg.count += a.count;
          agg.capacity += a.capacity;
          agg.waiting += a.waiting;
          agg.active += a.active;
        }
      }
    }
    if (agg) out.set(n, agg);
    return agg;
  };
  walk(root);
  return out;
}

/** -1, 0, 1 comparing (wa + aa) / max(1, ca) with (wb + ab) / max(1, cb), exactly (cross multiplication). */
export function compareLoad(a: { capacity: number; waiting: number; active: number }, b: { capacity: number; waiting: number; active: number }): number {
  return Math.sign((a.waiting + a.active) * Math.max(1, b.capacity) - (b.waiting + b.active) * Math.max(1, a.capacity));
}

export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
