// What Fast Paxos gives the seeded simulator: its invariants, where proposals
// go (any up node: proposers multicast straight to the acceptors), and how
// soon it must decide once faults heal.
import type { SimSpec } from '../sim/spec.ts';
import { fastPaxos } from './index.ts';
import { fastPaxosInvariants } from './invariants.ts';
import type { FastPaxosMessage } from './messages.ts';
import { DEFAULT_TIMEOUT_TICKS, type FastPaxosState } from './state.ts';

/**
 * Once faults heal, with the default base timeout T = 10 ticks: the owner of
 * the next round starts it within 8T (the backoff cap; a node further down the
 * rotation waits T/2 more per position), Phase 1 + 2 take four message delays,
 * a proposer resends its value and a node that heard of nothing asks within 8T,
 * and decided nodes answer both. Rounds complete without being pre-empted while
 * message delays stay under about 2.5T. 1,000 ticks covers that several times
 * over, collision and recovery included: in the property tests (n ≤ 25, delays
 * up to 15 ticks after healing) the worst run took 256 ticks. The bound assumes
 * electionTicks ≤ 10 (the default); with a larger one, scale it by electionTicks / 10.
 */
export const FAST_PAXOS_LIVENESS_TICKS = 100 * DEFAULT_TIMEOUT_TICKS;

export const fastPaxosSimSpec: SimSpec<FastPaxosState, FastPaxosMessage> = {
  protocol: fastPaxos,
  invariants: fastPaxosInvariants,
  proposeTo(nodes, rng) {
    const up = nodes.filter((node) => node.up && !node.byzantine);
    const pool = up.length > 0 ? up : nodes;
    const chosen = pool[rng.int(0, pool.length - 1)];
    if (chosen === undefined) throw new Error('fast-paxos: no node to propose to');
    return chosen.id;
  },
  livenessTicks: FAST_PAXOS_LIVENESS_TICKS,
  knownProposal: true,
};
