// Fast Paxos (Lamport, 2006) as a pure protocol core: single decree (slot 0,
// one decision per instance), every node acceptor and learner, round 0 fast
// (fast quorum ⌈3n/4⌉), rounds ≥ 1 classic (majority), coordinated recovery
// from a collision by peers[0]. See quorums.ts, acceptor.ts, coordinator.ts,
// learner.ts and step.ts.
import type { Protocol } from '../protocol.ts';
import { fastPaxosMessageSchema, type FastPaxosMessage } from './messages.ts';
import { faultTolerance } from './quorums.ts';
import { initState, recoverState, type FastPaxosState } from './state.ts';
import { step } from './step.ts';

export const fastPaxos: Protocol<FastPaxosState, FastPaxosMessage> = {
  name: 'fast-paxos',
  init: initState,
  recover: recoverState,
  step,
  messageSchema: fastPaxosMessageSchema,
  faultTolerance,
};

export type { FastPaxosMessage } from './messages.ts';
export type { FastPaxosPersisted, FastPaxosState } from './state.ts';
export { classicQuorum, fastQuorum, faultTolerance, ownerOf } from './quorums.ts';
export { pickValue } from './coordinator.ts';
