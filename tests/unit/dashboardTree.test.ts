// The hierarchy drawing: boxes laid out from the tree the API serves.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildHierarchy } from '../../src/routing/hierarchy.ts';
import { hierarchyToJSON } from '../../src/routing/hierarchyJson.ts';
import type { NodeView } from '../../src/routing/loads.ts';
import { DEFAULT_LAYOUT, layoutTree } from '../../dashboards/client/treeLayout.ts';
import { loadBand, treeSvg } from '../../dashboards/client/treeSvg.ts';

const node = (seq: number, waiting = 0, active = 0, live = true): NodeView => ({
  id: `n${seq}`,
  agents: [{ id: `a${seq}`, type: 'w', capabilities: [], taskTypes: [], capacity: 2, live }],
  waiting,
  active,
});

const tree = (count: number, fanout = 3, depth = 3) => hierarchyToJSON(buildHierarchy(Array.from({ length: count }, (_, i) => node(i + 1, i)), { fanout, depth }));

describe('layoutTree', () => {
  it('puts each level on its own row, leaves side by side, parents centred over their children', () => {
    const l = layoutTree(tree(4));
    const byId = new Map(l.boxes.map((b) => [b.id, b]));
    expect(l.boxes.map((b) => b.id)).toEqual(['root', 'g1', 'g2', 'n1', 'n2', 'n3', 'n4']);
    const { boxWidth, gap, levelHeight, margin } = DEFAULT_LAYOUT;
    expect([1, 2, 3, 4].map((s) => byId.get(`n${s}`)!.x)).toEqual([0, 1, 2, 3].map((i) => margin + i * (boxWidth + gap)));
    expect(byId.get('g1')!.x).toBe(byId.get('n2')!.x);
    expect(byId.get('g2')!.x).toBe(byId.get('n4')!.x);
    expect(byId.get('root')!.x).toBe((byId.get('g1')!.x + byId.get('g2')!.x) / 2);
    expect(byId.get('n1')!.y - byId.get('g1')!.y).toBe(levelHeight);
    expect(l.edges.map((e) => `${e.from}>${e.to}`).sort()).toEqual(['g1>n1', 'g1>n2', 'g1>n3', 'g2>n4', 'root>g1', 'root>g2']);
  });

  it('never overlaps two boxes of one row and keeps every box inside the picture', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 2, max: 4 }), (count, fanout, depth) => {
        const l = layoutTree(tree(count, fanout, depth));
        const { boxWidth, boxHeight, gap } = DEFAULT_LAYOUT;
        const rows = new Map<number, number[]>();
        for (const b of l.boxes) {
          expect(b.x).toBeGreaterThanOrEqual(0);
          expect(b.x + boxWidth).toBeLessThanOrEqual(l.width);
          expect(b.y + boxHeight).toBeLessThanOrEqual(l.height);
          rows.set(b.y, [...(rows.get(b.y) ?? []), b.x]);
        }
        for (const xs of rows.values()) {
          xs.sort((a, b) => a - b);
          for (let i = 1; i < xs.length; i++) expect(xs[i]! - xs[i - 1]!).toBeGreaterThanOrEqual(boxWidth + gap - 1e-9);
        }
        expect(l.boxes.filter((b) => b.kind === 'node')).toHaveLength(count);
      }),
    );
  });
});

describe('treeSvg', () => {
  it('draws every box with its id and load, and escapes what it prints', () => {
    const t = hierarchyToJSON(buildHierarchy([node(1, 3, 2), { ...node(2), id: 'n<2>' }], { fanout: 10, depth: 2 }));
    const svg = treeSvg(layoutTree(t));
    expect(svg).toContain('data-id="n1"');
    expect(svg).toContain('data-load="2.50"');
    expect(svg).toContain('3w 2a');
    expect(svg).toContain('n&lt;2&gt;');
    expect(svg).not.toContain('<2>');
  });

  it('bands loads: idle, ok up to one task a slot, busy up to two, then overloaded; no live slot is its own band', () => {
    expect([0, 0.5, 1, 1.5, 2, 3].map((l) => loadBand(l, 4))).toEqual(['idle', 'ok', 'ok', 'busy', 'busy', 'overloaded']);
    expect(loadBand(5, 0)).toBe('no-capacity');
  });
});
