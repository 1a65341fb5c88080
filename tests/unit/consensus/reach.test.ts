// Can any value still reach the quorum? (reach.ts) Checked against brute
// force over every way the participants still to vote could vote, and on the
// splits replicated tasks meet under each protocol's replica quorum.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { reach, type StillToVote } from '../../../src/consensus/reach.ts';
import { PROTOCOLS } from '../../../src/consensus/runtime/protocols.ts';

const VALUES = ['a', 'b', 'c'];
const NEW = 'never-voted-value';

/** The most votes one value gets over every completion: each bound voter votes its value or not at all, each free one any value or none. */
function bruteBest(cast: readonly (string | null)[], still: readonly StillToVote[]): number {
  let best = 0;
  const go = (i: number, counts: Map<string, number>) => {
    if (i === still.length) {
      for (const n of counts.values()) best = Math.max(best, n);
      return;
    }
    const p = still[i]!;
    const choices: (string | null)[] = p.free ? [...VALUES, NEW, null] : [p.only, null];
    for (const c of choices) {
      const next = new Map(counts);
      if (c !== null) next.set(c, (next.get(c) ?? 0) + 1);
      go(i + 1, next);
    }
  };
  const counts = new Map<string, number>();
  for (const v of cast) if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1);
  go(0, counts);
  return best;
}

const vote = fc.option(fc.constantFrom(...VALUES), { nil: null });
const stillToVote: fc.Arbitrary<StillToVote> = fc.oneof(fc.constant({ free: true as const }), vote.map((only) => ({ free: false as const, only })));

describe('can any value still reach the quorum', () => {
  it('says so exactly when some way the rest could vote gets a value there, and names the most it can get (property)', () => {
    fc.assert(
      fc.property(fc.array(vote, { maxLength: 8 }), fc.array(stillToVote, { maxLength: 5 }), fc.integer({ min: 1, max: 10 }), (cast, still, quorum) => {
        const r = reach(cast, still, quorum);
        const best = bruteBest(cast, still);
        expect(r.best).toBe(best);
        expect(r.possible).toBe(best >= quorum);
        // The value it names can get that many (undefined: only a value nobody is on yet, through free voters).
        if (r.value !== undefined) expect(cast.filter((v) => v === r.value).length + still.filter((p) => p.free || p.only === r.value).length).toBe(best);
        else expect(still.filter((p) => p.free).length).toBe(best);
      }),
      { numRuns: 400 },
    );
  });

  it('does not depend on the order the votes came in (property)', () => {
    fc.assert(
      fc.property(fc.array(vote, { maxLength: 10 }), fc.array(stillToVote, { maxLength: 6 }), fc.integer({ min: 1, max: 10 }), (cast, still, quorum) => {
        expect(reach([...cast].reverse(), [...still].reverse(), quorum)).toEqual(reach(cast, still, quorum));
      }),
    );
  });

  it('only ever loses possibilities as the bound voters vote (property)', () => {
    // A bound voter that votes as bound changes nothing; one that abstains can only lower the best.
    fc.assert(
      fc.property(fc.array(vote, { maxLength: 6 }), fc.array(stillToVote, { minLength: 1, maxLength: 6 }), fc.boolean(), fc.integer({ min: 1, max: 8 }), (cast, still, abstain, quorum) => {
        const [first, ...rest] = still;
        fc.pre(!first!.free);
        const before = reach(cast, still, quorum);
        const after = reach([...cast, abstain ? null : (first as { only: string | null }).only], rest, quorum);
        if (abstain) expect(after.best).toBeLessThanOrEqual(before.best);
        else expect(after.best).toBe(before.best);
      }),
    );
  });

  it("replicated tasks, every replica voted: each protocol's replica quorum decides which splits are already lost", () => {
    const outputs = (...groups: number[]) => groups.flatMap((n, i) => Array.from({ length: n }, () => `out${i}`));
    const lost = (protocol: 'quorum' | 'fast-paxos' | 'pbft', ...groups: number[]) => {
      const votes = outputs(...groups);
      return !reach(votes, [], PROTOCOLS[protocol].replicaQuorum!(votes.length)).possible;
    };
    for (const p of ['quorum', 'fast-paxos'] as const) {
      expect(lost(p, 2, 2), `${p} 2:2`).toBe(true); // majority of 4 is 3
      expect(lost(p, 1, 1, 1), `${p} 1:1:1`).toBe(true);
      expect(lost(p, 1, 1), `${p} 1:1`).toBe(true);
      expect(lost(p, 2, 1), `${p} 2:1`).toBe(false);
      expect(lost(p, 3, 1), `${p} 3:1`).toBe(false);
      expect(lost(p, 3, 2, 2), `${p} 3:2:2`).toBe(true); // majority of 7 is 4
    }
    expect(lost('pbft', 2, 2)).toBe(true); // 2f+1 = 3 of 4
    expect(lost('pbft', 3, 1)).toBe(false);
    expect(lost('pbft', 4, 3)).toBe(true); // 5 of 7
    expect(lost('pbft', 5, 2)).toBe(false);
    // A failed replica's agent votes for nothing: 2 of 3 still make quorum's majority, 2 of 4 do not.
    expect(reach(['x', 'x', null], [], PROTOCOLS.quorum.replicaQuorum!(3)).possible).toBe(true);
    expect(reach(['x', 'x', null, null], [], PROTOCOLS.quorum.replicaQuorum!(4)).possible).toBe(false);
  });

  it('while votes are still to come, a split is not lost yet', () => {
    expect(reach(['a', 'b'], [{ free: false, only: 'a' }], 2)).toEqual({ best: 2, value: 'a', possible: true });
    expect(reach(['a', 'b'], [{ free: false, only: null }], 2)).toEqual({ best: 1, value: 'a', possible: false });
    expect(reach([], [{ free: true }, { free: true }], 2)).toEqual({ best: 2, value: undefined, possible: true });
  });
});
