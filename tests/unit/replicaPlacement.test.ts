// Where a replicated task's replicas go: distinct live agents able to run it,
// spread over nodes (least loaded first), or how many there are when too few.
import { describe, expect, it } from 'vitest';
import { chooseReplicaAgents } from '../../src/coordinator/submitReplicated.ts';
import type { AgentView, NodeView } from '../../src/routing/loads.ts';

const agent = (id: string, extra: Partial<AgentView> = {}): AgentView => ({ id, type: 'worker', capabilities: [], taskTypes: ['echo'], capacity: 1, live: true, ...extra });
const node = (id: string, agents: AgentView[], waiting = 0): NodeView => ({ id, agents, waiting, active: 0 });

describe('chooseReplicaAgents', () => {
  it('picks distinct agents, one per node per pass, least loaded node first', () => {
    const nodes = [node('n1', [agent('a1'), agent('a2'), agent('a3')], 9), node('n2', [agent('b1'), agent('b2')], 0)];
    const r = chooseReplicaAgents(nodes, { type: 'echo' }, 4);
    expect(r).toEqual({
      picks: [
        { agent: 'b1', node: 'n2' },
        { agent: 'a1', node: 'n1' },
        { agent: 'b2', node: 'n2' },
        { agent: 'a2', node: 'n1' },
      ],
    });
  });

  it('counts only live agents that can run the task (type, affinity)', () => {
    const nodes = [node('n1', [agent('a1'), agent('a2', { live: false }), agent('a3', { taskTypes: ['other'] }), agent('a4', { type: 'critic' })])];
    expect(chooseReplicaAgents(nodes, { type: 'echo' }, 3)).toEqual({ available: 2 });
    expect(chooseReplicaAgents(nodes, { type: 'echo', affinity: { agentType: 'critic' } }, 2)).toEqual({ available: 1 });
    expect(chooseReplicaAgents(nodes, { type: 'echo' }, 2)).toEqual({ picks: [{ agent: 'a1', node: 'n1' }, { agent: 'a4', node: 'n1' }] });
  });
});
