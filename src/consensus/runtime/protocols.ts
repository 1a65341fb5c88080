// The protocols a proposal may name, and what the runtime needs to know about
// each beyond its core: how few participants still make sense, which
// participant a proposal goes to first, how many matching decisions make the
// outcome final, and how many rounds (ballots, terms, views) a state has seen.
import type { Input, NodeId, Protocol, ProtocolName } from '../protocol.ts';
import { fastPaxos, type FastPaxosState } from '../fast-paxos/index.ts';
import { classicQuorum } from '../fast-paxos/quorums.ts';
import { pbft, type PbftState } from '../pbft/index.ts';
import { quorum as pbftQuorum } from '../pbft/config.ts';
import { majority, quorum, type QuorumState } from '../quorum/index.ts';
import { raft, type RaftState } from '../raft/index.ts';

// The runtime is generic over each core's state and message types; it only
// stores states, hands them back, and validates messages with the core's schema.
export type AnyProtocol = Protocol<any, any>;

export interface ProtocolRuntime {
  protocol: AnyProtocol;
  /**
   * Fewest participants: enough that the protocol tolerates one fault
   * (crash for quorum, Raft and Fast Paxos: 3; Byzantine for PBFT: 3f+1 = 4).
   */
  minParticipants: number;
  /**
   * Decisions from distinct agents, all for one value, that make the outcome
   * final for the client. Crash-fault cores never decide a value that is not
   * chosen, so one is enough; under PBFT a client waits for f+1 matching
   * replies, so at least one comes from an honest replica.
   */
  decisionsNeeded(n: number): number;
  /**
   * The core gets the round's value from the job (ProtocolOptions.proposal)
   * and saves the message delays that would carry it: quorum and Fast Paxos
   * vote for it at once, Raft's first term needs no election.
   */
  knownProposal: boolean;
  /** As a round starts, every agent is told to propose its value (quorum, Fast Paxos), not just the first participant. */
  startsEverywhere: boolean;
  /** Inputs that start a round at its first proposer, besides `propose` (Raft: campaign at once). */
  kickoff(state: unknown, self: NodeId): Input<unknown>[];
  /** Rounds this agent has been through (quorum ballots, Raft terms, PBFT views, Fast Paxos rounds), 1 for the first. */
  roundsOf(state: unknown): number;
  /**
   * Replicated tasks: the core honours ProtocolOptions.accept, and this many
   * of n replicas must agree for their output to be decided. Undefined: the
   * protocol cannot judge replicas' outputs (Raft replicates its leader's value).
   */
  replicaQuorum?: (n: number) => number;
}

const none = (): Input<unknown>[] => [];

export const PROTOCOLS: Readonly<Record<ProtocolName, ProtocolRuntime>> = {
  quorum: {
    protocol: quorum,
    minParticipants: 3,
    decisionsNeeded: () => 1,
    knownProposal: true,
    startsEverywhere: true,
    kickoff: none,
    replicaQuorum: majority,
    // Ballot b = round·n + index (quorum/messages.ts).
    roundsOf: (s) => {
      const q = s as QuorumState;
      const top = Math.max(q.highestSeen, q.promised, q.maxBallot, 0);
      return Math.floor(top / q.config.peers.length) + 1;
    },
  },
  raft: {
    protocol: raft,
    minParticipants: 3,
    decisionsNeeded: () => 1,
    knownProposal: true,
    startsEverywhere: false,
    // The first participant leads term 1 without an election once asked to
    // propose (knownProposal: raft/state.ts, initRaft). Where it cannot (it has
    // led or seen another term), the shell nominates it with the TimeoutNow the
    // core accepts for leadership transfer (raft/transfer.ts) rather than wait
    // out a randomized election timeout (10–20 ticks): it campaigns at once;
    // safety still rests on votes and logs alone. A leader ignores it.
    kickoff: (s, self) => [{ kind: 'receive', from: self, message: { type: 'timeoutNow', term: (s as RaftState).term } }],
    roundsOf: (s) => Math.max(1, (s as RaftState).term),
  },
  pbft: {
    protocol: pbft,
    minParticipants: 4,
    decisionsNeeded: (n) => pbft.faultTolerance(n) + 1,
    knownProposal: false,
    startsEverywhere: false,
    kickoff: none,
    // A value commits with a quorum (2f+1 when n = 3f+1) of replicas that prepared it, and a replica prepares only its own output.
    replicaQuorum: pbftQuorum,
    roundsOf: (s) => (s as PbftState).durable.view + 1,
  },
  'fast-paxos': {
    protocol: fastPaxos,
    minParticipants: 3,
    decisionsNeeded: () => 1,
    knownProposal: true,
    startsEverywhere: true,
    kickoff: none,
    // Replicas' outputs are decided in the fast round by ⌈3n/4⌉ of them, or, short of that, in a classic round by a majority.
    replicaQuorum: classicQuorum,
    roundsOf: (s) => Math.max(0, (s as FastPaxosState).maxRound) + 1,
  },
};

export const PROTOCOL_NAMES = Object.keys(PROTOCOLS) as ProtocolName[];
