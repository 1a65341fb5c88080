// The acceptor (Lamport's Fast Paxos, §2.2 and §3): it joins rounds (Phase 1b)
// and votes (Phase 2b). Round 0 is fast: its coordinator's Phase 2a "any" is
// implicit (round 0 has no lower round, so Phase 1 is empty and "any" may be
// agreed ahead of time, §3.2), and an acceptor votes the first proposed value
// it receives, as long as it has joined no higher round. Every state change is
// persisted by the shell before the 1b/2b it produces is sent.
//
// A 2b goes to the round's coordinator only, the one learner that counts
// votes: it tells everyone once a quorum voted (learner.ts). A decision takes
// the same two message delays at the coordinator, and n votes are counted
// once rather than n times (at n = 100 that was most of a round's work).
import type { NodeId } from '../protocol.ts';
import { hear, noEffects, observeRound, type Effects, type Envelope } from './effects.ts';
import { ownerOf } from './quorums.ts';
import { accepts, type AcceptorState, type FastPaxosState } from './state.ts';

function vote(a: AcceptorState, round: number, value: string): AcceptorState {
  const last = a.history[a.history.length - 1];
  const history = last !== undefined && last.round === round ? a.history : [...a.history, { round, value }];
  return { rnd: Math.max(a.rnd, round), vrnd: round, vval: value, history };
}

/** A proposal: in the fast round, vote for it if this acceptor has not voted yet and has joined no classic round. */
export function onPropose(s0: FastPaxosState, from: NodeId, value: string): Effects {
  let s = hear(s0, value);
  const send: Envelope[] = [];
  if (s.decided !== null && from !== s.self) send.push({ to: from, message: { type: 'decided', value: s.decided } });
  const a = s.acceptor;
  // An acceptor restricted to one value (replicated tasks) votes for nothing else; refusing is as safe as a lost message.
  if (a.rnd === 0 && a.vrnd === -1 && accepts(s, value)) {
    s = { ...s, acceptor: vote(a, 0, value) };
    send.push({ to: ownerOf(0, s.peers), message: { type: '2b', round: 0, value } });
  }
  return { state: s, send };
}

/** Phase 1a: join the round if it is the highest seen, and report the last vote. */
export function on1a(s0: FastPaxosState, from: NodeId, round: number): Effects {
  if (from !== ownerOf(round, s0.peers)) return noEffects(s0);
  let s = observeRound(s0, round);
  if (round === s.maxRound) s = { ...s, idleTicks: 0 };
  const send: Envelope[] = [];
  if (s.decided !== null && from !== s.self) send.push({ to: from, message: { type: 'decided', value: s.decided } });
  const a = s.acceptor;
  if (round < a.rnd) {
    send.push({ to: from, message: { type: 'nack', round, promised: a.rnd } });
    return { state: s, send };
  }
  if (round > a.rnd) s = { ...s, acceptor: { ...a, rnd: round } };
  // round === a.rnd (a duplicate 1a, or the 2a came first): answering again is harmless;
  // if this acceptor already voted in `round`, the 1b says so and the coordinator,
  // which is past Phase 1 then, ignores it.
  const { vrnd, vval } = s.acceptor;
  if (vrnd < round) send.push({ to: from, message: { type: '1b', round, vrnd, vval, proposal: s.known } });
  return { state: s, send };
}

/** Phase 2a of a classic round: vote for the coordinator's value unless a higher round was joined. */
export function on2a(s0: FastPaxosState, from: NodeId, round: number, value: string): Effects {
  if (from !== ownerOf(round, s0.peers)) return noEffects(s0);
  let s = hear(observeRound(s0, round), value);
  if (round === s.maxRound) s = { ...s, idleTicks: 0 };
  const a = s.acceptor;
  if (round < a.rnd) return { state: s, send: [{ to: from, message: { type: 'nack', round, promised: a.rnd } }] };
  if (a.vrnd === round && a.vval !== value) {
    // Two different 2a values for one classic round cannot come from an honest
    // coordinator; never vote twice in a round.
    return noEffects(s);
  }
  if (!accepts(s, value)) return { state: s, send: [] }; // refused, as if the 2a were lost (the round's progress still reset the timer)
  s = { ...s, acceptor: vote(a, round, value) };
  return { state: s, send: [{ to: ownerOf(round, s.peers), message: { type: '2b', round, value } }] };
}
