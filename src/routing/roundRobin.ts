// Round-robin routing over the hierarchy: a pure function of (task, tree, cursor).
import { eligibility, type RoutingContext } from './eligibility.ts';
import type { HierarchyLeaf, HierarchyTree, HierarchyTreeNode } from './hierarchy.ts';
import type { RouteDecision, TaskRequirement } from './loads.ts';

/**
 * Per task class (type + affinity, see `taskClassKey`), the seq of the node last
 * chosen. Keyed by seq, not by position, so the cycle survives the tree growing or
 * shrinking: a new node n<s> simply joins the cycle at its seq, a removed one
 * drops out, and nobody's turn is skipped or repeated because indices shifted.
 * Plain JSON (insertion order = least recently used first), so it can be stored.
 */
export interface RoundRobinState {
  readonly cursors: Readonly<Record<string, number>>;
}

/** At most this many task classes are remembered; the least recently routed is forgotten first. */
export const ROUND_ROBIN_MAX_CLASSES = 1024;

export function initialRoundRobinState(): RoundRobinState {
  return { cursors: {} };
}

/**
 * The cursor key of a task: its type, required agent type and (sorted, deduplicated)
 * capabilities. Tasks of one class have one eligible set (for a given snapshot), so
 * each class cycles fairly over it, whatever other classes are routed in between.
 * Always starts with "[", so it can never be "__proto__" or an integer-like key.
 */
export function taskClassKey(task: TaskRequirement): string {
  const caps = [...new Set(task.affinity?.capabilities ?? [])].sort();
  return JSON.stringify([task.type, task.affinity?.agentType ?? null, caps]);
}

/**
 * Chooses the eligible node (see `eligibility`) with the smallest seq after the
 * class's cursor, wrapping to the smallest eligible seq. As a descent: at each level,
 * the first child (in seq order) holding an eligible node after the cursor, else
 * (wrapping) the first child holding any eligible node. Fair: for a fixed eligible
 * set of E nodes, any k·E consecutive routings of a class choose each node k times.
 * When every capable node is full, the least loaded is chosen (as routeLeastLoaded)
 * and the cursor stays where it was; errors leave the state unchanged too.
 * The input state is never mutated; an unchanged state is returned as the same object.
 */
export function routeRoundRobin(
  task: TaskRequirement,
  tree: HierarchyTree,
  state: RoundRobinState,
  ctx: RoutingContext = {},
): { decision: RouteDecision; state: RoundRobinState } {
  const el = eligibility(task, tree, ctx);
  if (el.kind === 'decided') return { decision: el.decision, state };
  const key = taskClassKey(task);
  const cursor = Object.hasOwn(state.cursors, key) ? state.cursors[key]! : 0;
  const firstAfter = (n: HierarchyTreeNode, after: number): HierarchyLeaf | undefined => {
    if (n.kind === 'node') return n.seq > after && el.eligible.has(n.id) ? n : undefined;
    for (const c of n.children) {
      const hit = firstAfter(c, after);
      if (hit) return hit;
    }
    return undefined;
  };
  const chosen = firstAfter(tree.root, cursor) ?? firstAfter(tree.root, 0);
  if (!chosen) throw new Error('unreachable: eligibility found nodes the tree does not hold');
  const cursors: Record<string, number> = { ...state.cursors };
  delete cursors[key]; // re-inserted last: most recently used
  cursors[key] = chosen.seq;
  const keys = Object.keys(cursors);
  for (let i = 0; i < keys.length - ROUND_ROBIN_MAX_CLASSES; i++) delete cursors[keys[i]!];
  return { decision: { ok: true, node: chosen.id }, state: { cursors } };
}
