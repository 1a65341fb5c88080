// Unit and property tests for the routing strategies over the hierarchy:
// least-loaded (descending), round-robin, weighted, seeded random, and the
// dispatcher that keeps one state object for them all.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareLoad } from '../../src/routing/compare.ts';
import { buildHierarchy, type HierarchyTree, type HierarchyTreeNode } from '../../src/routing/hierarchy.ts';
import { routeLeastLoaded } from '../../src/routing/leastLoaded.ts';
import { routeLeastLoadedTree } from '../../src/routing/leastLoadedTree.ts';
import { createRandom, initialRandomState, routeRandom } from '../../src/routing/random.ts';
import { initialRoundRobinState, ROUND_ROBIN_MAX_CLASSES, routeRoundRobin, taskClassKey, type RoundRobinState } from '../../src/routing/roundRobin.ts';
import { canRun, type AgentView, type NodeView, type RouteDecision, type TaskRequirement } from '../../src/routing/loads.ts';
import { initialRouterState, isStrategyName, route, STRATEGY_NAMES, type RouterState, type StrategyName } from '../../src/routing/strategy.ts';
import { DEFAULT_WEIGHTS, resolveWeights, routeWeighted, scoreCandidates } from '../../src/routing/weighted.ts';
import { agent, agentArb as agentArb_, chosen, capable, liveCapable, liveCap, taskArb as taskArb_ } from '../support/routing.ts';

const NUM_RUNS = 150;

// Small vocabularies so that matches, misses, ties and full nodes are all frequent.
const AGENT_TYPES = ['coder', 'reviewer', 'tester'] as const;
const CAPABILITIES = ['py', 'ts', 'gpu'] as const;
const TASK_TYPES = ['build', 'lint', 'test'] as const;

const agentArb = agentArb_({ types: AGENT_TYPES, capabilities: CAPABILITIES, taskTypes: TASK_TYPES, maxCapacity: 4 });

const nodesArb: fc.Arbitrary<NodeView[]> = fc
  .uniqueArray(
    fc.record({
      seq: fc.integer({ min: 1, max: 40 }),
      agents: fc.array(agentArb, { maxLength: 4 }),
      waiting: fc.integer({ min: 0, max: 30 }),
      active: fc.integer({ min: 0, max: 8 }),
      latencyMs: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
    }),
    { selector: (r) => r.seq, maxLength: 14 },
  )
  .map((rs) =>
    rs.map(({ seq, latencyMs, ...rest }): NodeView => (latencyMs === undefined ? { id: `n${seq}`, ...rest } : { id: `n${seq}`, ...rest, latencyMs })),
  );

const taskArb = taskArb_(TASK_TYPES, AGENT_TYPES, CAPABILITIES);

const optsArb = fc.record({ fanout: fc.integer({ min: 1, max: 4 }), depth: fc.integer({ min: 2, max: 4 }) });
const backlogArb = fc.constantFrom(Infinity, Infinity, 0, 0.5, 1, 2, 4);
const weightsArb = fc.record({
  load: fc.double({ min: 0, max: 1, noNaN: true }),
  latency: fc.double({ min: 0, max: 1, noNaN: true }),
  affinity: fc.double({ min: 0, max: 1, noNaN: true }),
});
const strategyArb = fc.constantFrom(...STRATEGY_NAMES);

/** A router state that has already routed a little: random seed and some cursors. */
const stateArb: fc.Arbitrary<RouterState> = fc
  .tuple(fc.integer(), fc.dictionary(fc.constantFrom(...TASK_TYPES).map((t) => taskClassKey({ type: t })), fc.integer({ min: 0, max: 45 })))
  .map(([seed, cursors]) => ({ ...initialRouterState(seed), roundRobin: { cursors } }));

// --- a small independent model of the spec ---------------------------------------

const full = (n: NodeView, m: number) => m !== Infinity && n.waiting + n.active >= liveCap(n) * m;
const stats = (n: NodeView) => ({ capacity: liveCap(n), waiting: n.waiting, active: n.active });
const seqOf = (id: string) => Number(id.slice(1));

/** The tier a task goes to (live-capable, else capable) and its non-full part. */
function model(nodes: readonly NodeView[], task: TaskRequirement, m: number) {
  const live = nodes.filter((n) => liveCapable(n, task));
  const tier = live.length > 0 ? live : nodes.filter((n) => capable(n, task));
  const eligible = tier.filter((n) => !full(n, m));
  return { tier, eligible };
}


