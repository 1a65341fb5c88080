// The coordinator of a classic round (Lamport's Fast Paxos, §3.3–3.4).
//
// Phase 1: it asks every acceptor to join round r (1a) and waits for reports
// (1b) from a classic quorum Q. It then picks a value by the Fast Paxos rule:
//   k = the highest round any acceptor in Q voted in;
//   none voted        → any proposed value;
//   k classic         → the one value voted in k (a classic round has one 2a);
//   k fast (round 0)  → the value v, if any, that could have been chosen in k:
//                       some fast quorum R has every acceptor of Q ∩ R voting v
//                       in k; such an R exists iff
//                         #{a ∈ Q : a voted v in k} ≥ |Q| − (n − F),
//                       and M + 2F > 2n makes that v unique;
//                       if no value could have been, any proposed value.
// Phase 2: it sends that one value as the round's 2a, and never another.
//
// Coordinated recovery (§3.4): the coordinator of the fast round 0 (peers[0])
// also owns round 1, so it may use the fast round's 2b messages, which it
// receives as a learner, as round 1's 1b reports and skip Phase 1. This is safe
// because an acceptor that voted in round 0 can vote in no other round below 1,
// which is exactly what its 1b for round 1 would have promised. It does so as
// soon as a classic quorum of round-0 votes shows a collision (no value can
// still reach F), or on its timeout when it holds a classic quorum of them.
import { countFor, EMPTY_TALLY, voterCount, votesOf } from '../tally.ts';
import type { NodeId, Value } from '../protocol.ts';
import { noEffects, observeRound, type Effects, type Envelope } from './effects.ts';
import { isFastRound, quorumFor } from './quorums.ts';
import type { FastPaxosState, Report } from './state.ts';

/** Deterministic choice among candidate values: the most frequent, ties to the smallest string. */
function mostFrequent(values: readonly Value[]): Value | null {
  const counts = new Map<Value, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: Value | null = null;
  let bestCount = 0;
  for (const [v, c] of counts) {
    if (c > bestCount || (c === bestCount && best !== null && v < best)) {
      best = v;
      bestCount = c;
    }
  }
  return best;
}

export type PickResult =
  /** The value the round must (or may) propose, and whether the rule forced it. */
  | { kind: 'value'; value: Value; forced: boolean }
  /** No acceptor in Q voted and no proposed value is known yet: wait for one. */
  | { kind: 'none' };

/**
 * Lamport's rule for the value of a classic round, from the reports of a quorum
 * Q (|Q| ≥ ⌊n/2⌋+1 is the caller's duty). `known` is a proposed value the
 * coordinator heard of itself. Pure.
 */
export function pickValue(reports: readonly Report[], n: number, known: Value | null): PickResult {
  let k = -1;
  for (const r of reports) if (r.vrnd > k) k = r.vrnd;
  if (k === -1) {
    const proposals = reports.map((r) => r.proposal).filter((v): v is Value => v !== null);
    const value = known ?? mostFrequent(proposals);
    return value === null ? { kind: 'none' } : { kind: 'value', value, forced: false };
  }
  const votedInK = reports.filter((r) => r.vrnd === k).map((r) => r.vval as Value);
  if (!isFastRound(k)) {
    // A classic round has a single 2a value, so every report from k agrees.
    return { kind: 'value', value: votedInK[0] as Value, forced: true };
  }
  const need = reports.length - (n - quorumFor(k, n));
  const counts = new Map<Value, number>();
  for (const v of votedInK) counts.set(v, (counts.get(v) ?? 0) + 1);
  const couldHaveBeenChosen = [...counts].filter(([, c]) => c >= need).map(([v]) => v);
  if (couldHaveBeenChosen.length > 1) {
    // Impossible when |Q| is a classic quorum (M + 2F > 2n); a caller bug.
    throw new Error(`fast-paxos: ${couldHaveBeenChosen.length} values could have been chosen in round ${k}: quorum too small`);
  }
  const forcedValue = couldHaveBeenChosen[0];
  if (forcedValue !== undefined) return { kind: 'value', value: forcedValue, forced: true };
  return { kind: 'value', value: mostFrequent(votedInK) as Value, forced: false };
}

