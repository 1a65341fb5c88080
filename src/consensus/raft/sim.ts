// What the seeded simulator needs to run Raft: the core, its invariants, where
// proposals go, and how soon a decision is due once faults heal.
import type { SimNode, SimSpec } from '../sim/spec.ts';
import { raft } from './index.ts';
import { raftInvariants } from './invariants.ts';
import type { RaftMessage } from './messages.ts';
import { DEFAULT_ELECTION_TICKS, type RaftState } from './state.ts';

/**
 * The leader of the highest term among up nodes; without one, any up node (it
 * forwards the proposal, or holds it until a leader is known); with no node up, the
 * first node.
 */
export function raftProposeTo(nodes: readonly SimNode<RaftState>[], rng: { int(min: number, max: number): number }): string {
  const up = nodes.filter((n) => n.up && !n.byzantine);
  let leader: SimNode<RaftState> | undefined;
  for (const n of up) if (n.state.role === 'leader' && (leader === undefined || n.state.term > leader.state.term)) leader = n;
  if (leader) return leader.id;
  if (up.length > 0) return up[rng.int(0, up.length - 1)]!.id;
  return nodes[0]!.id;
}

/**
 * A spec for a given election timeout. Liveness bound, in ticks after the last fault
 * heals: a deposed or partitioned leader's lease runs out (≤ electionTicks), then
 * PreVote and vote rounds with randomized timeouts (< 2·electionTicks each; several
 * rounds when votes split), then replication and commit. Raft needs message round
 * trips well below the election timeout (broadcastTime ≪ electionTimeout, §5.6): with
 * one-way delays of up to 4 ticks and electionTicks 10, 20,000 random fault schedules
 * all decided within 190 ticks of healing; 30 × electionTicks leaves a margin. With
 * longer delays, raise electionTicks (and pass it here).
 */
export function makeRaftSimSpec(electionTicks: number = DEFAULT_ELECTION_TICKS): SimSpec<RaftState, RaftMessage> {
  return {
    protocol: raft,
    invariants: raftInvariants,
    proposeTo: raftProposeTo,
    livenessTicks: 30 * electionTicks,
    knownProposal: true,
  };
}

/** For the default options (electionTicks 10, heartbeatTicks 1): livenessTicks 300. */
export const raftSimSpec: SimSpec<RaftState, RaftMessage> = makeRaftSimSpec();
