// One kind of vote among a fixed, ordered set of participants: who has voted
// (a bitset over their indices) and who voted each value. Immutable like the
// states that hold it, but adding a vote copies n/32 words and one small map,
// not every vote so far: at n = 100 every node takes about a hundred votes a
// round, and copying a voter → value record per vote was most of a round's CPU
// in each protocol core. The first vote of a participant stands; a second one
// (a duplicate, a replay, or a Byzantine replica changing its mind) is ignored.
import type { NodeId } from './protocol.ts';

type Bits = readonly number[];

export interface Tally {
  /** Bit i of word ⌊i/32⌋ is set when peers[i] has voted. */
  readonly voters: Bits;
  /** Per value (a digest, a serialized value), who voted it. */
  readonly byValue: ReadonlyMap<string, Bits>;
}

export const EMPTY_TALLY: Tally = Object.freeze({ voters: Object.freeze([]) as Bits, byValue: new Map<string, Bits>() });

const indexCache = new WeakMap<readonly NodeId[], ReadonlyMap<NodeId, number>>();

/** Index of `id` in `peers` (−1 if absent); memoized per peers array, which a node's states share. */
export function indexIn(peers: readonly NodeId[], id: NodeId): number {
  let m = indexCache.get(peers);
  if (m === undefined) {
    m = new Map(peers.map((p, i) => [p, i]));
    indexCache.set(peers, m);
  }
  return m.get(id) ?? -1;
}

function has(bits: Bits | undefined, i: number): boolean {
  return bits !== undefined && ((bits[i >>> 5] ?? 0) & (1 << (i & 31))) !== 0;
}

function withBit(bits: Bits | undefined, i: number): Bits {
  const next = bits === undefined ? [] : bits.slice();
  const w = i >>> 5;
  for (let k = next.length; k <= w; k++) next.push(0);
  next[w] = (next[w] ?? 0) | (1 << (i & 31));
  return next;
}

function popcount32(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

function size(bits: Bits | undefined): number {
  let n = 0;
  if (bits !== undefined) for (const w of bits) n += popcount32(w);
  return n;
}

export function hasVoted(t: Tally, index: number): boolean {
  return has(t.voters, index);
}

/** The tally with participant `index`'s vote for `value` added; the same tally if it has voted already. */
export function addVote(t: Tally, index: number, value: string): Tally {
  if (index < 0 || has(t.voters, index)) return t;
  return { voters: withBit(t.voters, index), byValue: new Map(t.byValue).set(value, withBit(t.byValue.get(value), index)) };
}

/** How many voted `value`, not counting participant `except` (an index), if given. */
export function countFor(t: Tally, value: string, except = -1): number {
  const bits = t.byValue.get(value);
  return size(bits) - (except >= 0 && has(bits, except) ? 1 : 0);
}

/** How many have voted at all. */
export function voterCount(t: Tally): number {
  return size(t.voters);
}

/** Each vote as [participant, value], in participant order. */
export function votesOf(t: Tally, peers: readonly NodeId[]): [NodeId, string][] {
  const out: [NodeId, string][] = [];
  peers.forEach((p, i) => {
    if (!has(t.voters, i)) return;
    for (const [value, bits] of t.byValue) if (has(bits, i)) out.push([p, value]);
  });
  return out;
}
