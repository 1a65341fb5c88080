// PBFT (Castro & Liskov, OSDI '99; Castro's thesis, MAC variant) as a pure
// protocol core: n ≥ 3f+1 replicas, f = ⌊(n−1)/3⌋ of them Byzantine, quorum 2f+1
// (⌈(n+f+1)/2⌉ in general: n = 100 → 67). Modules:
//   config.ts       f, quorum, the primary of a view, sizes and timeouts
//   digest.ts       request digests and the state hash chain
//   messages.ts     the wire messages (strict zod schema)
//   state.ts        the replica state, init/recover, the persisted form
//   normal.ts       pre-prepare, prepare, commit
//   checkpoints.ts  execution, checkpoints, garbage collection
//   viewChange.ts   view change, new view, and how a backup checks it
//   newViewRules.ts the new view a quorum of view changes determines (pure)
//   transfer.ts     retransmission, status and state transfer
//   step.ts         the step function and the timers
//   invariants.ts   the safety invariant over honest replicas
//   sim.ts          what the seeded simulator needs (pbftSimSpec), Byzantine behaviour
//
// Decisions: `decide` reports each executed real request once, in sequence
// order; its slot counts real requests (0, 1, 2, …). Null requests (no-ops that
// fill gaps after a view change) take a sequence number but no slot, so slots
// have no holes; without view changes slot = sequence number − 1.
import type { Protocol } from '../protocol.ts';
import { faultTolerance, type PbftTuning } from './config.ts';
import { pbftMessageSchema, type PbftMessage } from './messages.ts';
import { initPbft, recoverPbft, type PbftState } from './state.ts';
import { stepPbft } from './step.ts';

/** A PBFT protocol with non-default checkpoint interval, log size or timeouts (tests use small ones). */
export function createPbft(tuning: PbftTuning = {}): Protocol<PbftState, PbftMessage> {
  return {
    name: 'pbft',
    init: (self, peers, opts) => initPbft(self, peers, opts, tuning),
    recover: (self, peers, opts, persisted) => recoverPbft(self, peers, opts, persisted, tuning),
    step: stepPbft,
    messageSchema: pbftMessageSchema,
    faultTolerance,
  };
}

export const pbft: Protocol<PbftState, PbftMessage> = createPbft();

export { faultTolerance, primaryOf, quorum, type PbftConfig, type PbftTuning } from './config.ts';
export { NULL_DIGEST, valueDigest } from './digest.ts';
export { pbftMessageSchema, type PbftMessage } from './messages.ts';
export { pbftPersistedSchema, type Durable, type PbftState } from './state.ts';
