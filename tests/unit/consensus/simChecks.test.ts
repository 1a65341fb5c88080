// The simulator's building blocks: the pure safety and liveness checks, the
// network's delays and reordering, the seeded random source and the trace.
import { describe, expect, it } from 'vitest';
import { changedDecisions, honestSlots, livenessGaps, mergeDecisions, requiredSlots, safetyViolations } from '../../../src/consensus/sim/checks.ts';
import { HEALED, type FaultProfile } from '../../../src/consensus/sim/faults.ts';
import { Network, separated } from '../../../src/consensus/sim/network.ts';
import { createRunRandom } from '../../../src/consensus/sim/random.ts';
import { Trace } from '../../../src/consensus/sim/trace.ts';

const node = (id: string, decided: { slot: number; value: string }[], extra: { byzantine?: boolean; up?: boolean } = {}) => ({ id, decided, byzantine: false, up: true, ...extra });

describe('safety checks', () => {
  const proposed = new Set(['a', 'b']);

  it('agreement: two honest nodes, one slot, two values', () => {
    expect(safetyViolations([node('n0', [{ slot: 0, value: 'a' }]), node('n1', [{ slot: 0, value: 'a' }])], proposed)).toEqual([]);
    expect(safetyViolations([node('n0', [{ slot: 0, value: 'a' }]), node('n1', [{ slot: 0, value: 'b' }])], proposed)).toEqual(['agreement: n1 decided slot 0 = "b" but n0 decided "a"']);
    // Different slots may hold different values.
    expect(safetyViolations([node('n0', [{ slot: 1, value: 'a' }]), node('n1', [{ slot: 2, value: 'b' }])], proposed)).toEqual([]);
  });

  it('validity: only proposed values', () => {
    expect(safetyViolations([node('n0', [{ slot: 0, value: 'zz' }])], proposed)).toEqual(['validity: n0 decided slot 0 = "zz", which no client proposed']);
  });

  it('Byzantine nodes are not held to agreement or validity', () => {
    expect(safetyViolations([node('n0', [{ slot: 0, value: 'a' }]), node('n1', [{ slot: 0, value: 'zz' }], { byzantine: true })], proposed)).toEqual([]);
  });

  it('stability: a decided slot never changes; deciding it again with the same value is fine', () => {
    const before = [{ slot: 0, value: 'a' }];
    expect(changedDecisions('n0', before, [{ slot: 0, value: 'a' }])).toEqual([]);
    expect(changedDecisions('n0', before, [{ slot: 0, value: 'b' }])).toEqual(['stability: n0 changed slot 0 from "a" to "b"']);
    expect(changedDecisions('n0', [], [{ slot: 3, value: 'a' }, { slot: 3, value: 'b' }])).toEqual(['stability: n0 changed slot 3 from "a" to "b"']);
    expect(changedDecisions('n0', [], [{ slot: -1, value: 'a' }])).toEqual(['decision: n0 decided an invalid slot -1']);
    expect(mergeDecisions(before, [{ slot: 0, value: 'a' }, { slot: 1, value: 'b' }])).toEqual([{ slot: 0, value: 'a' }, { slot: 1, value: 'b' }]);
    expect(mergeDecisions(before, [])).toBe(before);
  });
});

describe('liveness checks', () => {
  it('single-shot: every up honest node has decided slot 0', () => {
    const nodes = [node('n0', [{ slot: 0, value: 'a' }]), node('n1', []), node('n2', [], { up: false }), node('n3', [], { byzantine: true })];
    const required = requiredSlots(new Set(), honestSlots(nodes));
    expect([...required]).toEqual([0]);
    expect(livenessGaps(nodes, required, undefined)).toEqual(['n1 has not decided slot 0']);
    expect(livenessGaps([], new Set(), undefined)).toEqual(['no honest node has decided anything']);
  });

  it('logs: the first slot, every slot decided at the heal, and the value proposed after it', () => {
    const nodes = [node('n0', [{ slot: 2, value: 'a' }, { slot: 3, value: 'h' }]), node('n1', [{ slot: 3, value: 'h' }])];
    const required = requiredSlots(new Set([2]), honestSlots(nodes));
    expect([...required].sort()).toEqual([2]);
    expect(livenessGaps(nodes, required, 'h')).toEqual(['n1 has not decided slot 2']);
    expect(livenessGaps([node('n0', [{ slot: 2, value: 'a' }])], required, 'h')).toEqual(['n0 has not decided the value "h" proposed after the heal']);
  });
});

