// What a handler returns: the next state and the messages it emits. A message
// to 'all' goes to every other peer AND is delivered to this node itself
// (every node is acceptor and learner); a message to `self` is delivered
// locally only. `step` does that routing.
import type { NodeId } from '../protocol.ts';
import type { FastPaxosMessage } from './messages.ts';
import type { FastPaxosState } from './state.ts';

export interface Envelope {
  readonly to: NodeId | 'all';
  readonly message: FastPaxosMessage;
}

export interface Effects {
  readonly state: FastPaxosState;
  readonly send: readonly Envelope[];
}

export function noEffects(state: FastPaxosState): Effects {
  return { state, send: [] };
}

/** Notes a round seen anywhere; a higher one is progress (resets the timeout) and ends this node's own, lower round. */
export function observeRound(s: FastPaxosState, round: number): FastPaxosState {
  if (round <= s.maxRound) return s;
  const coordinator = s.coordinator.round < round && s.coordinator.phase !== 'idle' ? { ...s.coordinator, phase: 'idle' as const } : s.coordinator;
  return { ...s, maxRound: round, idleTicks: 0, coordinator };
}

/** Remembers a proposed value heard of (the first one). */
export function hear(s: FastPaxosState, value: string): FastPaxosState {
  return s.known === null ? { ...s, known: value } : s;
}
