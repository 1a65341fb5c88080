// Leader election (§5.2, §5.4.1) with PreVote (thesis §9.6) and the leader lease
// (thesis §4.2.3).
//
// A follower whose randomized timeout expires first runs a PreVote round: it asks
// for votes for term+1 without changing its term or anyone's vote. A peer grants a
// PreVote only if the candidate's log is at least as up-to-date as its own and it
// has not heard from a leader within the minimum election timeout. Only with a
// majority of PreVotes does the node become a candidate (term+1, vote for itself,
// persisted) and ask for real votes. So a node cut off from the majority never
// inflates its term and, when it comes back, never deposes a working leader.
// TimeoutNow (transfer.ts) skips PreVote.
import type { NodeId } from '../protocol.ts';
import { becomeFollower, resetElectionTimer, sendTo, setTerm, type Ctx } from './context.ts';
import type { RaftMessageOf } from './messages.ts';
import { broadcastAppend, maybeCommit } from './replication.ts';
import { inLease, lastIndex, lastTerm, logUpToDate, others, quorum, type Progress } from './state.ts';

export function startPreVote(c: Ctx): void {
  const s = c.s;
  s.role = 'precandidate';
  s.leader = null;
  s.votes = { [s.self]: true };
  resetElectionTimer(c);
  sendTo(c, 'all', { type: 'vote', term: s.term + 1, lastLogIndex: lastIndex(s), lastLogTerm: lastTerm(s), pre: true });
  countVotes(c);
}

/** Becomes a candidate of the next term and asks for votes (also what TimeoutNow triggers). */
export function startElection(c: Ctx): void {
  const s = c.s;
  setTerm(c, s.term + 1);
  s.votedFor = s.self;
  c.dirty = true;
  s.role = 'candidate';
  s.leader = null;
  s.votes = { [s.self]: true };
  s.transfer = null;
  s.progress = {};
  resetElectionTimer(c);
  sendTo(c, 'all', { type: 'vote', term: s.term, lastLogIndex: lastIndex(s), lastLogTerm: lastTerm(s), pre: false });
  countVotes(c);
}

/**
 * The first term of a round whose leader the options fixed (state.ts, initRaft):
 * its leader takes office when asked to propose, with every vote already cast for
 * it. Only from the state it started in: never again after it led, or once it saw
 * any other term or entry.
 */
export function leadFirstTerm(c: Ctx): boolean {
  const s = c.s;
  if (s.firstLeader !== s.self || s.role !== 'follower' || s.term !== 1 || s.votedFor !== s.self || s.log.length > 0 || s.wonTerms.length > 0) return false;
  s.votes = Object.fromEntries(s.peers.map((p) => [p, true]));
  becomeLeader(c, false);
  return true;
}

/**
 * `announce` false: the caller broadcasts the first AppendEntries itself,
 * after appending the value it was asked to propose, so the no-op and the
 * value travel in one message and each follower acks once.
 */
function becomeLeader(c: Ctx, announce = true): void {
  const s = c.s;
  s.role = 'leader';
  s.leader = s.self;
  s.transfer = null;
  s.heartbeatElapsed = 0;
  s.electionElapsed = 0;
  s.wonTerms = [...s.wonTerms, s.term];
  const last = lastIndex(s);
  const progress: Record<NodeId, Progress> = {};
  // Voters have just been heard from: they count as active in the first CheckQuorum window.
  for (const p of others(s)) progress[p] = { next: last + 1, match: 0, sent: last, active: s.votes[p] === true };
  s.progress = progress;
  s.votes = {};
  // A no-op of the new term (§8): committing it commits every earlier entry (Figure 8).
  s.log = [...s.log, { term: s.term, value: null }];
  c.dirty = true;
  if (announce) broadcastAppend(c);
  maybeCommit(c);
}

function countVotes(c: Ctx): void {
  const s = c.s;
  const answers = Object.values(s.votes);
  const granted = answers.filter((v) => v).length;
  const rejected = answers.length - granted;
  if (granted >= quorum(s)) {
    if (s.role === 'precandidate') startElection(c);
    else if (s.role === 'candidate') becomeLeader(c);
  } else if (rejected >= quorum(s)) {
    becomeFollower(c, s.term, null);
  }
}

/** A follower, precandidate or candidate counts a tick; on timeout it starts a PreVote round. */
export function tickElection(c: Ctx): void {
  c.s.electionElapsed++;
  if (c.s.electionElapsed >= c.s.electionTimeout) startPreVote(c);
}

/** RequestVote / PreVote (the term is settled: a real vote has m.term === s.term). */
export function handleVote(c: Ctx, from: NodeId, m: RaftMessageOf<'vote'>): void {
  const s = c.s;
  const upToDate = logUpToDate(s, m.lastLogIndex, m.lastLogTerm);
  if (m.pre) {
    const granted = m.term > s.term && upToDate && !inLease(s);
    sendTo(c, from, { type: 'voteResp', term: granted ? m.term : s.term, granted, pre: true });
    return;
  }
  const granted = m.term === s.term && (s.votedFor === null || s.votedFor === from) && upToDate;
  if (granted && s.votedFor !== from) {
    s.votedFor = from;
    c.dirty = true;
  }
  if (granted) s.electionElapsed = 0;
  sendTo(c, from, { type: 'voteResp', term: s.term, granted, pre: false });
}

export function handleVoteResp(c: Ctx, from: NodeId, m: RaftMessageOf<'voteResp'>): void {
  const s = c.s;
  if (m.pre) {
    if (s.role !== 'precandidate') return;
    // Granted: the term asked for (s.term + 1); refused: the voter's term, not above ours here.
    if (m.granted ? m.term !== s.term + 1 : m.term > s.term) return;
  } else if (s.role !== 'candidate' || m.term !== s.term) {
    return;
  }
  s.votes = { ...s.votes, [from]: m.granted };
  countVotes(c);
}
