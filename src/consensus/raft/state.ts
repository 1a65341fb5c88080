// A Raft node's state: plain, immutable JSON (the core never mutates a state it
// was given), so the simulator can keep, copy and print it. Persistent fields
// (term, votedFor, log, plus applied and the wonTerms history) are written by the
// shell from `Output.persist`; the rest is volatile and rebuilt after a restart.
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import { z } from 'zod';
import type { NodeId, ProtocolOptions } from '../protocol.ts';
import { raftEntrySchema, type RaftEntry } from './messages.ts';

export const DEFAULT_ELECTION_TICKS = 10;
export const DEFAULT_HEARTBEAT_TICKS = 1;
/** Proposals a node holds while it knows no leader (beyond this, new ones are dropped). */
export const MAX_PENDING = 4096;

export type RaftRole = 'follower' | 'precandidate' | 'candidate' | 'leader';

/** The leader's view of one follower (Raft's nextIndex/matchIndex, plus flow control). */
export interface Progress {
  /** Index of the next entry to send. */
  readonly next: number;
  /** Highest index known to be replicated on the follower. */
  readonly match: number;
  /** Highest index sent in an AppendEntries not yet known to be answered. */
  readonly sent: number;
  /** Heard from in the current CheckQuorum window. */
  readonly active: boolean;
}

export interface PendingProposal {
  readonly value: string;
  /** Re-proposal of an uncommitted entry this node created as leader and then had to drop. */
  readonly retry: boolean;
}

export interface RaftState {
  readonly self: NodeId;
  readonly peers: readonly NodeId[];
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** Who leads term 1 without an election, fixed by the options (initRaft); null: term 1 is elected like any other. */
  readonly firstLeader: NodeId | null;

  // Persistent (Figure 2), written before any message of the same output is sent.
  readonly term: number;
  readonly votedFor: NodeId | null;
  /** log[i - 1] is the entry at index i (indices start at 1). */
  readonly log: readonly RaftEntry[];
  /** Last index handed to `decide`: persisted so a restarted node never decides a slot twice. */
  readonly applied: number;
  /**
   * Terms in which this node became leader, ascending. A history variable (persisted):
   * it lets the election-safety check see every leader a term ever had, even after
   * crashes, from the states of one moment; it also tells a node which log entries it
   * created itself (only the leader of term t creates entries of term t).
   */
  readonly wonTerms: readonly number[];

  // Volatile.
  readonly role: RaftRole;
  /** The leader of `term` as far as this node knows. */
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  /**
   * History variable: this node's term when it last advanced commitIndex. Every entry up
   * to commitIndex was committed in a term ≤ commitTerm (leader completeness check).
   */
  readonly commitTerm: number;
  readonly electionElapsed: number;
  /** Randomized in [electionTicks, 2·electionTicks), redrawn on every role or term change. */
  readonly electionTimeout: number;
  readonly heartbeatElapsed: number;
  /** Candidate and precandidate: who answered, granted (true) or not. */
  readonly votes: Readonly<Record<NodeId, boolean>>;
  /** Leader: per-follower replication progress. */
  readonly progress: Readonly<Record<NodeId, Progress>>;
  /** Leader: a leadership transfer under way. */
  readonly transfer: { readonly to: NodeId; readonly elapsed: number } | null;
  /** Proposals waiting for a leader (or for a transfer to end). */
  readonly pending: readonly PendingProposal[];
  /** xoroshiro128+ state (pure-rand), resumable with xoroshiro128plusFromState. */
  readonly rng: readonly number[];
}

/** What the shell stores from `Output.persist` and hands back to `recover`. */
export const raftPersistedSchema = z.strictObject({
  term: z.int().min(0),
  votedFor: z.string().min(1).nullable(),
  log: z.array(raftEntrySchema),
  applied: z.int().min(0).optional(),
  wonTerms: z.array(z.int().min(1)).optional(),
});
export interface RaftPersisted {
  readonly term: number;
  readonly votedFor: NodeId | null;
  readonly log: readonly RaftEntry[];
  /** Absent: 0 (the node decides again from slot 1). */
  readonly applied?: number | undefined;
  /** Absent: none. */
  readonly wonTerms?: readonly number[] | undefined;
}

export function persistedOf(s: RaftState): RaftPersisted {
  return { term: s.term, votedFor: s.votedFor, log: s.log, applied: s.applied, wonTerms: s.wonTerms };
}

/** FNV-1a over the node id, mixed with the seed and a salt: every node draws its own timeouts. */
function nodeSeed(seed: number, self: NodeId, salt: number): number {
  let h = 0x811c9dc5 ^ (seed | 0);
  for (let i = 0; i < self.length; i++) h = Math.imul(h ^ self.charCodeAt(i), 0x01000193);
  return Math.imul(h ^ (salt | 0), 0x01000193) | 0;
}

/** Draws a fresh election timeout in [electionTicks, 2·electionTicks) from the state's generator. */
export function drawTimeout(rng: readonly number[], electionTicks: number): { timeout: number; rng: readonly number[] } {
  const g = xoroshiro128plusFromState(rng);
  const timeout = uniformInt(g, electionTicks, 2 * electionTicks - 1);
  return { timeout, rng: g.getState() };
}