/** The round-0 votes this node has learnt (acceptor → value), as Phase 1 reports of round 1. */
function fastVotesAsReports(s: FastPaxosState): Record<NodeId, Report> {
  const reports: Record<NodeId, Report> = {};
  for (const [acceptor, value] of votesOf(s.learner.votes['0'] ?? EMPTY_TALLY, s.peers)) reports[acceptor] = { vrnd: 0, vval: value, proposal: value };
  return reports;
}

/** Once the round's reports come from a classic quorum, picks its value and sends the 2a (once). */
export function tryPick(s: FastPaxosState): Effects {
  const c = s.coordinator;
  if (c.phase !== 'p1' || c.round < s.maxRound) return noEffects(s);
  const reports = Object.values(c.reports);
  if (reports.length < s.config.classicQuorum) return noEffects(s);
  const pick = pickValue(reports, s.config.n, s.known);
  if (pick.kind === 'none') return noEffects(s);
  return {
    state: { ...s, coordinator: { ...c, phase: 'p2', value: pick.value } },
    send: [{ to: 'all', message: { type: '2a', round: c.round, value: pick.value } }],
  };
}

/**
 * Starts round `round` (> maxRound, owned by this node). Round 1 with a classic
 * quorum of round-0 votes in hand is coordinated recovery; otherwise Phase 1.
 * Either way this node's own acceptor joins the round first (its 1a or 2a is
 * delivered locally before anything is sent), and that promise is persisted, so
 * a restarted coordinator never reuses a round.
 */
export function startRound(s0: FastPaxosState, round: number): Effects {
  if (round <= s0.maxRound || s0.decided !== null) return noEffects(s0);
  const s = observeRound(s0, round);
  if (round === 1 && voterCount(s0.learner.votes['0'] ?? EMPTY_TALLY) >= s.config.classicQuorum) {
    return tryPick({ ...s, coordinator: { round, phase: 'p1', reports: fastVotesAsReports(s), value: null, coordinated: true } });
  }
  const send: Envelope[] = [{ to: 'all', message: { type: '1a', round } }];
  return { state: { ...s, coordinator: { round, phase: 'p1', reports: {}, value: null, coordinated: false } }, send };
}

/** Whether round 0's votes, as learnt so far, show that no value can reach the fast quorum any more. */
export function collisionEvident(s: FastPaxosState): boolean {
  const votes = s.learner.votes['0'] ?? EMPTY_TALLY;
  const voted = voterCount(votes);
  if (voted < s.config.classicQuorum) return false;
  let best = 0;
  for (const value of votes.byValue.keys()) best = Math.max(best, countFor(votes, value));
  return best + (s.config.n - voted) < s.config.fastQuorum;
}

/** Coordinated recovery on an evident collision, by the owner of rounds 0 and 1. */
export function maybeRecoverCollision(s: FastPaxosState): Effects {
  if (s.config.index !== 0 || s.decided !== null || s.maxRound >= 1 || !collisionEvident(s)) return noEffects(s);
  return startRound(s, 1);
}

export function on1b(s: FastPaxosState, from: NodeId, m: { round: number; vrnd: number; vval: Value | null; proposal: Value | null }): Effects {
  const s1 = observeRound(s, m.round);
  const c = s1.coordinator;
  if (c.phase !== 'p1' || c.round !== m.round || c.coordinated) return noEffects(s1);
  const s2: FastPaxosState = {
    ...s1,
    coordinator: { ...c, reports: { ...c.reports, [from]: { vrnd: m.vrnd, vval: m.vval, proposal: m.proposal } } },
  };
  return tryPick(s2);
}

export function onNack(s: FastPaxosState, m: { round: number; promised: number }): Effects {
  return noEffects(observeRound(s, m.promised));
}
