// The balance planner: pure, so its promises are checked over random loads.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { planRebalance, planSteals, type BalanceNode, type Move } from '../../src/balancer/plan.ts';

const node = fc.record({
  capacity: fc.integer({ min: 0, max: 20 }),
  waiting: fc.integer({ min: 0, max: 500 }),
  active: fc.integer({ min: 0, max: 20 }),
  profile: fc.constantFrom('a', 'b'),
  group: fc.constantFrom('g1', 'g2', 'g3'),
  slot: fc.constantFrom('s1', 's2'),
});
const nodes = fc.array(node, { minLength: 1, maxLength: 12 }).map((ns) => ns.map((n, i): BalanceNode => ({ ...n, id: `n${i + 1}` })));
const opts = fc.record({ stealRatio: fc.double({ min: 1, max: 4, noNaN: true }), tolerance: fc.double({ min: 0, max: 1, noNaN: true }) });

function apply(ns: readonly BalanceNode[], moves: readonly Move[]): Map<string, number> {
  const w = new Map(ns.map((n) => [n.id, n.waiting]));
  for (const m of moves) {
    w.set(m.from, w.get(m.from)! - m.count);
    w.set(m.to, w.get(m.to)! + m.count);
  }
  return w;
}

function checkCommon(ns: readonly BalanceNode[], moves: readonly Move[]): void {
  const byId = new Map(ns.map((n) => [n.id, n]));
  for (const m of moves) {
    expect(m.count).toBeGreaterThan(0);
    expect(m.from).not.toBe(m.to);
    expect(byId.get(m.from)!.profile).toBe(byId.get(m.to)!.profile); // only work its agents can run
    expect(byId.get(m.from)!.slot).toBe(byId.get(m.to)!.slot); // only within one Redis Cluster slot group
    expect(byId.get(m.to)!.capacity).toBeGreaterThan(0); // never to a node nobody serves
  }
  for (const [, w] of apply(ns, moves)) expect(w).toBeGreaterThanOrEqual(0); // never more than is waiting
}

