// Raft (Ongaro & Ousterhout 2014; Ongaro's thesis 2014) as a pure protocol core:
// election with seeded randomized timeouts, PreVote and a leader lease,
// CheckQuorum, log replication with conflict truncation, commitment at a majority
// of the current term, persistence of term, vote and log before any reply, and
// leadership transfer by TimeoutNow. See the modules for each part:
//   state.ts        the node state, init/recover, the persisted form
//   messages.ts     the wire messages (strict zod schema)
//   election.ts     PreVote, RequestVote, becoming leader
//   replication.ts  AppendEntries, commitment, decisions
//   proposals.ts    client proposals: append, forward or hold
//   transfer.ts     leadership transfer (transferLeader, timeoutNow)
//   step.ts         the step function and the term rules
//   invariants.ts   the safety properties, checked over all nodes
//   sim.ts          what the seeded simulator needs (raftSimSpec)
import type { Protocol } from '../protocol.ts';
import { raftMessageSchema, type RaftMessage } from './messages.ts';
import { initRaft, recoverRaft, type RaftState } from './state.ts';
import { stepRaft } from './step.ts';

export const raft: Protocol<RaftState, RaftMessage> = {
  name: 'raft',
  init: initRaft,
  recover: recoverRaft,
  step: stepRaft,
  messageSchema: raftMessageSchema,
  /** Crash faults: a majority must stay up, so ⌈n/2⌉ − 1 may fail. */
  faultTolerance: (n) => Math.max(0, Math.ceil(n / 2) - 1),
};

export type { RaftEntry, RaftMessage } from './messages.ts';
export { MAX_ENTRIES_PER_APPEND, MAX_FORWARD_HOPS, raftMessageSchema } from './messages.ts';
export type { Progress, RaftPersisted, RaftRole, RaftState } from './state.ts';
export { DEFAULT_ELECTION_TICKS, DEFAULT_HEARTBEAT_TICKS, raftPersistedSchema } from './state.ts';
