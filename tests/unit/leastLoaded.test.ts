// Unit and property tests for least-loaded routing (src/routing/leastLoaded.ts)
// and the capability check it rests on (src/routing/loads.ts).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { routeLeastLoaded } from '../../src/routing/leastLoaded.ts';
import { canRun, type AgentView, type NodeView, type RouteDecision, type TaskRequirement } from '../../src/routing/loads.ts';
import { agent, agentArb as agentArb_, chosen, capable, liveCapable, taskArb as taskArb_ } from '../support/routing.ts';

const NUM_RUNS = 300;

// Small vocabularies so that matches, misses and ties are all frequent.
const AGENT_TYPES = ['coder', 'reviewer', 'tester'] as const;
const CAPABILITIES = ['py', 'ts', 'go', 'gpu'] as const;
const TASK_TYPES = ['build', 'lint', 'test', 'deploy'] as const;

const agentArb = agentArb_({ types: AGENT_TYPES, capabilities: CAPABILITIES, taskTypes: TASK_TYPES, maxCapacity: 5 });

const nodeArb: fc.Arbitrary<NodeView> = fc.record({
  id: fc.stringMatching(/^n[0-9]{1,2}$/),
  agents: fc.array(agentArb, { maxLength: 4 }),
  waiting: fc.integer({ min: 0, max: 40 }),
  active: fc.integer({ min: 0, max: 12 }),
});

const nodesArb: fc.Arbitrary<NodeView[]> = fc.uniqueArray(nodeArb, { selector: (n) => n.id, maxLength: 8 });

const taskArb = taskArb_(TASK_TYPES, AGENT_TYPES, CAPABILITIES);

/** Snapshot plus a permutation of it, to check order independence. */
const nodesAndShuffleArb = nodesArb.chain((nodes) =>
  fc.tuple(fc.constant(nodes), fc.shuffledSubarray(nodes, { minLength: nodes.length, maxLength: nodes.length })),
);

// --- a small independent model of the spec -------------------------------------

function liveCap(n: NodeView): number {
  return n.agents.reduce((s, a) => s + (a.live ? a.capacity : 0), 0);
}

/** load(n) as an exact fraction: (waiting + active) / max(1, live capacity). */
function loadFrac(n: NodeView): [number, number] {
  return [n.waiting + n.active, Math.max(1, liveCap(n))];
}

/** -1, 0, 1 comparing load(a) with load(b), by cross multiplication (no floating point). */
function cmpLoad(a: NodeView, b: NodeView): number {
  const [an, ad] = loadFrac(a);
  const [bn, bd] = loadFrac(b);
  return Math.sign(an * bd - bn * ad);
}




const node = (id: string, agents: AgentView[], waiting = 0, active = 0): NodeView => ({ id, agents, waiting, active });

// --- canRun ----------------------------------------------------------------------

