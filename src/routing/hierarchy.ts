// The hierarchy root → groups → nodes, as a pure, deterministic function of the
// node list: a restarting coordinator (or a second one) rebuilds exactly the same
// tree from the same roster, whatever order it read the nodes in.
import { liveCapacity } from './capacity.ts';
import type { NodeView } from './loads.ts';

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
