// Whether a vote is already lost: given the votes cast so far, the
// participants still to vote and the quorum, can any value still reach it?
// When none can, waiting longer changes nothing, and the caller may give up
// at once rather than at its timeout.
//
// A participant still to vote may be bound: a replica of a replicated task
// votes only for its own output (ProtocolOptions.accept), or for nothing when
// its replica failed. A free one may vote for anything, a value nobody has
// voted for yet included.

/** One participant yet to vote: free, or bound to one value (null: to none). */
export type StillToVote = { free: true } | { free: false; only: string | null };

export interface Reach {
  /** The most votes any one value can still gather. */
  best: number;
  /** A value that can gather `best` (undefined: only a value nobody is voting or bound to). */
  value: string | undefined;
  /** Some value can still reach the quorum. */
  possible: boolean;
}

/**
 * `cast`: each vote so far, one per participant that voted (null: it voted
 * for nothing). A value's best is its votes, plus the participants bound to
 * it, plus every free one.
 */
export function reach(cast: Iterable<string | null>, stillToVote: Iterable<StillToVote>, quorum: number): Reach {
  const most = new Map<string, number>();
  const add = (v: string) => most.set(v, (most.get(v) ?? 0) + 1);
  for (const v of cast) if (v !== null) add(v);
  let free = 0;
  for (const p of stillToVote) {
    if (p.free) free++;
    else if (p.only !== null) add(p.only);
  }
  let best = free;
  let value: string | undefined;
  // Ties to the smallest value, so the answer does not depend on the order votes came in.
  for (const [v, n] of most) if (n + free > best || (n + free === best && value !== undefined && v < value)) [best, value] = [n + free, v];
  return { best, value, possible: best >= quorum };
}
