// Uniform random routing over the hierarchy, from an injected, seeded generator
// (pure-rand's xoroshiro128+), never an unseeded global generator: the same seed replays the same
// choices, so a failing simulation is reproduced from its seed.
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import { eligibility, eligibleAggregates, type RoutingContext } from './eligibility.ts';
import type { HierarchyTree, HierarchyTreeNode } from './hierarchy.ts';
import type { RouteDecision, TaskRequirement } from './loads.ts';

/** A seeded source of randomness. The same seed gives the same sequence of draws. */
export interface SeededRandom {
  /** Uniform in [0, 1), 53 random bits. */
  next(): number;
  /** Uniform integer in [0, n), for an integer n ≥ 1 (unbiased: rejection sampling). */
  int(n: number): number;
  /** The generator's state now (4 int32s): `createRandom(state)` resumes from exactly here. */
  state(): readonly number[];
}

/**
 * A seeded generator. A number seed is taken as a 32-bit integer (`seed | 0`), so
 * seeds that differ only above bit 31 replay the same sequence; a state array (from
 * `state()` or a RandomState) resumes a generator where it was.
 */
export function createRandom(seed: number | readonly number[]): SeededRandom {
  const rng = typeof seed === 'number' ? xoroshiro128plus(seed | 0) : xoroshiro128plusFromState(seed);
  return {
    next: () => uniformFloat64(rng),
    int: (n) => {
      if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`int(n) needs an integer n ≥ 1, got ${n}`);
      return uniformInt(rng, 0, n - 1);
    },
    state: () => [...rng.getState()],
  };
}

/** The random strategy's state: a generator state, plain JSON so it can be stored and resumed. */
export interface RandomState {
  readonly rng: readonly number[];
}

export function initialRandomState(seed: number): RandomState {
  return { rng: createRandom(seed).state() };
}

/**
 * Chooses uniformly among the eligible nodes (see `eligibility`) with ONE draw r in
 * [0, E) from the state's generator, then descends: at each level, into the child
 * whose eligible-node count covers r (subtracting the counts of the children before
 * it), so each eligible node has probability exactly 1/E whatever the group sizes.
 * Same state (seed) and same inputs → same choice and same next state. Errors and
 * the all-full fallback (least loaded, as routeLeastLoaded) draw nothing: the state
 * is returned unchanged (the same object). The input state is never mutated.
 */
export function routeRandom(
  task: TaskRequirement,
  tree: HierarchyTree,
  state: RandomState,
  ctx: RoutingContext = {},
): { decision: RouteDecision; state: RandomState } {
  const el = eligibility(task, tree, ctx);
  if (el.kind === 'decided') return { decision: el.decision, state };
  const agg = eligibleAggregates(tree.root, el.eligible);
  const rng = createRandom(state.rng);
  let r = rng.int(el.eligible.size);
  let at: HierarchyTreeNode = tree.root;
  while (at.kind !== 'node') {
    let next: HierarchyTreeNode | undefined;
    for (const child of at.children) {
      const count = agg.get(child)?.count ?? 0;
      if (r < count) {
        next = child;
        break;
      }
      r -= count;
    }
    if (!next) throw new Error('unreachable: eligible counts do not add up');
    at = next;
  }
  return { decision: { ok: true, node: at.id }, state: { rng: rng.state() } };
}
