// The planner of moves between slot groups: pure, checked on the skew it is for
// and over random loads.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { planAcrossGroups } from '../../src/balancer/groupPlan.ts';
import type { BalanceNode, Move } from '../../src/balancer/plan.ts';

const n = (id: string, slot: string, capacity: number, waiting: number, profile = 'p'): BalanceNode => ({ id, slot, group: slot, profile, capacity, waiting, active: 0 });
const all = () => true;

function apply(ns: readonly BalanceNode[], moves: readonly Move[]): Map<string, number> {
  const w = new Map(ns.map((x) => [x.id, x.waiting]));
  for (const m of moves) {
    w.set(m.from, w.get(m.from)! - m.count);
    w.set(m.to, w.get(m.to)! + m.count);
  }
  return w;
}
const groupWaiting = (ns: readonly BalanceNode[], w: Map<string, number>, slot: string) => ns.filter((x) => x.slot === slot).reduce((s, x) => s + w.get(x.id)!, 0);

describe('planAcrossGroups', () => {
  it('all tasks on one group’s nodes, the other idle: half goes over, spread by room, from the most loaded nodes', () => {
    const ns = [n('n1', 'g1', 2, 300), n('n2', 'g1', 2, 100), n('n11', 'g2', 2, 0), n('n12', 'g2', 2, 0)];
    const moves = planAcrossGroups(ns, { tolerance: 0.3 }, all);
    expect(moves.every((m) => m.reason === 'cross-group' && m.from.startsWith('n1') && ['n11', 'n12'].includes(m.to))).toBe(true);
    const w = apply(ns, moves);
    expect(groupWaiting(ns, w, 'g1')).toBe(200);
    expect(groupWaiting(ns, w, 'g2')).toBe(200);
    expect(w.get('n11')).toBe(100);
    expect(w.get('n12')).toBe(100);
    // n1 is the one over its share: it gives everything here.
    expect(moves.every((m) => m.from === 'n1')).toBe(true);
  });

  it('moves out of the groups the caller may give from only, and not at all when groups are within the band', () => {
    const ns = [n('n1', 'g1', 2, 300), n('n11', 'g2', 2, 0), n('n21', 'g3', 2, 300)];
    const moves = planAcrossGroups(ns, { tolerance: 0.3 }, (slot) => slot === 'g3');
    expect(moves.length).toBeGreaterThan(0);
    expect(moves.every((m) => m.from === 'n21' && m.to === 'n11')).toBe(true);
    expect(planAcrossGroups([n('n1', 'g1', 2, 120), n('n11', 'g2', 2, 100)], { tolerance: 0.3 }, all)).toEqual([]);
  });

  it('a group with waiting work and no live slot gives it all; a group without slots never takes; profiles never mix', () => {
    const ns = [n('n1', 'g1', 0, 50), n('n11', 'g2', 4, 0), n('n21', 'g3', 0, 0), n('n22', 'g3', 4, 0, 'other')];
    const moves = planAcrossGroups(ns, { tolerance: 0.3 }, all);
    expect(moves).toEqual([{ from: 'n1', to: 'n11', count: 50, reason: 'cross-group' }]);
  });

  it('over random loads: only between groups, same profile, to live nodes, never more than waits, each group moving toward the mean', () => {
    const node = fc.record({
      capacity: fc.integer({ min: 0, max: 10 }),
      waiting: fc.integer({ min: 0, max: 400 }),
      profile: fc.constantFrom('a', 'b'),
      slot: fc.constantFrom('g1', 'g2', 'g3'),
    });
    const nodes = fc.array(node, { minLength: 1, maxLength: 12 }).map((xs) => xs.map((x, i): BalanceNode => ({ ...x, id: `n${i + 1}`, group: x.slot, active: 0 })));
    fc.assert(
      fc.property(nodes, fc.double({ min: 0, max: 1, noNaN: true }), fc.subarray(['g1', 'g2', 'g3']), (ns, tolerance, may) => {
        const moves = planAcrossGroups(ns, { tolerance }, (s) => may.includes(s));
        const byId = new Map(ns.map((x) => [x.id, x]));
        for (const m of moves) {
          expect(m.count).toBeGreaterThan(0);
          expect(byId.get(m.from)!.slot).not.toBe(byId.get(m.to)!.slot);
          expect(may).toContain(byId.get(m.from)!.slot);
          expect(byId.get(m.from)!.profile).toBe(byId.get(m.to)!.profile);
          expect(byId.get(m.to)!.capacity).toBeGreaterThan(0);
        }
        const w = apply(ns, moves);
        for (const [, v] of w) expect(v).toBeGreaterThanOrEqual(0);
        // Per profile: a giving group never ends below the mean's share, nor a taking one above it (rounded).
        for (const profile of ['a', 'b']) {
          const of = ns.filter((x) => x.profile === profile);
          const cap = of.reduce((s, x) => s + x.capacity, 0);
          const mean = cap > 0 ? of.reduce((s, x) => s + x.waiting, 0) / cap : 0;
          for (const slot of ['g1', 'g2', 'g3']) {
            const inSlot = of.filter((x) => x.slot === slot);
            const before = inSlot.reduce((s, x) => s + x.waiting, 0);
            const after = inSlot.reduce((s, x) => s + w.get(x.id)!, 0);
            const fair = mean * inSlot.reduce((s, x) => s + x.capacity, 0);
            if (after < before) expect(after).toBeGreaterThanOrEqual(Math.floor(fair) - 1);
            if (after > before) expect(after).toBeLessThanOrEqual(Math.ceil(fair) + 1);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
