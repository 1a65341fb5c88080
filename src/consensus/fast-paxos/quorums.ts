// Quorum sizes and round ownership for Fast Paxos (Lamport, "Fast Paxos", 2006).
//
// Lamport's quorum requirement (§3.3): any two classic quorums intersect, and any
// two fast quorums and one classic quorum have an acceptor in common. With
// classic quorums of size M and fast quorums of size F among n acceptors that is
//   M + 2F > 2n   (and 2M > n).
// With the classic majority M = ⌊n/2⌋+1, the smallest F meeting it is ⌈3n/4⌉
// (checked for every n in the unit tests): n = 4 → F = 3, M = 3; n = 100 → F = 75, M = 51.
//
// Rounds: round 0 is the only fast round (single-decree, slot 0). Every round
// r ≥ 1 is classic. Rounds are owned by coordinators, disjointly:
//   owner(0) = owner(1) = peers[0], owner(r) = peers[(r − 1) mod n] for r ≥ 1,
// so the coordinator of the fast round also owns the first classic round, which
// is what lets it run coordinated recovery (Lamport §3.4: the fast round's 2b
// messages serve as the classic round's 1b messages).
import type { NodeId } from '../protocol.ts';

/** Classic quorum: a majority, ⌊n/2⌋ + 1. */
export function classicQuorum(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** Fast quorum: ⌈3n/4⌉, the smallest F with M + 2F > 2n for M = ⌊n/2⌋ + 1. */
export function fastQuorum(n: number): number {
  return Math.ceil((3 * n) / 4);
}

/** Quorum needed to choose a value in round r: fast for round 0, classic after. */
export function quorumFor(round: number, n: number): number {
  return isFastRound(round) ? fastQuorum(n) : classicQuorum(n);
}

export function isFastRound(round: number): boolean {
  return round === 0;
}

/**
 * Crash faults tolerated: the classic bound n − M = ⌈n/2⌉ − 1. Safety holds for
 * any number of crashes; liveness needs a classic quorum up (a fast round alone
 * needs F up, i.e. tolerates only n − ⌈3n/4⌉, and falls back to classic rounds).
 */
export function faultTolerance(n: number): number {
  return n < 1 ? 0 : n - classicQuorum(n);
}

/** Index in `peers` of the coordinator of round r. */
export function ownerIndex(round: number, n: number): number {
  return round === 0 ? 0 : (round - 1) % n;
}

export function ownerOf(round: number, peers: readonly NodeId[]): NodeId {
  const id = peers[ownerIndex(round, peers.length)];
  if (id === undefined) throw new Error('fast-paxos: no peers');
  return id;
}

/** The smallest round greater than `after` that the peer at `index` owns (never 0: round 0 is never started, it just is). */
export function nextOwnedRound(after: number, index: number, n: number): number {
  // Rounds r ≥ 1 owned by index i are r ≡ i + 1 (mod n).
  const from = Math.max(after + 1, 1);
  const offset = (((index + 1 - from) % n) + n) % n;
  return from + offset;
}