describe('canRun', () => {
  it('needs the task type listed', () => {
    expect(canRun(agent({ taskTypes: ['build'] }), { type: 'build' })).toBe(true);
    expect(canRun(agent({ taskTypes: ['lint'] }), { type: 'build' })).toBe(false);
    expect(canRun(agent({ taskTypes: [] }), { type: 'build' })).toBe(false);
  });

  it('honours agentType affinity', () => {
    expect(canRun(agent({ type: 'coder' }), { type: 'build', affinity: { agentType: 'coder' } })).toBe(true);
    expect(canRun(agent({ type: 'coder' }), { type: 'build', affinity: { agentType: 'tester' } })).toBe(false);
    expect(canRun(agent({ type: 'coder' }), { type: 'build', affinity: { agentType: undefined } })).toBe(true);
  });

  it('needs every required capability, and ignores extra ones', () => {
    const a = agent({ capabilities: ['py', 'gpu', 'ts'] });
    expect(canRun(a, { type: 'build', affinity: { capabilities: ['py', 'gpu'] } })).toBe(true);
    expect(canRun(a, { type: 'build', affinity: { capabilities: [] } })).toBe(true);
    expect(canRun(a, { type: 'build', affinity: { capabilities: ['py', 'go'] } })).toBe(false);
    expect(canRun(agent({ capabilities: [] }), { type: 'build', affinity: { capabilities: ['py'] } })).toBe(false);
  });

  it('ignores liveness (routing, not canRun, weighs it)', () => {
    expect(canRun(agent({ live: false }), { type: 'build' })).toBe(true);
  });

  it('matches its definition on random agents and tasks', () => {
    fc.assert(
      fc.property(agentArb, taskArb, (a, t) => {
        const expected =
          a.taskTypes.includes(t.type) &&
          (t.affinity?.agentType === undefined || t.affinity.agentType === a.type) &&
          (t.affinity?.capabilities ?? []).every((c) => a.capabilities.includes(c));
        expect(canRun(a, t)).toBe(expected);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

// --- routeLeastLoaded: hand-written cases ----------------------------------------

describe('routeLeastLoaded: examples', () => {
  it('an empty snapshot knows no task type', () => {
    const d = routeLeastLoaded({ type: 'build' }, []);
    expect(d).toMatchObject({ ok: false, code: 'unknown_task_type' });
    if (!d.ok) expect(d.message).toContain('"build"');
  });

  it('nodes without agents know no task type', () => {
    expect(routeLeastLoaded({ type: 'build' }, [node('n1', [], 3, 1)])).toMatchObject({ ok: false, code: 'unknown_task_type' });
  });

  it('a single capable node is chosen, whatever its load', () => {
    expect(routeLeastLoaded({ type: 'build' }, [node('n1', [agent()], 1000, 50)])).toEqual({ ok: true, node: 'n1' });
  });

  it('a single node whose agents run other types: unknown type', () => {
    expect(routeLeastLoaded({ type: 'deploy' }, [node('n1', [agent({ taskTypes: ['build'] })])])).toMatchObject({
      ok: false,
      code: 'unknown_task_type',
    });
  });

  it('known type, excluded by agentType: no_capable_agent, naming the affinity', () => {
    const d = routeLeastLoaded({ type: 'build', affinity: { agentType: 'tester' } }, [node('n1', [agent({ type: 'coder' })])]);
    expect(d).toMatchObject({ ok: false, code: 'no_capable_agent' });
    if (!d.ok) {
      expect(d.message).toContain('"build"');
      expect(d.message).toContain('tester');
    }
  });

  it('known type, excluded by capabilities: no_capable_agent', () => {
    const d = routeLeastLoaded({ type: 'build', affinity: { capabilities: ['gpu'] } }, [
      node('n1', [agent({ capabilities: ['py'] })]),
      node('n2', [agent({ type: 'tester', capabilities: ['ts'] })]),
    ]);
    expect(d).toMatchObject({ ok: false, code: 'no_capable_agent' });
  });

  it('picks the node with the lowest load per unit of live capacity', () => {
    // n1: 4 / 1 = 4; n2: 6 / 3 = 2; n3: 5 / 2 = 2.5
    const nodes = [
      node('n1', [agent({ capacity: 1 })], 4, 0),
      node('n2', [agent({ capacity: 2 }), agent({ id: 'a2', capacity: 1 })], 3, 3),
      node('n3', [agent({ capacity: 2 })], 5, 0),
    ];
    expect(routeLeastLoaded({ type: 'build' }, nodes)).toEqual({ ok: true, node: 'n2' });
  });

  it('counts active as well as waiting', () => {
    const nodes = [node('n1', [agent()], 0, 5), node('n2', [agent()], 3, 0)];
    expect(routeLeastLoaded({ type: 'build' }, nodes)).toEqual({ ok: true, node: 'n2' });
  });

  it('only live agents count toward capacity', () => {
    // n1: 6 / 1 (its capacity-5 agent is down) = 6; n2: 4 / 1 = 4
    const nodes = [
      node('n1', [agent({ capacity: 1 }), agent({ id: 'a2', capacity: 5, live: false })], 6, 0),
      node('n2', [agent({ capacity: 1 })], 4, 0),
    ];
    expect(routeLeastLoaded({ type: 'build' }, nodes)).toEqual({ ok: true, node: 'n2' });
  });

  it('a node with a live capable agent beats an idle node whose capable agents are all down', () => {
    const nodes = [node('n1', [agent({ live: false })], 0, 0), node('n2', [agent()], 100, 10)];
    expect(routeLeastLoaded({ type: 'build' }, nodes)).toEqual({ ok: true, node: 'n2' });
  });

  it('a live agent that cannot run the task does not make the node live-capable', () => {
    const nodes = [
      node('n1', [agent({ live: false }), agent({ id: 'a2', taskTypes: ['lint'], capacity: 5 })], 0, 0),
      node('n2', [agent()], 50, 0),
    ];
    expect(routeLeastLoaded({ type: 'build' }, nodes)).toEqual({ ok: true, node: 'n2' });
  });

  it('with every capable agent down, still routes (durably queued) to the least loaded', () => {
    const nodes = [node('n1', [agent({ live: false })], 7, 0), node('n2', [agent({ live: false })], 2, 0)];
    expect(routeLeastLoaded({ type: 'build' }, nodes)).toEqual({ ok: true, node: 'n2' });
  });

  it('skips a lightly loaded node that cannot run the task', () => {
    const nodes = [node('n1', [agent({ type: 'tester' })], 0, 0), node('n2', [agent({ type: 'coder' })], 9, 9)];
    expect(routeLeastLoaded({ type: 'build', affinity: { agentType: 'coder' } }, nodes)).toEqual({ ok: true, node: 'n2' });
  });

  it('breaks ties by the lower id, in either order', () => {
    const a = node('n2', [agent({ capacity: 2 })], 2, 0); // 1
    const b = node('n1', [agent({ capacity: 1 })], 1, 0); // 1
    expect(routeLeastLoaded({ type: 'build' }, [a, b])).toEqual({ ok: true, node: 'n1' });
    expect(routeLeastLoaded({ type: 'build' }, [b, a])).toEqual({ ok: true, node: 'n1' });
  });

  it('ties are exact for equal fractions (1/3 vs 2/6)', () => {
    const a = node('nb', [agent({ capacity: 3 })], 1, 0);
    const b = node('na', [agent({ capacity: 6 })], 2, 0);
    expect(routeLeastLoaded({ type: 'build' }, [a, b])).toEqual({ ok: true, node: 'na' });
  });

  it('treats a node with no live capacity as capacity 1 (no division by zero)', () => {
    const nodes = [node('n1', [agent({ capacity: 0 })], 3, 0), node('n2', [agent({ capacity: 0 })], 2, 0)];
    expect(routeLeastLoaded({ type: 'build' }, nodes)).toEqual({ ok: true, node: 'n2' });
  });
});

// --- routeLeastLoaded: properties ------------------------------------------------

describe('routeLeastLoaded: properties', () => {
  it('never chooses a node without an agent that can run the task; routes iff some agent can', () => {
    fc.assert(
      fc.property(nodesArb, taskArb, (nodes, task) => {
        const d = routeLeastLoaded(task, nodes);
        const anyCapable = nodes.some((n) => capable(n, task));
        expect(d.ok).toBe(anyCapable);
        if (d.ok) expect(capable(chosen(nodes, d), task)).toBe(true);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('prefers a node with a live capable agent whenever one exists', () => {
    fc.assert(
      fc.property(nodesArb, taskArb, (nodes, task) => {
        const d = routeLeastLoaded(task, nodes);
        if (nodes.some((n) => liveCapable(n, task))) expect(liveCapable(chosen(nodes, d), task)).toBe(true);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('no capable node of the same liveness class has a lower load, or an equal load and a lower id', () => {
    fc.assert(
      fc.property(nodesArb, taskArb, (nodes, task) => {
        const d = routeLeastLoaded(task, nodes);
        if (!d.ok) return;
        const c = chosen(nodes, d);
        const cls = liveCapable(c, task);
        for (const n of nodes) {
          if (n === c || !capable(n, task) || liveCapable(n, task) !== cls) continue;
          const cmp = cmpLoad(n, c);
          expect(cmp, `node ${n.id} is less loaded than chosen ${c.id}`).toBeGreaterThanOrEqual(0);
          if (cmp === 0) expect(n.id > c.id, `node ${n.id} ties with chosen ${c.id} and has the lower id`).toBe(true);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('agrees with a sort-based model: (live capable first, load, id)', () => {
    fc.assert(
      fc.property(nodesArb, taskArb, (nodes, task) => {
        const ranked = nodes
          .filter((n) => capable(n, task))
          .sort((a, b) => {
            const la = liveCapable(a, task) ? 0 : 1;
            const lb = liveCapable(b, task) ? 0 : 1;
            return la - lb || cmpLoad(a, b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
          });
        const d = routeLeastLoaded(task, nodes);
        if (ranked.length === 0) expect(d.ok).toBe(false);
        else expect(d).toEqual({ ok: true, node: ranked[0]!.id });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('is deterministic, does not mutate its input, and ignores node order', () => {
    fc.assert(
      fc.property(nodesAndShuffleArb, taskArb, ([nodes, shuffled], task) => {
        const before = structuredClone(nodes);
        const d1 = routeLeastLoaded(task, nodes);
        const d2 = routeLeastLoaded(task, nodes);
        expect(d2).toEqual(d1);
        expect(nodes).toEqual(before);
        expect(routeLeastLoaded(task, shuffled)).toEqual(d1);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('ignores agent order within a node', () => {
    fc.assert(
      fc.property(nodesArb, taskArb, (nodes, task) => {
        const reversed = nodes.map((n) => ({ ...n, agents: [...n.agents].reverse() }));
        expect(routeLeastLoaded(task, reversed)).toEqual(routeLeastLoaded(task, nodes));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('unknown_task_type exactly when no agent lists the type; no_capable_agent when affinity excludes all', () => {
    fc.assert(
      fc.property(nodesArb, taskArb, (nodes, task) => {
        const d = routeLeastLoaded(task, nodes);
        const known = nodes.some((n) => n.agents.some((a) => a.taskTypes.includes(task.type)));
        if (!known) {
          expect(d).toMatchObject({ ok: false, code: 'unknown_task_type' });
        } else if (!nodes.some((n) => capable(n, task))) {
          expect(d).toMatchObject({ ok: false, code: 'no_capable_agent' });
        } else {
          expect(d.ok).toBe(true);
        }
        if (!d.ok) expect(d.message).toContain(task.type);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('without affinity, a known type always routes', () => {
    fc.assert(
      fc.property(nodesArb, fc.constantFrom(...TASK_TYPES), (nodes, type) => {
        const known = nodes.some((n) => n.agents.some((a) => a.taskTypes.includes(type)));
        expect(routeLeastLoaded({ type }, nodes).ok).toBe(known);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('adding load to a node other than the chosen one does not change the choice', () => {
    fc.assert(
      fc.property(nodesArb, taskArb, fc.nat({ max: 1000 }), fc.nat(), (nodes, task, extra, pick) => {
        const d = routeLeastLoaded(task, nodes);
        if (!d.ok || nodes.length < 2) return;
        const others = nodes.filter((n) => n.id !== d.node);
        const target = others[pick % others.length]!;
        const heavier = nodes.map((n) => (n === target ? { ...n, waiting: n.waiting + extra } : n));
        expect(routeLeastLoaded(task, heavier)).toEqual(d);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
