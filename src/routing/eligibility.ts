// Eligibility, shared by every tree strategy: which leaves a task may go to, and
// the fallbacks for when none is free or none is capable.
import type { HierarchyLeaf, HierarchyStats, HierarchyTree, HierarchyTreeNode } from './hierarchy.ts';
import { routeLeastLoaded } from './leastLoaded.ts';
import { canRun, type RouteDecision, type TaskRequirement } from './loads.ts';

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
  const { tier, tierName, all } = tiersOf(task, tree);
  if (tier.length === 0) return { kind: 'decided', decision: routeLeastLoaded(task, tree.leaves.map((l) => l.view)) };
  if (m === Infinity) return { kind: 'choose', eligible: all, tier: tierName };
  const eligible = new Set<string>();
  for (const leaf of tier) if (!isFull(leaf, m)) eligible.add(leaf.id);
  if (eligible.size === 0) return { kind: 'decided', decision: routeLeastLoaded(task, tier.map((l) => l.view)) };
  return { kind: 'choose', eligible, tier: tierName };
}

interface Tiers {
  tier: readonly HierarchyLeaf[];
  tierName: 'live' | 'dead';
  /** The tier's ids. */
  all: ReadonlySet<string>;
}

/**
 * Which leaves can run a task depends on the tree's agents alone, not on its
 * loads, so it is worked out once per tree and kind of task: a decision at
 * 10,000 agents then costs a walk of the tree's levels, not of every agent.
 * A memo (WeakMap on the tree), not state: the same tree and task give the same
 * answer either way, and routers count routings into loads only.
 */
const tiersMemo = new WeakMap<HierarchyTree, Map<string, Tiers>>();

function requirementKey(task: TaskRequirement): string {
  const aff = task.affinity;
  return JSON.stringify([task.type, aff?.agentType ?? null, aff?.capabilities ? [...aff.capabilities].sort() : null]);
}

function tiersOf(task: TaskRequirement, tree: HierarchyTree): Tiers {
  let byTask = tiersMemo.get(tree);
  if (!byTask) tiersMemo.set(tree, (byTask = new Map()));
  const key = requirementKey(task);
  const known = byTask.get(key);
  if (known) return known;
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
  const tier = live.length > 0 ? live : dead;
  const tiers: Tiers = { tier, tierName: live.length > 0 ? 'live' : 'dead', all: new Set(tier.map((l) => l.id)) };
  byTask.set(key, tiers);
  return tiers;
}

/** Per subtree holding at least one eligible leaf: sums over its eligible leaves only. */
export interface EligibleAggregate {
  count: number;
  capacity: number;
  waiting: number;
  active: number;
}

export interface AggregateLookup {
  get(n: HierarchyTreeNode): EligibleAggregate | undefined;
}

/** Every node eligible: each subtree's own aggregates (one object for all calls: a submit builds nothing here). */
const WHOLE_TREE: AggregateLookup = { get: (n) => ({ count: n.nodeIds.length, capacity: n.capacity, waiting: n.waiting, active: n.active }) };

/**
 * Sums over the eligible leaves of every subtree that has any (undefined: none).
 * When every leaf of the tree is eligible those are the subtrees' own figures,
 * read as they are (the tree keeps them up to date), with no walk.
 */
export function eligibleAggregates(root: HierarchyTreeNode, eligible: ReadonlySet<string>): AggregateLookup {
  if (eligible.size === root.nodeIds.length) return WHOLE_TREE;
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
