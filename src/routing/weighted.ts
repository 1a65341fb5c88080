// Weighted routing over the hierarchy: load, recent latency and type affinity,
// mixed by configurable weights. A pure function of the tree.
import { compareIds } from './compare.ts';
import { eligibility, type RoutingContext } from './eligibility.ts';
import type { HierarchyLeaf, HierarchyTree, HierarchyTreeNode } from './hierarchy.ts';
import { canRun, type RouteDecision, type TaskRequirement } from './loads.ts';

export interface Weights {
  load: number;
  latency: number;
  affinity: number;
}

export const DEFAULT_WEIGHTS: Readonly<Weights> = Object.freeze({ load: 0.6, latency: 0.3, affinity: 0.1 });

export interface WeightedContext extends RoutingContext {
  /** Missing keys take DEFAULT_WEIGHTS'. Each must be finite and ≥ 0. */
  weights?: Partial<Weights> | undefined;
}

/** DEFAULT_WEIGHTS overridden by `w`; throws a RangeError for a negative or non-finite weight. */
export function resolveWeights(w: Partial<Weights> = {}): Weights {
  const out: Weights = { ...DEFAULT_WEIGHTS };
  for (const k of ['load', 'latency', 'affinity'] as const) {
    const v = w[k];
    if (v === undefined) continue;
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`weight "${k}" must be a finite number ≥ 0, got ${v}`);
    out[k] = v;
  }
  return out;
}

export interface NodeScore {
  node: string;
  /** Lower is better. */
  score: number;
  /** load / max load over the candidates, in [0, 1]. */
  load: number;
  /** latency / max latency over the candidates, in [0, 1]. */
  latency: number;
  /** Fraction of live agents that can run the task, in [0, 1]. */
  affinity: number;
}

function usableLatency(leaf: HierarchyLeaf): number | undefined {
  const l = leaf.view.latencyMs;
  return l !== undefined && Number.isFinite(l) && l >= 0 ? l : undefined;
}

/**
 * The score of each candidate node (lower is better):
 *
 *   score(n) = w.load · L(n) / max L  +  w.latency · T(n) / max T  +  w.affinity · (1 − A(n))
 *
 * over the candidates n (the eligible nodes), where
 *   L(n) = (waiting + active) / max(1, live capacity)       — its load;
 *   T(n) = its latencyMs; a node with none measured (or a negative / non-finite one)
 *          counts as the mean of the candidates' measured latencies (0 if none is);
 *   A(n) = (live agents that canRun the task) / (live agents), 0 with none live —
 *          its affinity to the task's type, agentType and capabilities;
 * and x / max x is 0 when max x is 0. Each term lies in [0, weight]. Raising one
 * node's load never lowers its load term (x / max(x, others)) and never raises
 * anyone else's; raising its latency never lowers its score relative to any other
 * node's either. So neither ever makes that node more likely to be chosen.
 */
export function scoreCandidates(task: TaskRequirement, leaves: readonly HierarchyLeaf[], weights: Weights): NodeScore[] {
  const loads = leaves.map((l) => l.load);
  const known = leaves.map(usableLatency).filter((x): x is number => x !== undefined);
  const meanLatency = known.length > 0 ? known.reduce((s, x) => s + x, 0) / known.length : 0;
  const lats = leaves.map((l) => usableLatency(l) ?? meanLatency);
  const maxLoad = Math.max(0, ...loads);
  const maxLat = Math.max(0, ...lats);
  return leaves.map((leaf, i) => {
    let live = 0;
    let matching = 0;
    for (const a of leaf.view.agents) {
      if (!a.live) continue;
      live++;
      if (canRun(a, task)) matching++;
    }
    const load = maxLoad > 0 ? loads[i]! / maxLoad : 0;
    const latency = maxLat > 0 ? lats[i]! / maxLat : 0;
    const affinity = live > 0 ? matching / live : 0;
    return { node: leaf.id, score: weights.load * load + weights.latency * latency + weights.affinity * (1 - affinity), load, latency, affinity };
  });
}

/**
 * Scores the eligible nodes (see `eligibility` and `scoreCandidates`) and descends the
 * tree into, at each level, the child holding the best-scored eligible node (lowest
 * score, ties to the lower node id) — so the pick is the best-scored eligible node of
 * the whole tree, deterministically. Every capable node full: the least loaded, as
 * routeLeastLoaded. None capable: its errors.
 */
export function routeWeighted(task: TaskRequirement, tree: HierarchyTree, ctx: WeightedContext = {}): RouteDecision {
  const weights = resolveWeights(ctx.weights);
  const el = eligibility(task, tree, ctx);
  if (el.kind === 'decided') return el.decision;
  const candidates = tree.leaves.filter((l) => el.eligible.has(l.id));
  const scores = new Map(scoreCandidates(task, candidates, weights).map((s) => [s.node, s.score]));
  // Best (score, id) per subtree, then the descent that follows it.
  const best = new Map<HierarchyTreeNode, { score: number; id: string }>();
  const better = (a: { score: number; id: string }, b: { score: number; id: string }) => a.score < b.score || (a.score === b.score && compareIds(a.id, b.id) < 0);
  const walk = (n: HierarchyTreeNode): { score: number; id: string } | undefined => {
    let b: { score: number; id: string } | undefined;
    if (n.kind === 'node') {
      const s = scores.get(n.id);
      if (s !== undefined) b = { score: s, id: n.id };
    } else {
      for (const c of n.children) {
        const cb = walk(c);
        if (cb && (!b || better(cb, b))) b = cb;
      }
    }
    if (b) best.set(n, b);
    return b;
  };
  walk(tree.root);
  let at: HierarchyTreeNode = tree.root;
  while (at.kind !== 'node') {
    let next: HierarchyTreeNode | undefined;
    for (const c of at.children) {
      const cb = best.get(c);
      if (!cb) continue;
      const nb = next && best.get(next);
      if (!nb || better(cb, nb)) next = c;
    }
    if (!next) throw new Error('unreachable: a subtree with eligible nodes has no eligible child');
    at = next;
  }
  return { ok: true, node: at.id };
}
