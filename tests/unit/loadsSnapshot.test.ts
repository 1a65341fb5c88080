// The published loads body: what a leader writes decodes to the same snapshot,
// and a body that is not one (not JSON, a field missing, counts that do not
// match the nodes, a negative count) is refused with the field it fails on.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeLoads, encodeLoads, sameCounts, type LoadsSnapshot } from '../../src/coordinator/loadsSnapshot.ts';
import type { QueueCounts } from '../../queues/queueCounts.ts';

const countsArb = fc.record({ waiting: fc.nat(), active: fc.nat(), delayed: fc.nat(), completed: fc.nat(), failed: fc.nat() });
const snapshotArb: fc.Arbitrary<LoadsSnapshot> = fc.record({
  version: fc.string({ minLength: 1, maxLength: 20 }),
  at: fc.nat(),
  rosterVersion: fc.option(fc.string({ maxLength: 10 }), { nil: null }),
  liveHosts: fc.uniqueArray(fc.string({ maxLength: 12 }), { maxLength: 5 }).map((h) => new Set(h)),
  counts: fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), countsArb), { selector: ([id]) => id, maxLength: 30 }).map((e) => new Map<string, QueueCounts>(e)),
});

describe('published loads', () => {
  it('decode(encode(s)) is s', () => {
    fc.assert(
      fc.property(snapshotArb, (s) => {
        const d = decodeLoads(encodeLoads(s));
        expect(d.ok).toBe(true);
        if (!d.ok) return;
        expect(d.snapshot.version).toBe(s.version);
        expect(d.snapshot.at).toBe(s.at);
        expect(d.snapshot.rosterVersion).toBe(s.rosterVersion);
        expect([...d.snapshot.liveHosts].sort()).toEqual([...s.liveHosts].sort());
        expect(sameCounts(d.snapshot.counts, s.counts)).toBe(true);
      }),
    );
  });

  const good = JSON.parse(encodeLoads({ version: '3.7', at: 1, rosterVersion: '4', liveHosts: new Set(['h']), counts: new Map([['n1', { waiting: 1, active: 2, delayed: 0, completed: 5, failed: 0 }]]) })) as Record<string, unknown>;

  it.each([
    ['not JSON', '{"format":1,', 'not JSON'],
    ['another format', JSON.stringify({ ...good, format: 2 }), 'format'],
    ['counts short of five per node', JSON.stringify({ ...good, counts: [1, 2, 3] }), 'counts'],
    ['a negative count', JSON.stringify({ ...good, counts: [1, -2, 0, 5, 0] }), 'counts.1'],
    ['no version', JSON.stringify({ ...good, version: undefined }), 'version'],
  ])('refuses %s, naming where', (_what, body, where) => {
    const d = decodeLoads(body);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error).toContain(where);
  });

  it('sameCounts tells a moved figure from none', () => {
    const a = new Map([['n1', { waiting: 1, active: 0, delayed: 0, completed: 0, failed: 0 }]]);
    expect(sameCounts(a, new Map(a))).toBe(true);
    expect(sameCounts(a, new Map([['n1', { waiting: 1, active: 0, delayed: 0, completed: 1, failed: 0 }]]))).toBe(false);
    expect(sameCounts(a, new Map([['n2', a.get('n1')!]]))).toBe(false);
  });
});
