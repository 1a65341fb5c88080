// Unit and property tests for the hierarchy (src/routing/hierarchy.ts): root →
// groups → nodes as a pure, deterministic, order-independent function of the nodes.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareLoad } from '../../src/routing/compare.ts';
import { eligibility, isFull } from '../../src/routing/eligibility.ts';
import {
  buildHierarchy,
  groupId,
  groupOfNode,
  nodeSeq,
  type HierarchyBranch,
  type HierarchyLeaf,
  type HierarchyTree,
  type HierarchyTreeNode,
} from '../../src/routing/hierarchy.ts';
import { hierarchyToJSON } from '../../src/routing/hierarchyJson.ts';
import type { AgentView, NodeView } from '../../src/routing/loads.ts';
import { agent, agentArb as agentArb_, liveCap } from '../support/routing.ts';

const NUM_RUNS = 250;

const agentArb = agentArb_({ types: ['coder', 'reviewer'], capabilities: ['py', 'ts', 'gpu'], taskTypes: ['build', 'lint'], maxCapacity: 5 });

const bodyArb = fc.record({
  agents: fc.array(agentArb, { maxLength: 3 }),
  waiting: fc.integer({ min: 0, max: 40 }),
  active: fc.integer({ min: 0, max: 12 }),
});

/** Nodes n<seq> with gappy seqs, and now and then an id that is not of that form. */
const nodesArb: fc.Arbitrary<NodeView[]> = fc
  .uniqueArray(
    fc.record({
      id: fc.oneof(
        { weight: 9, arbitrary: fc.integer({ min: 1, max: 150 }).map((s) => `n${s}`) },
        { weight: 1, arbitrary: fc.constantFrom('n0', 'n07', 'node-x', 'z', 'n') },
      ),
      body: bodyArb,
    }),
    { selector: (r) => r.id, maxLength: 40 },
  )
  .map((rs) => rs.map((r) => ({ id: r.id, ...r.body })));

const optsArb = fc.record({ fanout: fc.integer({ min: 1, max: 5 }), depth: fc.integer({ min: 2, max: 5 }) });

const shuffledArb = nodesArb.chain((nodes) =>
  fc.tuple(fc.constant(nodes), fc.shuffledSubarray(nodes, { minLength: nodes.length, maxLength: nodes.length })),
);

const node = (id: string, waiting = 0, active = 0, agents: AgentView[] = [agent()]): NodeView => ({ id, agents, waiting, active });
const seqNodes = (...seqs: number[]) => seqs.map((s) => node(`n${s}`));

function walk(n: HierarchyTreeNode, visit: (n: HierarchyTreeNode, parent: HierarchyBranch | undefined) => void, parent?: HierarchyBranch): void {
  visit(n, parent);
  if (n.kind !== 'node') for (const c of n.children) walk(c, visit, n);
}

function allNodes(t: HierarchyTree): HierarchyTreeNode[] {
  const out: HierarchyTreeNode[] = [];
  walk(t.root, (n) => out.push(n));
  return out;
}

/** Leaf id → ids of its ancestors, root first. */
function paths(t: HierarchyTree): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const go = (n: HierarchyTreeNode, path: string[]) => {
    if (n.kind === 'node') out.set(n.id, path);
    else for (const c of n.children) go(c, [...path, n.id]);
  };
  go(t.root, []);
  return out;
}


// --- examples -------------------------------------------------------------------

describe('node seqs and group ids', () => {
  it('parses n<seq> ids only', () => {
    expect(nodeSeq('n1')).toBe(1);
    expect(nodeSeq('n250')).toBe(250);
    for (const bad of ['n0', 'n01', 'n', 'x1', 'n1a', ' n1', 'n-1', 'n1.5']) expect(nodeSeq(bad)).toBeUndefined();
  });

  it('groupOfNode: F consecutive seqs per lowest group', () => {
    expect([1, 2, 10, 11, 20, 21, 100, 101].map((s) => groupOfNode(s, 10))).toEqual(['g1', 'g1', 'g1', 'g2', 'g2', 'g3', 'g10', 'g11']);
    expect([1, 2, 3, 4].map((s) => groupOfNode(s, 1))).toEqual(['g1', 'g2', 'g3', 'g4']);
    expect(groupId(2, 3)).toBe('gg3');
  });
});