function checkSetup(self: NodeId, peers: readonly NodeId[], opts: ProtocolOptions): { electionTicks: number; heartbeatTicks: number } {
  if (!peers.includes(self)) throw new RangeError(`raft: self ${self} is not among the peers`);
  if (new Set(peers).size !== peers.length) throw new RangeError('raft: peers contain duplicates');
  const electionTicks = opts.electionTicks ?? DEFAULT_ELECTION_TICKS;
  const heartbeatTicks = opts.heartbeatTicks ?? DEFAULT_HEARTBEAT_TICKS;
  if (!Number.isSafeInteger(electionTicks) || electionTicks < 2) throw new RangeError(`raft: electionTicks must be an integer ≥ 2, got ${electionTicks}`);
  if (!Number.isSafeInteger(heartbeatTicks) || heartbeatTicks < 1 || heartbeatTicks >= electionTicks) {
    throw new RangeError(`raft: heartbeatTicks must be an integer in [1, electionTicks), got ${heartbeatTicks}`);
  }
  return { electionTicks, heartbeatTicks };
}

function fresh(self: NodeId, peers: readonly NodeId[], opts: ProtocolOptions, p: RaftPersisted): RaftState {
  const { electionTicks, heartbeatTicks } = checkSetup(self, peers, opts);
  const applied = p.applied ?? 0;
  if (applied > p.log.length) throw new RangeError(`raft: persisted applied ${applied} is beyond the log (${p.log.length} entries)`);
  // Salted with the term so a restarted node does not replay the timeouts it drew before.
  const drawn = drawTimeout(xoroshiro128plus(nodeSeed(opts.seed, self, p.term)).getState(), electionTicks);
  return {
    self,
    peers: [...peers],
    electionTicks,
    heartbeatTicks,
    firstLeader: firstLeaderOf(peers, opts),
    term: p.term,
    votedFor: p.votedFor,
    log: p.log,
    applied,
    wonTerms: p.wonTerms ?? [],
    role: 'follower',
    leader: null,
    // Everything applied was committed, in a term no later than the persisted one.
    commitIndex: applied,
    commitTerm: applied > 0 ? p.term : 0,
    electionElapsed: 0,
    electionTimeout: drawn.timeout,
    heartbeatElapsed: 0,
    votes: {},
    progress: {},
    transfer: null,
    pending: [],
    rng: drawn.rng,
  };
}

/**
 * A round whose value every node knows from the start (ProtocolOptions.proposal)
 * also fixes who leads its first term: peers[0]. Every node starts in term 1
 * having voted for it, as if its RequestVote had been granted by all, so it may
 * lead term 1 at once (election.ts, leadFirstTerm) and a decision needs no
 * election, two message delays fewer. Election safety holds: nobody can vote for
 * anyone else in term 1, and a node that times out campaigns for term 2. Leader
 * completeness holds trivially: no entry can be committed before the first term.
 */
export function initRaft(self: NodeId, peers: readonly NodeId[], opts: ProtocolOptions): RaftState {
  const first = firstLeaderOf(peers, opts);
  return fresh(self, peers, opts, first === null ? { term: 0, votedFor: null, log: [] } : { term: 1, votedFor: first, log: [] });
}

/** Who leads term 1 without an election: the first participant, when the round's value is known (initRaft). */
function firstLeaderOf(peers: readonly NodeId[], opts: ProtocolOptions): NodeId | null {
  return opts.proposal === undefined ? null : (peers[0] ?? null);
}

export function recoverRaft(self: NodeId, peers: readonly NodeId[], opts: ProtocolOptions, persisted: unknown): RaftState {
  if (persisted === undefined) return initRaft(self, peers, opts);
  const parsed = raftPersistedSchema.safeParse(persisted);
  if (!parsed.success) throw new TypeError(`raft: persisted state is malformed: ${parsed.error.message}`);
  return fresh(self, peers, opts, parsed.data);
}

export function lastIndex(s: RaftState): number {
  return s.log.length;
}

/** Term of the entry at `index` (0 for index 0), undefined beyond the log. */
export function termAt(s: RaftState, index: number): number | undefined {
  if (index === 0) return 0;
  return s.log[index - 1]?.term;
}

export function lastTerm(s: RaftState): number {
  return s.log.length === 0 ? 0 : s.log[s.log.length - 1]!.term;
}

export function quorum(s: RaftState): number {
  return Math.floor(s.peers.length / 2) + 1;
}

export function others(s: RaftState): readonly NodeId[] {
  return s.peers.filter((p) => p !== s.self);
}

/** §5.4.1: a candidate's log is at least as up-to-date as ours. */
export function logUpToDate(s: RaftState, candidateLastIndex: number, candidateLastTerm: number): boolean {
  const myTerm = lastTerm(s);
  return candidateLastTerm > myTerm || (candidateLastTerm === myTerm && candidateLastIndex >= lastIndex(s));
}

/** Heard from a current leader within the minimum election timeout (thesis §4.2.3): refuse PreVotes. */
export function inLease(s: RaftState): boolean {
  return s.leader !== null && s.electionElapsed < s.electionTicks;
}
