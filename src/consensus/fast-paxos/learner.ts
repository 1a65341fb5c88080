// The learner: a value is chosen when a quorum of its round's kind (fast ⌈3n/4⌉
// for round 0, classic majority after) voted it in that one round. Acceptors
// send their 2b to the round's coordinator, which counts them, one vote per
// acceptor per round, and tells everyone (`decided`) once a quorum is in. A
// node that learnt the decision also tells nodes that evidently do not know it
// (a `decided` reply), which is all a crash-fault model needs: if the
// coordinator's news is lost, a later round's coordinator hears of the
// decision or re-decides the same value.
import type { NodeId, Value } from '../protocol.ts';
import { hear, noEffects, observeRound, type Effects } from './effects.ts';
import { quorumFor } from './quorums.ts';
import { addVote, countFor, EMPTY_TALLY, indexIn } from '../tally.ts';
import type { FastPaxosState } from './state.ts';

export function decide(s: FastPaxosState, value: Value): FastPaxosState {
  if (s.decided !== null) return s;
  // Votes are of no further use once decided: drop them to keep the state small.
  return { ...s, decided: value, learner: { votes: {} }, coordinator: { ...s.coordinator, phase: 'idle' } };
}

export function on2b(s0: FastPaxosState, from: NodeId, round: number, value: Value): Effects {
  const s = hear(observeRound(s0, round), value);
  if (s.decided !== null) return noEffects(s);
  const key = String(round);
  const inRound = s.learner.votes[key] ?? EMPTY_TALLY;
  const updated = addVote(inRound, indexIn(s.peers, from), value);
  if (updated === inRound) return noEffects(s); // a duplicate (an acceptor votes once a round)
  const next: FastPaxosState = { ...s, learner: { votes: { ...s.learner.votes, [key]: updated } } };
  if (countFor(updated, value) < quorumFor(round, s.config.n)) return noEffects(next);
  return { state: decide(next, value), send: [{ to: 'all', message: { type: 'decided', value } }] };
}

export function onDecided(s: FastPaxosState, value: Value): Effects {
  return noEffects(decide(hear(s, value), value));
}

export function onQuery(s: FastPaxosState, from: NodeId): Effects {
  if (s.decided === null || from === s.self) return noEffects(s);
  return { state: s, send: [{ to: from, message: { type: 'decided', value: s.decided } }] };
}