describe('buildHierarchy: examples', () => {
  it('an empty roster is a bare root with zero load', () => {
    const t = buildHierarchy([]);
    expect(t.fanout).toBe(10);
    expect(t.depth).toBe(3);
    expect(t.root).toMatchObject({ id: 'root', kind: 'root', level: 0, children: [], nodeIds: [], capacity: 0, waiting: 0, active: 0, load: 0 });
  });

  it('depth 3 (default): root → groups of F nodes → nodes', () => {
    const t = buildHierarchy(seqNodes(1, 2, 3, 4, 5), { fanout: 2 });
    expect(t.root.children.map((g) => [g.id, g.level, g.nodeIds])).toEqual([
      ['g1', 1, ['n1', 'n2']],
      ['g2', 1, ['n3', 'n4']],
      ['g3', 1, ['n5']],
    ]);
    expect(t.leaves.map((l) => [l.id, l.level, l.seq])).toEqual([
      ['n1', 2, 1],
      ['n2', 2, 2],
      ['n3', 2, 3],
      ['n4', 2, 4],
      ['n5', 2, 5],
    ]);
  });

  it('depth 2: root → nodes', () => {
    const t = buildHierarchy(seqNodes(3, 1, 2), { fanout: 10, depth: 2 });
    expect(t.root.children.map((c) => [c.id, c.kind, c.level])).toEqual([
      ['n1', 'node', 1],
      ['n2', 'node', 1],
      ['n3', 'node', 1],
    ]);
  });

  it('depth 4: groups of groups', () => {
    const t = buildHierarchy(seqNodes(1, 2, 3, 4, 5, 9), { fanout: 2, depth: 4 });
    const shape = (n: HierarchyTreeNode): unknown => (n.kind === 'node' ? n.id : { [n.id]: n.children.map(shape) });
    expect(shape(t.root)).toEqual({
      root: [{ gg1: [{ g1: ['n1', 'n2'] }, { g2: ['n3', 'n4'] }] }, { gg2: [{ g3: ['n5'] }] }, { gg3: [{ g5: ['n9'] }] }],
    });
  });

  it('gaps in the seqs leave no empty groups', () => {
    const t = buildHierarchy(seqNodes(1, 25, 26), { fanout: 10 });
    expect(t.root.children.map((g) => [g.id, g.nodeIds])).toEqual([
      ['g1', ['n1']],
      ['g3', ['n25', 'n26']],
    ]);
  });

  it('more nodes than the levels can hold: the top level takes more than F children', () => {
    const t = buildHierarchy(seqNodes(1, 2, 3, 4, 5, 6, 7), { fanout: 2, depth: 3 });
    expect(t.root.children.map((g) => g.id)).toEqual(['g1', 'g2', 'g3', 'g4']);
    for (const g of t.root.children) expect(g.children.length).toBeLessThanOrEqual(2);
    const flat = buildHierarchy(seqNodes(1, 2, 3), { fanout: 2, depth: 2 });
    expect(flat.root.children).toHaveLength(3);
  });

  it('aggregates live capacity, waiting, active, and load = (waiting + active) / max(1, capacity)', () => {
    const t = buildHierarchy(
      [
        node('n1', 3, 1, [agent({ capacity: 2 }), agent({ id: 'a2', capacity: 5, live: false })]),
        node('n2', 4, 0, [agent({ capacity: 2 })]),
        node('n3', 5, 2, [agent({ live: false })]),
      ],
      { fanout: 2 },
    );
    const [g1, g2] = t.root.children;
    expect(g1).toMatchObject({ id: 'g1', capacity: 4, waiting: 7, active: 1, load: 2 });
    expect(g2).toMatchObject({ id: 'g2', capacity: 0, waiting: 5, active: 2, load: 7 });
    expect(t.root).toMatchObject({ capacity: 4, waiting: 12, active: 3, load: 15 / 4 });
    expect(t.leaves[2]).toMatchObject({ id: 'n3', capacity: 0, load: 7 });
  });

  it('ids that are not n<seq> go after the others, in id order', () => {
    const t = buildHierarchy([node('zeta'), node('n2'), node('alpha'), node('n5')], { fanout: 2 });
    expect(t.leaves.map((l) => [l.id, l.seq])).toEqual([
      ['n2', 2],
      ['n5', 5],
      ['alpha', 6],
      ['zeta', 7],
    ]);
  });

  it('rejects duplicate ids and bad options', () => {
    expect(() => buildHierarchy([node('n1'), node('n1')])).toThrow(/duplicate/);
    expect(() => buildHierarchy([], { fanout: 0 })).toThrow(RangeError);
    expect(() => buildHierarchy([], { fanout: 2.5 })).toThrow(RangeError);
    expect(() => buildHierarchy([], { depth: 1 })).toThrow(RangeError);
  });

  it('hierarchyToJSON: plain data with agent counts and latency', () => {
    const t = buildHierarchy([{ ...node('n1', 1, 1, [agent(), agent({ id: 'a2', live: false })]), latencyMs: 12 }], { fanout: 10 });
    const j = hierarchyToJSON(t);
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
    expect(j).toMatchObject({ fanout: 10, depth: 3, nodes: 1, root: { id: 'root', nodeIds: ['n1'] } });
    expect(j.root.children[0]!.children[0]).toEqual({
      id: 'n1',
      kind: 'node',
      level: 2,
      capacity: 1,
      waiting: 1,
      active: 1,
      load: 2,
      nodeIds: ['n1'],
      children: [],
      seq: 1,
      agents: 2,
      liveAgents: 1,
      latencyMs: 12,
    });
  });
});