const node = (id: string, waiting = 0, active = 0, agents: AgentView[] = [agent()], latencyMs?: number): NodeView =>
  latencyMs === undefined ? { id, agents, waiting, active } : { id, agents, waiting, active, latencyMs };

/** Routes once with the named strategy (weights only matter to 'weighted'). */
function routeOnce(name: StrategyName, task: TaskRequirement, tree: HierarchyTree, state: RouterState, m: number) {
  return route(name, task, tree, state, { maxBacklogPerSlot: m });
}

// --- every strategy --------------------------------------------------------------

describe('every strategy: properties', () => {
  it('routes iff some agent can run the task, never to an incapable node; errors exactly as routeLeastLoaded', () => {
    fc.assert(
      fc.property(strategyArb, nodesArb, optsArb, taskArb, backlogArb, stateArb, (name, nodes, opts, task, m, state) => {
        const { decision } = routeOnce(name, task, buildHierarchy(nodes, opts), state, m);
        expect(decision.ok).toBe(nodes.some((n) => capable(n, task)));
        if (decision.ok) expect(capable(chosen(nodes, decision), task)).toBe(true);
        else expect(decision).toEqual(routeLeastLoaded(task, nodes));
      }),
      { numRuns: NUM_RUNS * 2 },
    );
  });

  it('prefers a live capable node; within the tier never a full node when a non-full one exists; all full → least loaded', () => {
    fc.assert(
      fc.property(strategyArb, nodesArb, optsArb, taskArb, backlogArb, stateArb, (name, nodes, opts, task, m, state) => {
        const { decision } = routeOnce(name, task, buildHierarchy(nodes, opts), state, m);
        if (!decision.ok) return;
        const c = chosen(nodes, decision);
        if (nodes.some((n) => liveCapable(n, task))) expect(liveCapable(c, task)).toBe(true);
        const { tier, eligible } = model(nodes, task, m);
        expect(tier).toContain(c);
        if (eligible.length > 0) expect(eligible).toContain(c);
        else expect(decision).toEqual(routeLeastLoaded(task, tier));
      }),
      { numRuns: NUM_RUNS * 2 },
    );
  });

  it('is deterministic, does not mutate tree or state, and ignores node order', () => {
    const withShuffle = nodesArb.chain((nodes) => fc.tuple(fc.constant(nodes), fc.shuffledSubarray(nodes, { minLength: nodes.length, maxLength: nodes.length })));
    fc.assert(
      fc.property(strategyArb, withShuffle, optsArb, taskArb, backlogArb, stateArb, (name, [nodes, shuffled], opts, task, m, state) => {
        const tree = buildHierarchy(nodes, opts);
        const treeBefore = structuredClone(tree);
        const stateBefore = structuredClone(state);
        const r1 = routeOnce(name, task, tree, state, m);
        expect(tree).toEqual(treeBefore);
        expect(state).toEqual(stateBefore);
        expect(routeOnce(name, task, tree, state, m)).toEqual(r1);
        expect(routeOnce(name, task, buildHierarchy(shuffled, opts), state, m)).toEqual(r1);
        // The state is plain JSON: a stored and reloaded state behaves the same.
        expect(routeOnce(name, task, tree, JSON.parse(JSON.stringify(state)) as RouterState, m)).toEqual(r1);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('an error or a stateless strategy hands back the very same state object', () => {
    fc.assert(
      fc.property(strategyArb, nodesArb, optsArb, taskArb, stateArb, (name, nodes, opts, task, state) => {
        const r = routeOnce(name, task, buildHierarchy(nodes, opts), state, Infinity);
        if (!r.decision.ok || name === 'least-loaded' || name === 'weighted') expect(r.state).toBe(state);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('dispatcher', () => {
  it('knows its strategy names', () => {
    expect(STRATEGY_NAMES).toEqual(['least-loaded', 'round-robin', 'weighted', 'random']);
    for (const n of STRATEGY_NAMES) expect(isStrategyName(n)).toBe(true);
    expect(isStrategyName('fastest')).toBe(false);
  });

  it('delegates to each strategy with the matching part of the state', () => {
    const tree = buildHierarchy([node('n1', 3), node('n2', 1), node('n3', 2)], { fanout: 2 });
    const task = { type: 'build' };
    const s0 = initialRouterState(7);
    expect(route('least-loaded', task, tree, s0).decision).toEqual(routeLeastLoadedTree(task, tree));
    expect(route('weighted', task, tree, s0, { weights: { load: 1, latency: 0, affinity: 0 } }).decision).toEqual({ ok: true, node: 'n2' });
    const rr = route('round-robin', task, tree, s0);
    expect(rr).toEqual({ ...routeRoundRobin(task, tree, s0.roundRobin), state: { ...s0, roundRobin: routeRoundRobin(task, tree, s0.roundRobin).state } });
    expect(rr.state.random).toBe(s0.random);
    const rnd = route('random', task, tree, s0);
    expect(rnd.decision).toEqual(routeRandom(task, tree, s0.random).decision);
    expect(rnd.state.roundRobin).toBe(s0.roundRobin);
    expect(() => route('fastest' as StrategyName, task, tree, s0)).toThrow(/unknown routing strategy/);
  });
});

// --- least-loaded, descending ----------------------------------------------------

describe('least-loaded over the tree', () => {
  it('with depth 2 and no backlog limit it is exactly routeLeastLoaded', () => {
    fc.assert(
      fc.property(nodesArb, fc.integer({ min: 1, max: 5 }), taskArb, (nodes, fanout, task) => {
        expect(routeLeastLoadedTree(task, buildHierarchy(nodes, { fanout, depth: 2 }))).toEqual(routeLeastLoaded(task, nodes));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('at every level takes the child whose eligible nodes are least loaded (ties to the lower id)', () => {
    fc.assert(
      fc.property(nodesArb, optsArb, taskArb, backlogArb, (nodes, opts, task, m) => {
        const tree = buildHierarchy(nodes, opts);
        const d = routeLeastLoadedTree(task, tree, { maxBacklogPerSlot: m });
        const { eligible } = model(nodes, task, m);
        if (!d.ok || eligible.length === 0) return;
        const eligibleIn = (t: HierarchyTreeNode) => eligible.filter((n) => t.nodeIds.includes(n.id));
        const sum = (ns: NodeView[]) => ns.reduce((a, n) => ({ capacity: a.capacity + liveCap(n), waiting: a.waiting + n.waiting, active: a.active + n.active }), { capacity: 0, waiting: 0, active: 0 });
        let at: HierarchyTreeNode = tree.root;
        while (at.kind !== 'node') {
          const next: HierarchyTreeNode | undefined = at.children.find((c) => c.nodeIds.includes(d.node));
          expect(next).toBeDefined();
          for (const sib of at.children) {
            if (sib === next || eligibleIn(sib).length === 0) continue;
            const cmp = compareLoad(sum(eligibleIn(sib)), sum(eligibleIn(next!)));
            expect(cmp >= 0, `sibling ${sib.id} is less loaded than ${next!.id}`).toBe(true);
            if (cmp === 0) expect(sib.id > next!.id).toBe(true);
          }
          at = next!;
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('adding load to a node that was not chosen never makes it chosen', () => {
    fc.assert(
      fc.property(nodesArb, optsArb, taskArb, backlogArb, fc.nat({ max: 200 }), fc.nat(), (nodes, opts, task, m, extra, pick) => {
        const d = routeLeastLoadedTree(task, buildHierarchy(nodes, opts), { maxBacklogPerSlot: m });
        if (!d.ok || nodes.length < 2) return;
        const others = nodes.filter((n) => n.id !== d.node);
        const target = others[pick % others.length]!;
        const heavier = nodes.map((n) => (n === target ? { ...n, waiting: n.waiting + extra } : n));
        const d2 = routeLeastLoadedTree(task, buildHierarchy(heavier, opts), { maxBacklogPerSlot: m });
        expect(d2.ok && d2.node).not.toBe(target.id);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('descends by group: the less loaded group wins even if the other holds the single idlest node', () => {
    // g1 = {n1: 0, n2: 10} → 10 / 2 = 5; g2 = {n3: 2, n4: 2} → 4 / 2 = 2
    const tree = buildHierarchy([node('n1', 0), node('n2', 10), node('n3', 2), node('n4', 2)], { fanout: 2 });
    expect(routeLeastLoadedTree({ type: 'build' }, tree)).toEqual({ ok: true, node: 'n3' });
    expect(routeLeastLoadedTree({ type: 'build' }, buildHierarchy(tree.leaves.map((l) => l.view), { fanout: 2, depth: 2 }))).toEqual({ ok: true, node: 'n1' });
  });

  it('weighs a group only by the nodes that can take the task', () => {
    // For a gpu task only n2 (g1) and n3 (g2) count: g1 → 5, g2 → 3, though g1 is idler overall.
    const gpu = agent({ capabilities: ['gpu'] });
    const nodes = [node('n1', 0), node('n2', 5, 0, [gpu]), node('n3', 3, 0, [gpu]), node('n4', 20)];
    expect(routeLeastLoadedTree({ type: 'build', affinity: { capabilities: ['gpu'] } }, buildHierarchy(nodes, { fanout: 2 }))).toEqual({ ok: true, node: 'n3' });
  });

  it('skips full nodes, and with all full picks the least loaded', () => {
    const nodes = [node('n1', 0, 2), node('n2', 1), node('n3', 5)];
    const tree = buildHierarchy(nodes, { fanout: 10 });
    expect(routeLeastLoadedTree({ type: 'build' }, tree, { maxBacklogPerSlot: 2 })).toEqual({ ok: true, node: 'n2' });
    expect(routeLeastLoadedTree({ type: 'build' }, tree, { maxBacklogPerSlot: 1 })).toEqual({ ok: true, node: 'n2' });
    expect(routeLeastLoadedTree({ type: 'build' }, tree, { maxBacklogPerSlot: 0 })).toEqual({ ok: true, node: 'n2' });
  });

  it('a live capable node wins over an idle node whose capable agents are down, full or not', () => {
    const nodes = [node('n1', 0, 0, [agent({ live: false })]), node('n2', 50, 0)];
    for (const m of [Infinity, 1]) expect(routeLeastLoadedTree({ type: 'build' }, buildHierarchy(nodes), { maxBacklogPerSlot: m })).toEqual({ ok: true, node: 'n2' });
  });
});

// --- round-robin -----------------------------------------------------------------

describe('round-robin', () => {
  it('over any k·E routings of one task class, each of the E eligible nodes is chosen exactly k times, in seq order', () => {
    fc.assert(
      fc.property(nodesArb, optsArb, taskArb, backlogArb, stateArb, fc.integer({ min: 1, max: 3 }), (nodes, opts, task, m, start, k) => {
        const tree = buildHierarchy(nodes, opts);
        const { eligible } = model(nodes, task, m);
        if (eligible.length === 0) return;
        let state: RoundRobinState = start.roundRobin;
        const picks: string[] = [];
        for (let i = 0; i < k * eligible.length; i++) {
          const r = routeRoundRobin(task, tree, state, { maxBacklogPerSlot: m });
          state = r.state;
          picks.push(chosen(nodes, r.decision).id);
        }
        const counts = new Map<string, number>();
        for (const p of picks) counts.set(p, (counts.get(p) ?? 0) + 1);
        expect([...counts.keys()].sort()).toEqual(eligible.map((n) => n.id).sort());
        for (const c of counts.values()) expect(c).toBe(k);
        // Consecutive picks go up in seq, wrapping exactly once per cycle.
        const seqs = picks.map(seqOf);
        const wraps = seqs.slice(1).filter((s, i) => s <= seqs[i]!).length;
        expect(wraps).toBeLessThanOrEqual(k);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('other task classes routed in between do not disturb a class’s cycle', () => {
    fc.assert(
      fc.property(nodesArb, optsArb, fc.array(fc.constantFrom(...TASK_TYPES), { minLength: 1, maxLength: 40 }), (nodes, opts, types) => {
        const tree = buildHierarchy(nodes, opts);
        let mixed = initialRoundRobinState();
        const perType = new Map<string, string[]>();
        for (const type of types) {
          const r = routeRoundRobin({ type }, tree, mixed);
          mixed = r.state;
          if (r.decision.ok) perType.set(type, [...(perType.get(type) ?? []), r.decision.node]);
        }
        for (const [type, got] of perType) {
          let alone = initialRoundRobinState();
          const expected: string[] = [];
          for (let i = 0; i < got.length; i++) {
            const r = routeRoundRobin({ type }, tree, alone);
            alone = r.state;
            expected.push(chosen(nodes, r.decision).id);
          }
          expect(got).toEqual(expected);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('keeps its place when nodes join or leave', () => {
    const task = { type: 'build' };
    let state = initialRoundRobinState();
    const go = (nodes: NodeView[]) => {
      const r = routeRoundRobin(task, buildHierarchy(nodes, { fanout: 2 }), state);
      state = r.state;
      return r.decision.ok ? r.decision.node : r.decision.code;
    };
    const three = [node('n1'), node('n2'), node('n3')];
    expect([go(three), go(three)]).toEqual(['n1', 'n2']);
    // n1 leaves, n7 joins: the cycle goes on after n2, taking the newcomer in its turn.
    const grown = [node('n2'), node('n3'), node('n7')];
    expect([go(grown), go(grown), go(grown), go(grown)]).toEqual(['n3', 'n7', 'n2', 'n3']);
    expect(state.cursors).toEqual({ [taskClassKey(task)]: 3 });
  });

  it('the class key ignores capability order and duplicates', () => {
    expect(taskClassKey({ type: 'b', affinity: { capabilities: ['ts', 'py', 'ts'] } })).toBe(taskClassKey({ type: 'b', affinity: { capabilities: ['py', 'ts'] } }));
    expect(taskClassKey({ type: 'b' })).toBe(taskClassKey({ type: 'b', affinity: {} }));
    expect(taskClassKey({ type: 'b', affinity: { agentType: 'x' } })).not.toBe(taskClassKey({ type: 'b' }));
  });

  it(`remembers at most ${ROUND_ROBIN_MAX_CLASSES} task classes, forgetting the least recently routed`, () => {
    const types = Array.from({ length: ROUND_ROBIN_MAX_CLASSES + 50 }, (_, i) => `t${i}`);
    const tree = buildHierarchy([node('n1', 0, 0, [agent({ taskTypes: types })]), node('n2', 0, 0, [agent({ taskTypes: types })])]);
    let state = initialRoundRobinState();
    for (const type of types) state = routeRoundRobin({ type }, tree, state).state;
    const keys = Object.keys(state.cursors);
    expect(keys).toHaveLength(ROUND_ROBIN_MAX_CLASSES);
    expect(keys).not.toContain(taskClassKey({ type: 't0' }));
    expect(keys.at(-1)).toBe(taskClassKey({ type: types.at(-1)! }));
  });

  it('all full: the least loaded, and the cursor stays put', () => {
    const tree = buildHierarchy([node('n1', 4), node('n2', 2), node('n3', 3)]);
    const s0: RoundRobinState = { cursors: { [taskClassKey({ type: 'build' })]: 1 } };
    const r = routeRoundRobin({ type: 'build' }, tree, s0, { maxBacklogPerSlot: 1 });
    expect(r).toEqual({ decision: { ok: true, node: 'n2' }, state: s0 });
    expect(r.state).toBe(s0);
  });
});

// --- weighted --------------------------------------------------------------------

describe('weighted', () => {
  it('load only: a least-loaded eligible node (ties to the lower id)', () => {
    fc.assert(
      fc.property(nodesArb, optsArb, taskArb, backlogArb, (nodes, opts, task, m) => {
        const d = routeWeighted(task, buildHierarchy(nodes, opts), { maxBacklogPerSlot: m, weights: { load: 1, latency: 0, affinity: 0 } });
        const { eligible } = model(nodes, task, m);
        if (eligible.length === 0) return;
        const best = [...eligible].sort((a, b) => compareLoad(stats(a), stats(b)) || (a.id < b.id ? -1 : 1))[0]!;
        expect(d).toEqual({ ok: true, node: best.id });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('latency only: the lowest latency (unmeasured counts as the mean of the measured)', () => {
    fc.assert(
      fc.property(nodesArb, optsArb, taskArb, backlogArb, (nodes, opts, task, m) => {
        const d = routeWeighted(task, buildHierarchy(nodes, opts), { maxBacklogPerSlot: m, weights: { load: 0, latency: 1, affinity: 0 } });
        const { eligible } = model(nodes, task, m);
        if (eligible.length === 0) return;
        const known = eligible.flatMap((n) => (n.latencyMs === undefined ? [] : [n.latencyMs]));
        const mean = known.length ? known.reduce((a, b) => a + b, 0) / known.length : 0;
        const lat = (n: NodeView) => n.latencyMs ?? mean;
        const best = [...eligible].sort((a, b) => lat(a) - lat(b) || (a.id < b.id ? -1 : 1))[0]!;
        expect(lat(chosen(nodes, d))).toBe(lat(best));
        if (known.length === eligible.length) expect(d).toEqual({ ok: true, node: best.id });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('affinity only: the largest share of live agents able to run the task', () => {
    fc.assert(
      fc.property(nodesArb, optsArb, taskArb, backlogArb, (nodes, opts, task, m) => {
        const d = routeWeighted(task, buildHierarchy(nodes, opts), { maxBacklogPerSlot: m, weights: { load: 0, latency: 0, affinity: 1 } });
        const { eligible } = model(nodes, task, m);
        if (eligible.length === 0) return;
        const share = (n: NodeView) => {
          const live = n.agents.filter((a) => a.live);
          return live.length ? live.filter((a) => canRun(a, task)).length / live.length : 0;
        };
        const c = chosen(nodes, d);
        for (const n of eligible) expect(share(n)).toBeLessThanOrEqual(share(c));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('picks the eligible node of lowest score per scoreCandidates, ties to the lower id', () => {
    fc.assert(
      fc.property(nodesArb, optsArb, taskArb, backlogArb, weightsArb, (nodes, opts, task, m, weights) => {
        const tree = buildHierarchy(nodes, opts);
        const d = routeWeighted(task, tree, { maxBacklogPerSlot: m, weights });
        const { eligible } = model(nodes, task, m);
        if (eligible.length === 0) return;
        const leaves = tree.leaves.filter((l) => eligible.some((n) => n.id === l.id));
        const scores = scoreCandidates(task, leaves, resolveWeights(weights));
        const best = [...scores].sort((a, b) => a.score - b.score || (a.node < b.node ? -1 : 1))[0]!;
        expect(d).toEqual({ ok: true, node: best.node });
        for (const s of scores) {
          for (const v of [s.load, s.latency, s.affinity]) expect(v >= 0 && v <= 1).toBe(true);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('adding load to a node that was not chosen never makes it chosen, whatever the weights', () => {
    fc.assert(
      fc.property(nodesArb, optsArb, taskArb, backlogArb, weightsArb, fc.nat({ max: 200 }), fc.nat(), (nodes, opts, task, m, weights, extra, pick) => {
        const ctx = { maxBacklogPerSlot: m, weights };
        const d = routeWeighted(task, buildHierarchy(nodes, opts), ctx);
        if (!d.ok || nodes.length < 2) return;
        const others = nodes.filter((n) => n.id !== d.node);
        const target = others[pick % others.length]!;
        const heavier = nodes.map((n) => (n === target ? { ...n, active: n.active + extra } : n));
        const d2 = routeWeighted(task, buildHierarchy(heavier, opts), ctx);
        expect(d2.ok && d2.node).not.toBe(target.id);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('scores by the documented formula', () => {
    const coder = agent({ type: 'coder' });
    const tester = agent({ id: 'a2', type: 'tester' });
    const tree = buildHierarchy([
      node('n1', 4, 0, [coder, tester], 100), // load 2, latency 100, affinity 1/2
      node('n2', 1, 0, [coder], 50), //          load 1, latency 50, affinity 1
      node('n3', 0, 0, [coder, agent({ id: 'a3', live: false })]), // load 0, latency mean 75, affinity 1 (of live agents)
    ]);
    const task = { type: 'build', affinity: { agentType: 'coder' } };
    const w = DEFAULT_WEIGHTS;
    expect(scoreCandidates(task, tree.leaves, w)).toEqual([
      { node: 'n1', load: 1, latency: 1, affinity: 0.5, score: w.load * 1 + w.latency * 1 + w.affinity * 0.5 },
      { node: 'n2', load: 0.5, latency: 0.5, affinity: 1, score: w.load * 0.5 + w.latency * 0.5 },
      { node: 'n3', load: 0, latency: 0.75, affinity: 1, score: w.latency * 0.75 },
    ]);
    expect(routeWeighted(task, tree)).toEqual({ ok: true, node: 'n3' });
    expect(routeWeighted(task, tree, { weights: { load: 0, latency: 1, affinity: 0 } })).toEqual({ ok: true, node: 'n2' });
  });

  it('all weights zero: the lowest id; bad weights throw', () => {
    const tree = buildHierarchy([node('n2', 0), node('n1', 9), node('n3', 0)]);
    expect(routeWeighted({ type: 'build' }, tree, { weights: { load: 0, latency: 0, affinity: 0 } })).toEqual({ ok: true, node: 'n1' });
    expect(resolveWeights()).toEqual({ load: 0.6, latency: 0.3, affinity: 0.1 });
    expect(resolveWeights({ latency: 0 })).toEqual({ load: 0.6, latency: 0, affinity: 0.1 });
    for (const bad of [-1, Number.NaN, Infinity]) expect(() => routeWeighted({ type: 'build' }, tree, { weights: { load: bad } })).toThrow(RangeError);
  });
});

// --- seeded random ---------------------------------------------------------------

describe('seeded random', () => {
  it('createRandom: the same seed replays, different seeds differ, values in range, state resumes', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer(), fc.integer({ min: 1, max: 1000 }), (s1, s2, n) => {
        const a = createRandom(s1);
        const b = createRandom(s1);
        const xs = Array.from({ length: 16 }, () => a.next());
        expect(Array.from({ length: 16 }, () => b.next())).toEqual(xs);
        for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
        const ints = Array.from({ length: 16 }, () => a.int(n));
        for (const i of ints) expect(Number.isInteger(i) && i >= 0 && i < n).toBe(true);
        const resumed = createRandom(a.state());
        expect(Array.from({ length: 8 }, () => resumed.next())).toEqual(Array.from({ length: 8 }, () => a.next()));
        if (s1 !== s2) {
          const c = createRandom(s2);
          expect(Array.from({ length: 16 }, () => c.next())).not.toEqual(xs);
        }
      }),
      { numRuns: NUM_RUNS },
    );
    expect(() => createRandom(1).int(0)).toThrow(RangeError);
  });

  it('routeRandom replays exactly for the same seed, and differs across seeds', () => {
    fc.assert(
      fc.property(nodesArb, optsArb, taskArb, fc.integer(), fc.integer(), (nodes, opts, task, seed1, seed2) => {
        const tree = buildHierarchy(nodes, opts);
        const run = (seed: number) => {
          let state = initialRandomState(seed);
          const picks: RouteDecision[] = [];
          for (let i = 0; i < 40; i++) {
            const r = routeRandom(task, tree, state);
            state = r.state;
            picks.push(r.decision);
          }
          return picks;
        };
        const first = run(seed1);
        expect(run(seed1)).toEqual(first);
        // With two or more eligible nodes, 40 draws from different seeds agree with odds ≤ 2^-40.
        if (seed1 !== seed2 && model(nodes, task, Infinity).eligible.length >= 2) expect(run(seed2)).not.toEqual(first);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('is roughly uniform over the eligible nodes, whatever the group sizes', () => {
    // Groups of 3: g1 = {n1, n2, n3}, g2 = {n4}, g4 = {n10, n11}; n5 cannot run the task.
    const nodes = [node('n1'), node('n2'), node('n3'), node('n4'), node('n5', 0, 0, [agent({ taskTypes: ['lint'] })]), node('n10'), node('n11')];
    const tree = buildHierarchy(nodes, { fanout: 3 });
    for (const seed of [1, 2, 3]) {
      let state = initialRandomState(seed);
      const counts = new Map<string, number>();
      const draws = 12_000;
      for (let i = 0; i < draws; i++) {
        const r = routeRandom({ type: 'build' }, tree, state);
        state = r.state;
        const id = chosen(nodes, r.decision).id;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      expect([...counts.keys()].sort()).toEqual(['n1', 'n10', 'n11', 'n2', 'n3', 'n4']);
      const expected = draws / 6;
      const chi2 = [...counts.values()].reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
      // 5 degrees of freedom: P(χ² > 30) ≈ 1.5e-5, so this only fails for a biased pick.
      expect(chi2).toBeLessThan(30);
    }
  });

  it('all full: the least loaded, drawing nothing', () => {
    const tree = buildHierarchy([node('n1', 4), node('n2', 2), node('n3', 3)]);
    const s0 = initialRandomState(5);
    const r = routeRandom({ type: 'build' }, tree, s0, { maxBacklogPerSlot: 1 });
    expect(r.decision).toEqual({ ok: true, node: 'n2' });
    expect(r.state).toBe(s0);
  });
});
