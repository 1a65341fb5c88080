// The vote tally the cores share, against a plain Map of first votes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addVote, countFor, EMPTY_TALLY, hasVoted, indexIn, voterCount, votesOf, type Tally } from '../../../src/consensus/tally.ts';

describe('Tally', () => {
  it('agrees with a map of first votes, for any participants and any order of (possibly repeated) votes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 130 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('a', 'b', 'c', '__proto__')), { maxLength: 300 }),
        (n, raw) => {
          const peers = Array.from({ length: n }, (_, i) => `p${i}`);
          const reference = new Map<string, string>();
          let t: Tally = EMPTY_TALLY;
          for (const [k, value] of raw) {
            const who = peers[k % n]!;
            const before = t;
            t = addVote(t, indexIn(peers, who), value);
            if (reference.has(who)) expect(t).toBe(before); // a second vote changes nothing
            else reference.set(who, value);
          }
          expect(voterCount(t)).toBe(reference.size);
          for (const value of ['a', 'b', 'c', '__proto__']) {
            const holders = [...reference].filter(([, v]) => v === value).map(([p]) => p);
            expect(countFor(t, value)).toBe(holders.length);
            if (holders[0] !== undefined) expect(countFor(t, value, indexIn(peers, holders[0]))).toBe(holders.length - 1);
          }
          expect(votesOf(t, peers)).toEqual(peers.filter((p) => reference.has(p)).map((p) => [p, reference.get(p)]));
          peers.forEach((p, i) => expect(hasVoted(t, i)).toBe(reference.has(p)));
        },
      ),
    );
  });

  it('never changes a tally it was given', () => {
    const peers = ['x', 'y', 'z'];
    const one = addVote(EMPTY_TALLY, 0, 'v');
    const snapshot = JSON.stringify({ voters: one.voters, byValue: [...one.byValue] });
    addVote(one, 1, 'v');
    addVote(one, 2, 'w');
    expect(JSON.stringify({ voters: one.voters, byValue: [...one.byValue] })).toBe(snapshot);
    expect(voterCount(EMPTY_TALLY)).toBe(0);
    expect(indexIn(peers, 'nobody')).toBe(-1);
    expect(addVote(one, -1, 'v')).toBe(one);
  });
});