describe('isFull and eligibility', () => {
  it('full when waiting + active ≥ live capacity × maxBacklogPerSlot; never with the default Infinity', () => {
    expect(isFull({ capacity: 2, waiting: 3, active: 1, load: 2 }, 2)).toBe(true);
    expect(isFull({ capacity: 2, waiting: 2, active: 1, load: 1.5 }, 2)).toBe(false);
    expect(isFull({ capacity: 0, waiting: 0, active: 0, load: 0 })).toBe(false);
    expect(isFull({ capacity: 0, waiting: 0, active: 0, load: 0 }, 1)).toBe(true);
  });

  it('rejects a negative or NaN maxBacklogPerSlot', () => {
    const t = buildHierarchy(seqNodes(1));
    expect(() => eligibility({ type: 'build' }, t, { maxBacklogPerSlot: -1 })).toThrow(RangeError);
    expect(() => eligibility({ type: 'build' }, t, { maxBacklogPerSlot: Number.NaN })).toThrow(RangeError);
  });
});

// --- properties -----------------------------------------------------------------

describe('buildHierarchy: properties', () => {
  it('is deterministic, does not mutate its input and ignores node order', () => {
    fc.assert(
      fc.property(shuffledArb, optsArb, ([nodes, shuffled], opts) => {
        const before = structuredClone(nodes);
        const t = buildHierarchy(nodes, opts);
        expect(nodes).toEqual(before);
        expect(buildHierarchy(nodes, opts)).toEqual(t);
        expect(buildHierarchy(shuffled, opts)).toEqual(t);
        expect(hierarchyToJSON(buildHierarchy(shuffled, opts))).toEqual(hierarchyToJSON(t));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('every node appears exactly once, as a leaf at level depth − 1, in seq order', () => {
    fc.assert(
      fc.property(nodesArb, optsArb, (nodes, opts) => {
        const t = buildHierarchy(nodes, opts);
        const leafIds: string[] = [];
        walk(t.root, (n) => {
          if (n.kind === 'node') {
            leafIds.push(n.id);
            expect(n.level).toBe(opts.depth - 1);
            expect(n.view).toBe(nodes.find((x) => x.id === n.id));
          } else {
            expect(n.level).toBeLessThan(opts.depth - 1);
            for (const c of n.children) expect(c.level).toBe(n.level + 1);
          }
        });
        expect([...leafIds].sort()).toEqual(nodes.map((n) => n.id).sort());
        expect(t.leaves.map((l) => l.id)).toEqual(leafIds);
        expect(t.root.nodeIds).toEqual(leafIds);
        const seqs = t.leaves.map((l) => l.seq);
        expect(new Set(seqs).size).toBe(seqs.length);
        expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
        for (const l of t.leaves) if (nodeSeq(l.id) !== undefined) expect(l.seq).toBe(nodeSeq(l.id));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('no group has more than F children; the root neither, unless the nodes outgrow F^(depth−1)', () => {
    fc.assert(
      fc.property(nodesArb, optsArb, (nodes, opts) => {
        const t = buildHierarchy(nodes, opts);
        walk(t.root, (n) => {
          if (n.kind === 'group') {
            expect(n.children.length).toBeGreaterThan(0);
            expect(n.children.length).toBeLessThanOrEqual(opts.fanout);
          }
        });
        const maxSeq = Math.max(0, ...t.leaves.map((l) => l.seq));
        if (maxSeq <= opts.fanout ** (opts.depth - 1)) expect(t.root.children.length).toBeLessThanOrEqual(opts.fanout);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('node n<s> sits under g<floor((s−1)/F)+1>, and each group at height h holds seqs ((i−1)F^h, iF^h]', () => {
    fc.assert(
      fc.property(nodesArb, optsArb, (nodes, opts) => {
        const t = buildHierarchy(nodes, opts);
        const ps = paths(t);
        for (const l of t.leaves) {
          const path = ps.get(l.id)!;
          expect(path).toHaveLength(opts.depth - 1);
          expect(path[0]).toBe('root');
          // path = root, top group, …, lowest group
          for (let h = 1; h <= opts.depth - 2; h++) {
            expect(path[path.length - h]).toBe(groupId(h, Math.floor((l.seq - 1) / opts.fanout ** h) + 1));
          }
          if (opts.depth >= 3) expect(path[path.length - 1]).toBe(groupOfNode(l.seq, opts.fanout));
        }
        const ids = allNodes(t).map((n) => n.id);
        expect(new Set(ids).size).toBe(ids.length);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('aggregates are the sums over the subtree, and load is (waiting + active) / max(1, live capacity)', () => {
    fc.assert(
      fc.property(nodesArb, optsArb, (nodes, opts) => {
        const t = buildHierarchy(nodes, opts);
        walk(t.root, (n) => {
          const under = nodes.filter((x) => n.nodeIds.includes(x.id));
          expect(under).toHaveLength(n.nodeIds.length);
          const cap = under.reduce((s, x) => s + liveCap(x), 0);
          const waiting = under.reduce((s, x) => s + x.waiting, 0);
          const active = under.reduce((s, x) => s + x.active, 0);
          expect([n.capacity, n.waiting, n.active]).toEqual([cap, waiting, active]);
          expect(n.load).toBe((waiting + active) / Math.max(1, cap));
          expect(compareLoad(n, { capacity: cap, waiting, active })).toBe(0);
          if (n.kind !== 'node') expect(n.nodeIds).toEqual(n.children.flatMap((c) => c.nodeIds));
        });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('adding a node with a higher seq leaves every existing node where it was', () => {
    fc.assert(
      fc.property(nodesArb, optsArb, fc.integer({ min: 1, max: 60 }), (nodes0, opts, gap) => {
        const nodes = nodes0.filter((n) => nodeSeq(n.id) !== undefined);
        const maxSeq = Math.max(0, ...nodes.map((n) => nodeSeq(n.id)!));
        const before = paths(buildHierarchy(nodes, opts));
        const after = paths(buildHierarchy([...nodes, node(`n${maxSeq + gap}`)], opts));
        for (const [id, p] of before) expect(after.get(id)).toEqual(p);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('hierarchyToJSON survives JSON and mirrors the tree', () => {
    fc.assert(
      fc.property(nodesArb, optsArb, (nodes, opts) => {
        const t = buildHierarchy(nodes, opts);
        const j = hierarchyToJSON(t);
        expect(JSON.parse(JSON.stringify(j))).toEqual(j);
        expect(j.nodes).toBe(nodes.length);
        const strip = (n: HierarchyTreeNode): unknown => [n.id, n.kind, n.level, n.capacity, n.waiting, n.active, n.load, n.children.map(strip)];
        const stripJ = (n: typeof j.root): unknown => [n.id, n.kind, n.level, n.capacity, n.waiting, n.active, n.load, n.children.map(stripJ)];
        expect(stripJ(j.root)).toEqual(strip(t.root));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

// Type-level check that the leaf type is what strategies descend to.
const _leafCheck = (l: HierarchyLeaf): NodeView => l.view;
void _leafCheck;