describe('network', () => {
  const rough: FaultProfile = { ...HEALED, maxDelay: 5 };

  it('delays messages by 1…maxDelay ticks and delivers only what is due', () => {
    const rng = createRunRandom(1);
    const net = new Network();
    for (let i = 0; i < 200; i++) net.send('a', 'b', `${i}`, 10, rough, rng);
    expect(net.size).toBe(200);
    expect(net.takeDue(10, rng)).toBeUndefined();
    const delays: number[] = [];
    for (let t = 11; t <= 15; t++) for (let e = net.takeDue(t, rng); e; e = net.takeDue(t, rng)) delays.push(e.deliverAt - e.sentAt);
    expect(net.size).toBe(0);
    expect(new Set(delays)).toEqual(new Set([1, 2, 3, 4, 5]));
  });

  it('reorders messages due at the same tick', () => {
    const rng = createRunRandom(2);
    const net = new Network();
    for (let i = 0; i < 20; i++) net.send('a', 'b', `${i}`, 0, HEALED, rng);
    const order: string[] = [];
    for (let e = net.takeDue(10, rng); e; e = net.takeDue(10, rng)) order.push(e.wire as string);
    expect([...order].sort((x, y) => Number(x) - Number(y))).toEqual(Array.from({ length: 20 }, (_, i) => `${i}`));
    expect(order).not.toEqual([...order].sort((x, y) => Number(x) - Number(y)));
  });

  it('drops and duplicates at the profile\'s rates', () => {
    const rng = createRunRandom(3);
    const net = new Network();
    let dropped = 0;
    let doubled = 0;
    for (let i = 0; i < 2000; i++) {
      const fate = net.send('a', 'b', 'm', 0, { ...HEALED, drop: 0.25, duplicate: 0.1 }, rng);
      if (fate.kind === 'dropped') dropped++;
      else if (fate.copies.length === 2) doubled++;
    }
    expect(dropped).toBeGreaterThan(400);
    expect(dropped).toBeLessThan(600);
    expect(doubled).toBeGreaterThan(90);
    expect(doubled).toBeLessThan(220);
  });

  it('a partition separates its two sides only', () => {
    const p = { side: new Set(['a', 'b']), until: 9 };
    expect(separated(p, 'a', 'c')).toBe(true);
    expect(separated(p, 'c', 'a')).toBe(true);
    expect(separated(p, 'a', 'b')).toBe(false);
    expect(separated(p, 'c', 'd')).toBe(false);
    expect(separated(null, 'a', 'c')).toBe(false);
  });
});

describe('random source and trace', () => {
  it('the same seed draws the same sequence', () => {
    const draw = (seed: number) => {
      const r = createRunRandom(seed);
      return [r.int(0, 100), r.int(-5, 5), r.chance(0.5), r.pick(['x', 'y', 'z']), r.shuffle([1, 2, 3, 4, 5])];
    };
    expect(draw(9)).toEqual(draw(9));
    expect(draw(9)).not.toEqual(draw(10));
    expect(() => createRunRandom(1).int(3, 2)).toThrow(RangeError);
  });

  it('keeps the last lines in order', () => {
    const t = new Trace(3);
    for (let i = 1; i <= 5; i++) t.add(i, i, `line ${i}`);
    expect(t.lines()).toEqual(['[t=3 #3] line 3', '[t=4 #4] line 4', '[t=5 #5] line 5']);
    expect(t.total).toBe(5);
    const all = new Trace(Infinity);
    for (let i = 1; i <= 5; i++) all.add(0, i, 'x');
    expect(all.lines()).toHaveLength(5);
    const none = new Trace(0);
    none.add(0, 0, 'x');
    expect(none.lines()).toEqual([]);
  });
});
