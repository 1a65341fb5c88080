// The routing decision, timed in process: each strategy in src/routing over one
// realistic snapshot of a large swarm (default 1,000 agents in 100 nodes of 10),
// warmed up, then many calls timed in rounds; the median round is reported as
// the cost of one decision. Pure functions, no Redis: this is the CPU a router
// spends per task on top of the enqueue.
//
// The tree strategies (src/routing/strategy.ts) decide over a hierarchy built
// from the snapshot (buildHierarchy); a router builds it once per snapshot
// refresh, not per task, so its cost is reported apart (`treeBuildUs`).
import { performance } from 'node:perf_hooks';
import { routeLeastLoaded } from '../../src/routing/leastLoaded.ts';
import { buildHierarchy, type HierarchyTree } from '../../src/routing/hierarchy.ts';
import type { AgentView, NodeView, TaskRequirement } from '../../src/routing/loads.ts';
import { initialRouterState, route, STRATEGY_NAMES, type RouterState, type StrategyName } from '../../src/routing/strategy.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { median, seededRandom } from './balanceMath.ts';

export interface RoutingCostOptions {
  agents: number;
  perNode: number;
  /** Total timed time per strategy, split over `rounds` rounds. */
  budgetMs: number;
  rounds: number;
  seed: number;
}

export interface StrategyCost {
  /** Key in the JSON: `routeLeastLoaded` (flat, what TaskRouter uses today) or a StrategyName (tree). */
  name: string;
  what: string;
  nsPerDecision: number;
  minNs: number;
  maxNs: number;
  calls: number;
  /** How many distinct nodes the timed decisions chose (stateful strategies move on; stateless ones repeat). */
  distinctNodes: number;
}

export interface RoutingCost {
  agents: number;
  nodes: number;
  perNode: number;
  depth: number;
  fanout: number;
  task: TaskRequirement;
  strategies: StrategyCost[];
  treeBuildUs: number;
}

/**
 * A swarm as a router would see it mid-run: every agent of one kind (runs every
 * built-in type, capacity 1), a few down, nodes with uneven backlogs and
 * latencies, active ≤ live capacity.
 */
export function realisticSnapshot(agents: number, perNode: number, seed: number): NodeView[] {
  const rnd = seededRandom(seed);
  const taskTypes = Object.keys(builtinProcessors).sort();
  const nodes: NodeView[] = [];
  let k = 0;
  for (let n = 1; k < agents; n++) {
    const list: AgentView[] = [];
    for (let i = 0; i < perNode && k < agents; i++, k++) {
      list.push({ id: `bench-host-a${k + 1}`, type: 'w', capabilities: [], taskTypes, capacity: 1, live: rnd() > 0.01 });
    }
    const live = list.filter((a) => a.live).length;
    nodes.push({
      id: `n${n}`,
      agents: list,
      waiting: Math.floor(rnd() * 40),
      active: Math.floor(rnd() * (live + 1)),
      latencyMs: 1 + rnd() * 20,
    });
  }
  return nodes;
}

let sink = 0;

/** ns per call of `fn`: warm-up, then `rounds` rounds of about budgetMs/rounds each; median, min, max over rounds. */
function timeCalls(fn: () => string, budgetMs: number, rounds: number): { ns: number; minNs: number; maxNs: number; calls: number } {
  // Warm-up: enough calls for the JIT to settle (optimizing tiers kick in after a few thousand), 2k calls and 150 ms at least.
  const warmUntil = performance.now() + 150;
  for (let i = 0; i < 2000 || performance.now() < warmUntil; i++) sink += fn().length;
  const per: number[] = [];
  let calls = 0;
  const batch = 200;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const until = t0 + budgetMs / rounds;
    let n = 0;
    let t = t0;
    while (t < until) {
      for (let i = 0; i < batch; i++) sink += fn().length;
      n += batch;
      t = performance.now();
    }
    per.push(((t - t0) * 1e6) / n);
    calls += n;
  }
  return { ns: median(per), minNs: Math.min(...per), maxNs: Math.max(...per), calls };
}

const WHAT: Partial<Record<StrategyName | (string & {}), string>> = {
  'least-loaded': 'tree: descend to the least-loaded subtree (routeLeastLoadedTree)',
  'round-robin': 'tree: next eligible node after the cursor (state threaded through)',
  weighted: 'tree: load 0.6 / latency 0.3 / affinity 0.1 scores, best subtree',
  random: 'tree: one seeded draw over eligible nodes (state threaded through)',
};

export function measureRoutingCost(o: RoutingCostOptions): RoutingCost {
  const nodes = realisticSnapshot(o.agents, o.perNode, o.seed);
  const fanout = o.perNode;
  const depth = 3;
  const task: TaskRequirement = { type: 'sleep' };
  const strategies: StrategyCost[] = [];

  const flatChosen = new Set<string>();
  const flat = timeCalls(
    () => {
      const d = routeLeastLoaded(task, nodes);
      const id = d.ok ? d.node : d.code;
      flatChosen.add(id);
      return id;
    },
    o.budgetMs,
    o.rounds,
  );
  strategies.push({
    name: 'routeLeastLoaded',
    what: 'flat scan of every node and agent (what TaskRouter / SwarmClient route with)',
    nsPerDecision: flat.ns,
    minNs: flat.minNs,
    maxNs: flat.maxNs,
    calls: flat.calls,
    distinctNodes: flatChosen.size,
  });

  const tree: HierarchyTree = buildHierarchy(nodes, { fanout, depth });
  for (const name of STRATEGY_NAMES) {
    let state: RouterState = initialRouterState(o.seed);
    const chosen = new Set<string>();
    const r = timeCalls(
      () => {
        const out = route(name, task, tree, state);
        state = out.state;
        const id = out.decision.ok ? out.decision.node : out.decision.code;
        chosen.add(id);
        return id;
      },
      o.budgetMs,
      o.rounds,
    );
    strategies.push({
      name,
      what: WHAT[name] ?? `tree: route('${name}')`,
      nsPerDecision: r.ns,
      minNs: r.minNs,
      maxNs: r.maxNs,
      calls: r.calls,
      distinctNodes: chosen.size,
    });
  }

  const build = timeCalls(() => buildHierarchy(nodes, { fanout, depth }).root.id, o.budgetMs, o.rounds);
  if (sink === -1) console.log(sink); // keeps the results observable
  return { agents: o.agents, nodes: nodes.length, perNode: o.perNode, depth, fanout, task, strategies, treeBuildUs: build.ns / 1000 };
}
