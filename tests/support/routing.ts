// Small builders and checks shared by the routing tests.
import fc from 'fast-check';
import { canRun, type AgentView, type NodeView, type RouteDecision, type TaskRequirement } from '../../src/routing/loads.ts';

export const agent = (over: Partial<AgentView> = {}): AgentView => ({
  id: 'a1',
  type: 'coder',
  capabilities: [],
  taskTypes: ['build'],
  capacity: 1,
  live: true,
  ...over,
});

export const liveCap = (n: NodeView): number => n.agents.reduce((s, a) => s + (a.live ? a.capacity : 0), 0);
export const capable = (n: NodeView, t: TaskRequirement): boolean => n.agents.some((a) => canRun(a, t));
export const liveCapable = (n: NodeView, t: TaskRequirement): boolean => n.agents.some((a) => a.live && canRun(a, t));

/** The node a decision names, failing loudly when it names none or one not in the snapshot. */
export function chosen(nodes: readonly NodeView[], d: RouteDecision): NodeView {
  if (!d.ok) throw new Error(`expected a node, got ${d.code}: ${d.message}`);
  const n = nodes.find((x) => x.id === d.node);
  if (!n) throw new Error(`routed to ${d.node}, which is not in the snapshot`);
  return n;
}

/** Random tasks over these names, including a type no agent knows and affinities that may exclude everyone. */
export function taskArb(taskTypes: readonly string[], agentTypes: readonly string[], capabilities: readonly string[]): fc.Arbitrary<TaskRequirement> {
  return fc.record({
    type: fc.constantFrom(...taskTypes, 'unheard-of'),
    affinity: fc.option(
      fc.record(
        {
          agentType: fc.option(fc.constantFrom(...agentTypes), { nil: undefined }),
          capabilities: fc.option(fc.subarray([...capabilities], { maxLength: 2 }), { nil: undefined }),
        },
        { requiredKeys: [] },
      ),
      { nil: undefined },
    ),
  });
}

/**
 * Random agents over these names. Capacity starts at 0, which is not a valid
 * record capacity but which a snapshot may still carry: routers must not divide by it.
 */
export function agentArb(names: { types: readonly string[]; capabilities: readonly string[]; taskTypes: readonly string[]; maxCapacity: number }): fc.Arbitrary<AgentView> {
  return fc.record({
    id: fc.stringMatching(/^a[0-9]{1,3}$/),
    type: fc.constantFrom(...names.types),
    capabilities: fc.subarray([...names.capabilities]),
    taskTypes: fc.subarray([...names.taskTypes]),
    capacity: fc.integer({ min: 0, max: names.maxCapacity }),
    live: fc.boolean(),
  });
}
