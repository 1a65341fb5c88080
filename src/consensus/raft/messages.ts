// Raft's wire messages, validated by a strict zod schema before the core ever
// sees them (a message failing it is dropped and counted by the shell).
//
// Protocol messages (Raft paper §5, Ongaro's thesis §3, §4.2.3 and §9.6):
//   vote / voteResp         RequestVote and its reply; `pre: true` is a PreVote
//                           round (no term change, no vote recorded)
//   append / appendOk /     AppendEntries and its two replies; a reject echoes the
//   appendReject            probed prevLogIndex and carries a conflict hint so the
//                           leader backs up a whole term at a time (§5.3, end)
//   propose                 a client proposal forwarded by a non-leader
// Control messages the shell (or a leader) may inject:
//   transferLeader          to the leader: hand leadership to `to` (or to the most
//                           caught-up follower when null), thesis §3.10
//   timeoutNow              to a follower: start an election now, skipping PreVote
//                           and the leader lease; sent by a transferring leader,
//                           or injected by the shell when the health monitor has
//                           failed the leader (use the failed leader's term)
import { z } from 'zod';

/** At most this many entries travel in one AppendEntries. */
export const MAX_ENTRIES_PER_APPEND = 64;
/** A forwarded proposal travels at most this many hops between non-leaders, then waits. */
export const MAX_FORWARD_HOPS = 8;

const term = z.int().min(0);
const index = z.int().min(0);
const nodeId = z.string().min(1);

/** A log entry: `value` null is the no-op a new leader appends (§8), never decided. */
export const raftEntrySchema = z.strictObject({ term: z.int().min(1), value: z.string().nullable() });

export const raftMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('vote'), term, lastLogIndex: index, lastLogTerm: term, pre: z.boolean() }),
  z.strictObject({ type: z.literal('voteResp'), term, granted: z.boolean(), pre: z.boolean() }),
  z.strictObject({
    type: z.literal('append'),
    term,
    prevLogIndex: index,
    prevLogTerm: term,
    entries: z.array(raftEntrySchema).max(MAX_ENTRIES_PER_APPEND),
    leaderCommit: index,
  }),
  z.strictObject({ type: z.literal('appendOk'), term, matchIndex: index }),
  /** `index`: the prevLogIndex that failed; conflictTerm 0: the follower's log ends before conflictIndex. */
  z.strictObject({ type: z.literal('appendReject'), term, index, conflictIndex: index, conflictTerm: term }),
  z.strictObject({ type: z.literal('propose'), value: z.string(), retry: z.boolean(), hops: z.int().min(0).max(MAX_FORWARD_HOPS) }),
  z.strictObject({ type: z.literal('transferLeader'), to: nodeId.nullable() }),
  z.strictObject({ type: z.literal('timeoutNow'), term }),
]);

export type RaftEntry = z.infer<typeof raftEntrySchema>;
export type RaftMessage = z.infer<typeof raftMessageSchema>;
export type RaftMessageOf<T extends RaftMessage['type']> = Extract<RaftMessage, { type: T }>;
