// Which leaves can run a kind of task is worked out once per tree (a memo), and
// a tree whose every leaf is eligible is descended on its own figures: a router
// counting its routings into the tree between snapshots must still decide
// exactly as it would on a tree built afresh from the counted loads.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RoutingTable } from '../../src/coordinator/routingTable.ts';
import { buildHierarchy } from '../../src/routing/hierarchy.ts';
import type { NodeView, TaskRequirement } from '../../src/routing/loads.ts';
import { initialRouterState, route, STRATEGY_NAMES } from '../../src/routing/strategy.ts';
import { agentArb, taskArb } from '../support/routing.ts';

const names = { types: ['coder', 'tester'], capabilities: ['gpu', 'net'], taskTypes: ['build', 'test'], maxCapacity: 3 };

const fleetArb = fc
  .array(fc.record({ agents: fc.array(agentArb(names), { minLength: 0, maxLength: 4 }), waiting: fc.nat(6), active: fc.nat(3) }), { minLength: 1, maxLength: 40 })
  .map((nodes): NodeView[] => nodes.map((n, i) => ({ id: `n${i + 1}`, agents: n.agents.map((a, j) => ({ ...a, id: `a${i + 1}-${j}` })), waiting: n.waiting, active: n.active })));

describe('routing on a memoized tree', () => {
  it.each(STRATEGY_NAMES)('%s: every decision is the one a tree built afresh from the counted loads gives', (strategy) => {
    fc.assert(
      fc.property(fleetArb, fc.array(taskArb(names.taskTypes, names.types, names.capabilities), { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 4 }), (nodes, tasks, fanout) => {
        const shape = { fanout, depth: 3 };
        const table = new RoutingTable(shape, 7);
        table.load(nodes);
        // The reference: the same loads, counted by hand, in a tree built for each decision.
        const loads = new Map(nodes.map((n) => [n.id, n.waiting]));
        let state = initialRouterState(7);
        for (const task of tasks as TaskRequirement[]) {
          const fresh = buildHierarchy(nodes.map((n) => ({ ...n, waiting: loads.get(n.id)! })), shape);
          const expected = route(strategy, task, fresh, state);
          state = expected.state;
          const got = table.decide(task, strategy);
          expect(got).toEqual(expected.decision);
          if (got.ok) loads.set(got.node, loads.get(got.node)! + 1);
        }
      }),
      { numRuns: 150 },
    );
  });

  it.each(STRATEGY_NAMES)('%s: after reload with new loads, decisions are those of a tree built from them', (strategy) => {
    fc.assert(
      fc.property(fleetArb, fc.array(fc.tuple(fc.nat(9), fc.nat(4)), { minLength: 40, maxLength: 40 }), taskArb(names.taskTypes, names.types, names.capabilities), (nodes, fresh, task) => {
        const shape = { fanout: 3, depth: 3 };
        const table = new RoutingTable(shape, 11);
        table.load(nodes);
        table.decide(task, strategy); // counts one in, which the reload replaces
        const loads = new Map(nodes.map((n, i) => [n.id, { waiting: fresh[i]![0], active: fresh[i]![1] }]));
        table.reload((id) => loads.get(id));
        const rebuilt = buildHierarchy(nodes.map((n) => ({ ...n, ...loads.get(n.id)! })), shape);
        const expected = route(strategy, task, rebuilt, initialRouterState(11));
        // Every figure of the tree is the rebuilt one's.
        const figures = (t: typeof rebuilt) => t.leaves.map((l) => [l.id, l.waiting, l.active, l.load]);
        expect(figures(table.hierarchy)).toEqual(figures(rebuilt));
        expect([table.hierarchy.root.waiting, table.hierarchy.root.active, table.hierarchy.root.load]).toEqual([rebuilt.root.waiting, rebuilt.root.active, rebuilt.root.load]);
        // Stateless strategies decide as on the rebuilt tree (stateful ones moved on with the decision before the reload).
        if (strategy === 'least-loaded' || strategy === 'weighted') expect(table.decide(task, strategy)).toEqual(expected.decision);
      }),
      { numRuns: 150 },
    );
  });
});
