// When a set of participants is "enough": the two quorum rules of the quorum
// protocol, derived once from the options and kept in the node's state.
//
// The protocol is Paxos-shaped (see core.ts), so it needs two kinds of quorum:
//   - a DECIDE quorum: the votes that decide a value in one ballot;
//   - a PREPARE quorum: the promises a proposer gathers before it may propose
//     in a new ballot.
// Safety needs only that every prepare quorum intersects every decide quorum
// in at least one participant of positive weight (Flexible Paxos, Howard et
// al. 2016): w(P) + w(D) > W, W the total weight. So the decide rule may be
// anything the caller configures, and the prepare rule is derived from it:
//
//   options                    decide when w(votes) …   prepare when w(promises) …
//   (none)                     ≥ ⌊n/2⌋+1 (majority)     > n − (⌊n/2⌋+1)
//   threshold t                ≥ t                      > n − t
//   weights                    > W/2                    > W/2
//   weights and threshold t    ≥ t (in weight)          > W − t
//
// With unit weights w(S) = |S|. A participant missing from `weights` has
// weight 0: it still votes and learns, but its vote sways nothing. Weights of
// non-participants are ignored (their messages are ignored anyway). A
// threshold no set of participants can reach (t > W), or t ≤ 0, is refused at
// init: it would be a protocol that can never decide, or that decides on
// nothing.
import type { NodeId, ProtocolOptions } from '../protocol.ts';

export type DecideRule =
  /** Decided when the vote weight is at least `threshold`. */
  | { kind: 'atLeast'; threshold: number }
  /** Decided when the vote weight is strictly more than half the total. */
  | { kind: 'moreThanHalf' };

export interface QuorumRule {
  /** Every participant's weight (1 each unless `weights` was given). */
  weights: ReadonlyMap<NodeId, number>;
  /** Sum of all participants' weights. */
  total: number;
  decide: DecideRule;
}

/** ⌊n/2⌋ + 1: the smallest count that is more than half of n. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** Builds and validates the rule for these participants; throws RangeError on options that could never be safe and live. */
export function quorumRule(peers: readonly NodeId[], opts: Pick<ProtocolOptions, 'threshold' | 'weights'>): QuorumRule {
  if (peers.length === 0) throw new RangeError('quorum: no participants');
  if (new Set(peers).size !== peers.length) throw new RangeError('quorum: participants must be distinct');
  const weights = new Map<NodeId, number>();
  for (const p of peers) {
    const w = opts.weights === undefined ? 1 : Object.hasOwn(opts.weights, p) ? opts.weights[p] : 0;
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw new RangeError(`quorum: weight of ${p} must be a finite number ≥ 0, got ${String(w)}`);
    weights.set(p, w);
  }
  let total = 0;
  for (const w of weights.values()) total += w;
  if (total <= 0) throw new RangeError('quorum: the participants\' weights sum to 0');

  if (opts.threshold === undefined) {
    return { weights, total, decide: opts.weights === undefined ? { kind: 'atLeast', threshold: majority(peers.length) } : { kind: 'moreThanHalf' } };
  }
  const t = opts.threshold;
  if (!Number.isFinite(t) || t <= 0 || t > total) {
    throw new RangeError(`quorum: threshold must be in (0, ${total}] (the total ${opts.weights === undefined ? 'number of participants' : 'weight'}), got ${t}`);
  }
  if (opts.weights === undefined && !Number.isInteger(t)) throw new RangeError(`quorum: a vote-count threshold must be an integer, got ${t}`);
  return { weights, total, decide: { kind: 'atLeast', threshold: t } };
}

/** Total weight of these participants, each counted once; non-participants weigh nothing. */
export function weightOf(rule: QuorumRule, nodes: Iterable<NodeId>): number {
  let sum = 0;
  const seen = new Set<NodeId>();
  for (const n of nodes) {
    if (seen.has(n)) continue;
    seen.add(n);
    sum += rule.weights.get(n) ?? 0;
  }
  return sum;
}

export function reachesDecide(rule: QuorumRule, weight: number): boolean {
  return rule.decide.kind === 'atLeast' ? weight >= rule.decide.threshold : weight > rule.total / 2;
}

export function reachesPrepare(rule: QuorumRule, weight: number): boolean {
  return rule.decide.kind === 'atLeast' ? weight > rule.total - rule.decide.threshold : weight > rule.total / 2;
}

export function isParticipant(rule: QuorumRule, node: NodeId): boolean {
  return rule.weights.has(node);
}
