// One entry point for every routing strategy over the hierarchy, with one state
// object for those that keep state (round-robin's cursors, random's generator).
import type { RoutingContext } from './eligibility.ts';
import type { HierarchyTree } from './hierarchy.ts';
import { routeLeastLoadedTree } from './leastLoadedTree.ts';
import { initialRandomState, routeRandom, type RandomState } from './random.ts';
import { initialRoundRobinState, routeRoundRobin, type RoundRobinState } from './roundRobin.ts';
import type { RouteDecision, TaskRequirement } from './loads.ts';
import { routeWeighted, type Weights } from './weighted.ts';

export type StrategyName = 'least-loaded' | 'round-robin' | 'weighted' | 'random';

export const STRATEGY_NAMES: readonly StrategyName[] = Object.freeze(['least-loaded', 'round-robin', 'weighted', 'random'] as const);

export function isStrategyName(s: string): s is StrategyName {
  return (STRATEGY_NAMES as readonly string[]).includes(s);
}

/** Everything the strategies remember between routings; plain JSON, never mutated. */
export interface RouterState {
  readonly roundRobin: RoundRobinState;
  readonly random: RandomState;
}

/** A fresh state; `seed` (a 32-bit integer) seeds the random strategy: same seed, same choices. */
export function initialRouterState(seed = 0): RouterState {
  return { roundRobin: initialRoundRobinState(), random: initialRandomState(seed) };
}

export interface RouteOptions extends RoutingContext {
  /** The weighted strategy's weights; defaults DEFAULT_WEIGHTS (0.6 load, 0.3 latency, 0.1 affinity). */
  weights?: Partial<Weights> | undefined;
}

/**
 * Routes `task` over `tree` with the named strategy. Returns the decision and the
 * state to pass next time: the very same object when nothing changed (stateless
 * strategies, errors, the all-full fallback), so callers can skip storing it.
 */
export function route(
  name: StrategyName,
  task: TaskRequirement,
  tree: HierarchyTree,
  state: RouterState,
  opts: RouteOptions = {},
): { decision: RouteDecision; state: RouterState } {
  switch (name) {
    case 'least-loaded':
      return { decision: routeLeastLoadedTree(task, tree, opts), state };
    case 'weighted':
      return { decision: routeWeighted(task, tree, opts), state };
    case 'round-robin': {
      const r = routeRoundRobin(task, tree, state.roundRobin, opts);
      return { decision: r.decision, state: r.state === state.roundRobin ? state : { ...state, roundRobin: r.state } };
    }
    case 'random': {
      const r = routeRandom(task, tree, state.random, opts);
      return { decision: r.decision, state: r.state === state.random ? state : { ...state, random: r.state } };
    }
    default: {
      const never: never = name;
      throw new RangeError(`unknown routing strategy "${String(never)}"`);
    }
  }
}
