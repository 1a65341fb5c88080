// The working context of one step: a shallow copy of the state whose fields are
// replaced (never mutated in place), the messages and decisions produced so far,
// and whether anything persistent changed. Only `step` creates one and turns it
// into an Output; the other modules are functions over it.
import type { NodeId, Output, Value } from '../protocol.ts';
import type { RaftMessage } from './messages.ts';
import { drawTimeout, persistedOf, type RaftState } from './state.ts';

export type Draft = { -readonly [K in keyof RaftState]: RaftState[K] };

export interface Ctx {
  readonly s: Draft;
  readonly send: { to: NodeId | 'all'; message: RaftMessage }[];
  readonly decide: { slot: number; value: Value }[];
  /** term, votedFor, log, applied or wonTerms changed: the output must carry `persist`. */
  dirty: boolean;
}

export function openCtx(state: RaftState): Ctx {
  return { s: { ...state }, send: [], decide: [], dirty: false };
}

export function closeCtx(c: Ctx): Output<RaftState, RaftMessage> {
  const state: RaftState = c.s;
  return c.dirty ? { state, send: c.send, decide: c.decide, persist: persistedOf(state) } : { state, send: c.send, decide: c.decide };
}

export function sendTo(c: Ctx, to: NodeId | 'all', message: RaftMessage): void {
  c.send.push({ to, message });
}

export function resetElectionTimer(c: Ctx): void {
  const drawn = drawTimeout(c.s.rng, c.s.electionTicks);
  c.s.electionTimeout = drawn.timeout;
  c.s.rng = drawn.rng;
  c.s.electionElapsed = 0;
}

/** Moves to a term (never backwards), forgetting the vote when the term changes. */
export function setTerm(c: Ctx, term: number): void {
  if (term > c.s.term) {
    c.s.term = term;
    c.s.votedFor = null;
    c.dirty = true;
  }
}

/** Becomes a follower of `term` (≥ the current term), with `leader` if known. */
export function becomeFollower(c: Ctx, term: number, leader: NodeId | null): void {
  setTerm(c, term);
  c.s.role = 'follower';
  c.s.leader = leader;
  c.s.votes = {};
  c.s.progress = {};
  c.s.transfer = null;
  c.s.heartbeatElapsed = 0;
  resetElectionTimer(c);
}
