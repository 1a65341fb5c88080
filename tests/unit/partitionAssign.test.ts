// The partition assignment core: every coordinator that reads the same members
// computes the same owners; shares are even enough; a member joining or leaving
// moves only its own share.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { assignPartitions, hash53, hostOfPartition, hostPartition, ownerOf } from '../../src/partitions/assign.ts';

const groups = (n: number) => Array.from({ length: n }, (_, i) => `g${i + 1}`);
const countBy = (m: Map<string, string>) => {
  const c = new Map<string, number>();
  for (const o of m.values()) c.set(o, (c.get(o) ?? 0) + 1);
  return c;
};

describe('partition assignment', () => {
  it('is deterministic and independent of input order and repeats', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 8 }), fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { maxLength: 40 }), (members, parts) => {
        const a = assignPartitions(members, parts);
        const b = assignPartitions([...members].reverse().concat(members[0]!), [...parts].reverse());
        expect([...a].sort()).toEqual([...b].sort());
        expect(a.size).toBe(parts.length);
        for (const owner of a.values()) expect(members).toContain(owner);
      }),
    );
  });

  it('no members: nobody owns anything', () => {
    expect(assignPartitions([], ['g1']).size).toBe(0);
    expect(ownerOf('g1', [])).toBeUndefined();
  });

  it('a member leaving moves only its partitions; one joining takes only what it now wins', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 10 }), { minLength: 2, maxLength: 8 }), fc.nat({ max: 200 }), fc.nat(), (members, n, pick) => {
        const parts = groups(n);
        const before = assignPartitions(members, parts);
        const gone = members[pick % members.length]!;
        const after = assignPartitions(members.filter((m) => m !== gone), parts);
        for (const p of parts) if (before.get(p) !== gone) expect(after.get(p)).toBe(before.get(p));
        // Joining is leaving run backwards: only partitions the newcomer wins change owner.
        for (const p of parts) if (before.get(p) !== after.get(p)) expect(before.get(p)).toBe(gone);
      }),
    );
  });

  it('shares are even: 120 groups over 3 or 4 coordinators, each within ±40 % of the mean', () => {
    for (const members of [['coord-a', 'coord-b', 'coord-c'], ['h1-101-aa01', 'h1-102-bb02', 'h2-7-cc03', 'h3-9-dd04']]) {
      const counts = countBy(assignPartitions(members, groups(120)));
      const mean = 120 / members.length;
      expect(counts.size).toBe(members.length);
      for (const c of counts.values()) {
        expect(c).toBeGreaterThan(mean * 0.6);
        expect(c).toBeLessThan(mean * 1.4);
      }
    }
  });

  it('the hash spreads similar names: over 10,000 partitions, 4 members each get 25 % ± 2 %', () => {
    const counts = countBy(assignPartitions(['m1', 'm2', 'm3', 'm4'], groups(10_000)));
    for (const c of counts.values()) expect(Math.abs(c / 10_000 - 0.25)).toBeLessThan(0.02);
    expect(hash53('a')).not.toBe(hash53('b'));
    expect(hash53('c1|g1')).toBe(hash53('c1|g1'));
    expect(Number.isSafeInteger(hash53('x'.repeat(1000)))).toBe(true);
  });

  it('host partitions name their host', () => {
    expect(hostPartition('writer-1')).toBe('host:writer-1');
    expect(hostOfPartition('host:writer-1')).toBe('writer-1');
    expect(hostOfPartition('g3')).toBeUndefined();
  });
});
