// Least-loaded routing that descends the hierarchy: a pure function of the tree.
import { compareIds, compareLoad } from './compare.ts';
import { eligibility, eligibleAggregates, type EligibleAggregate, type RoutingContext } from './eligibility.ts';
import type { HierarchyTree, HierarchyTreeNode } from './hierarchy.ts';
import type { RouteDecision, TaskRequirement } from './loads.ts';

/**
 * From the root down, at each level goes into the child, among those holding at least
 * one eligible node (see `eligibility`: live-capable first, non-full first), whose
 * eligible nodes carry the least (waiting + active) per unit of live capacity, summed
 * over those eligible nodes only (so a group's idle GPU-less nodes do not attract a
 * GPU task); ties go to the lower id (string order, as in routeLeastLoaded).
 * With depth 2 (root → nodes) this is exactly routeLeastLoaded over the eligible nodes.
 * Every capable node full: routeLeastLoaded's pick among them. None capable: its errors.
 */
export function routeLeastLoadedTree(task: TaskRequirement, tree: HierarchyTree, ctx: RoutingContext = {}): RouteDecision {
  const el = eligibility(task, tree, ctx);
  if (el.kind === 'decided') return el.decision;
  const agg = eligibleAggregates(tree.root, el.eligible);
  let at: HierarchyTreeNode = tree.root;
  while (at.kind !== 'node') {
    let best: { node: HierarchyTreeNode; agg: EligibleAggregate } | undefined;
    for (const child of at.children) {
      const a = agg.get(child);
      if (!a) continue;
      const c = best ? compareLoad(a, best.agg) : -1;
      if (!best || c < 0 || (c === 0 && compareIds(child.id, best.node.id) < 0)) best = { node: child, agg: a };
    }
    if (!best) throw new Error('unreachable: a subtree with eligible nodes has no eligible child');
    at = best.node;
  }
  return { ok: true, node: at.id };
}