describe('planSteals', () => {
  it('moves only to live nodes about to idle, from nodes at ≥ stealRatio × the mean, never below the source’s fair share', () => {
    fc.assert(
      fc.property(nodes, opts, (ns, o) => {
        const moves = planSteals(ns, o);
        checkCommon(ns, moves);
        const byId = new Map(ns.map((n) => [n.id, n]));
        for (const m of moves) {
          expect(m.reason).toBe('steal');
          const to = byId.get(m.to)!;
          expect(to.waiting).toBeLessThan(to.capacity); // fewer queued than slots
          const same = ns.filter((n) => n.profile === byId.get(m.from)!.profile && n.slot === byId.get(m.from)!.slot && !(n.capacity <= 0 && n.waiting === 0));
          const mean = same.reduce((s, n) => s + n.waiting, 0) / same.reduce((s, n) => s + n.capacity, 0);
          const src = byId.get(m.from)!;
          if (src.capacity > 0) expect(src.waiting / src.capacity).toBeGreaterThanOrEqual(o.stealRatio * mean - 1e-9);
        }
        const after = apply(ns, moves);
        for (const src of new Set(moves.map((m) => m.from))) {
          const n = byId.get(src)!;
          const same = ns.filter((x) => x.profile === n.profile && x.slot === n.slot && !(x.capacity <= 0 && x.waiting === 0));
          const fair = (same.reduce((s, x) => s + x.waiting, 0) / same.reduce((s, x) => s + x.capacity, 0)) * n.capacity;
          expect(after.get(src)!).toBeGreaterThanOrEqual(Math.floor(fair) - 1e-9);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('prefers siblings: an idle node takes from its own group before another', () => {
    const ns: BalanceNode[] = [
      { id: 'n1', slot: 's1', group: 'g1', profile: 'a', capacity: 10, waiting: 200, active: 10 },
      { id: 'n2', slot: 's1', group: 'g2', profile: 'a', capacity: 10, waiting: 300, active: 10 },
      { id: 'n3', slot: 's1', group: 'g1', profile: 'a', capacity: 10, waiting: 0, active: 0 },
      { id: 'n4', slot: 's1', group: 'g3', profile: 'a', capacity: 10, waiting: 0, active: 0 },
    ];
    const moves = planSteals(ns, { stealRatio: 1, tolerance: 0.3 });
    expect(moves.find((m) => m.to === 'n3')!.from).toBe('n1');
    expect(moves.find((m) => m.to === 'n4')!.from).toBe('n2');
  });

  it('never moves work between slot groups, however loaded', () => {
    const ns: BalanceNode[] = [
      { id: 'n1', slot: 'g1', group: 'g1', profile: 'a', capacity: 10, waiting: 900, active: 10 },
      { id: 'n11', slot: 'g2', group: 'g2', profile: 'a', capacity: 10, waiting: 0, active: 0 },
    ];
    expect(planSteals(ns, { stealRatio: 2, tolerance: 0.3 })).toEqual([]);
    expect(planRebalance(ns, { stealRatio: 2, tolerance: 0.3 })).toEqual([]);
  });

  it('skew: all waiting on one node of ten → every other node gets about its share', () => {
    const ns: BalanceNode[] = Array.from({ length: 10 }, (_, i) => ({ id: `n${i + 1}`, slot: 'g1', group: 'g1', profile: 'a', capacity: 10, waiting: i === 0 ? 1000 : 0, active: 0 }));
    const after = apply(ns, planSteals(ns, { stealRatio: 2, tolerance: 0.3 }));
    for (const [, w] of after) expect(w).toBe(100);
  });

  it('is deterministic', () => {
    fc.assert(
      fc.property(nodes, opts, (ns, o) => {
        expect(planSteals(ns, o)).toEqual(planSteals(ns, o));
        expect(planRebalance(ns, o)).toEqual(planRebalance(ns, o));
      }),
      { numRuns: 300 },
    );
  });
});

describe('planRebalance', () => {
  it('only narrows the spread: no node ends further from its fair share than it started', () => {
    fc.assert(
      fc.property(nodes, opts, (ns, o) => {
        const moves = planRebalance(ns, o);
        checkCommon(ns, moves);
        const after = apply(ns, moves);
        for (const exchange of new Set(ns.map((n) => `${n.slot}/${n.profile}`))) {
          const same = ns.filter((n) => `${n.slot}/${n.profile}` === exchange && !(n.capacity <= 0 && n.waiting === 0));
          const cap = same.reduce((s, n) => s + n.capacity, 0);
          if (cap === 0) continue;
          const mean = same.reduce((s, n) => s + n.waiting, 0) / cap;
          for (const n of same) {
            const fair = mean * n.capacity;
            expect(Math.abs(after.get(n.id)! - fair)).toBeLessThanOrEqual(Math.abs(n.waiting - fair) + 1e-9);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves a balanced swarm alone', () => {
    const ns: BalanceNode[] = Array.from({ length: 5 }, (_, i) => ({ id: `n${i + 1}`, slot: 'g1', group: 'g1', profile: 'a', capacity: 10, waiting: 50 + i, active: 5 }));
    expect(planRebalance(ns, { stealRatio: 2, tolerance: 0.3 })).toEqual([]);
  });

  it('brings a skewed swarm within the tolerance band', () => {
    const ns: BalanceNode[] = Array.from({ length: 4 }, (_, i) => ({ id: `n${i + 1}`, slot: 'g1', group: 'g1', profile: 'a', capacity: 10, waiting: [400, 0, 0, 0][i]!, active: 0 }));
    const after = apply(ns, planRebalance(ns, { stealRatio: 2, tolerance: 0.3 }));
    for (const [, w] of after) {
      expect(w).toBeGreaterThanOrEqual(100 * 0.7);
      expect(w).toBeLessThanOrEqual(100 * 1.3);
    }
  });
});
