// One step of a Raft node: a tick, a client proposal, or a message. The term rules
// of Figure 2 live here: any message of a higher term makes the node a follower of
// that term first (except a PreVote request and a granted PreVote reply, which
// speak of a term nobody is in yet); a message of a lower term is answered with the
// current term where the sender must learn it (RequestVote, AppendEntries) and is
// otherwise ignored.
import type { Input, NodeId, Output } from '../protocol.ts';
import { becomeFollower, closeCtx, openCtx, sendTo, type Ctx } from './context.ts';
import { handleVote, handleVoteResp, leadFirstTerm, tickElection } from './election.ts';
import type { RaftMessage } from './messages.ts';
import { flushPending, propose } from './proposals.ts';
import { broadcastAppend, handleAppend, handleAppendOk, handleAppendReject } from './replication.ts';
import { others, quorum, type RaftState } from './state.ts';
import { handleTimeoutNow, handleTransferLeader, maybeSendTimeoutNow, tickTransfer } from './transfer.ts';

export function stepRaft(state: RaftState, input: Input<RaftMessage>): Output<RaftState, RaftMessage> {
  const c = openCtx(state);
  if (input.kind === 'tick') tick(c);
  else if (input.kind === 'propose') {
    const tookOffice = leadFirstTerm(c);
    propose(c, { value: input.value, retry: false }, null, 0);
    // The first term's no-op and the proposed value, in one AppendEntries per follower.
    if (tookOffice) broadcastAppend(c);
  }
  else receive(c, input.from, input.message);
  flushPending(c, state.leader);
  return closeCtx(c);
}

function tick(c: Ctx): void {
  if (c.s.role !== 'leader') {
    tickElection(c);
    return;
  }
  const s = c.s;
  s.heartbeatElapsed++;
  s.electionElapsed++;
  tickTransfer(c);
  if (s.electionElapsed >= s.electionTicks) {
    // CheckQuorum (thesis §6.2): a leader that has not heard from a majority within an
    // election timeout steps down, so the lease its followers honour stays meaningful.
    s.electionElapsed = 0;
    const active = 1 + others(s).filter((p) => s.progress[p]?.active).length;
    if (active < quorum(s)) {
      becomeFollower(c, s.term, null);
      return;
    }
    const progress = { ...s.progress };
    for (const p of others(s)) if (progress[p]) progress[p] = { ...progress[p]!, active: false };
    s.progress = progress;
  }
  if (s.heartbeatElapsed >= s.heartbeatTicks) {
    s.heartbeatElapsed = 0;
    broadcastAppend(c);
  }
}

function receive(c: Ctx, from: NodeId, m: RaftMessage): void {
  const s = c.s;
  if (!s.peers.includes(from)) return;
  switch (m.type) {
    case 'propose':
      propose(c, { value: m.value, retry: m.retry }, from, m.hops);
      return;
    case 'transferLeader':
      handleTransferLeader(c, m);
      return;
    default:
      break;
  }
  if (from === s.self && m.type !== 'timeoutNow') return;

  if (m.term > s.term) {
    const speaksOfFutureTerm = (m.type === 'vote' && m.pre) || (m.type === 'voteResp' && m.pre && m.granted);
    if (!speaksOfFutureTerm) becomeFollower(c, m.term, m.type === 'append' ? from : null);
  } else if (m.term < s.term) {
    if (m.type === 'append') sendTo(c, from, { type: 'appendReject', term: s.term, index: m.prevLogIndex, conflictIndex: 0, conflictTerm: 0 });
    else if (m.type === 'vote') sendTo(c, from, { type: 'voteResp', term: s.term, granted: false, pre: m.pre });
    return;
  }

  switch (m.type) {
    case 'vote':
      handleVote(c, from, m);
      return;
    case 'voteResp':
      handleVoteResp(c, from, m);
      return;
    case 'append':
      if (s.role === 'leader') return; // another leader of our term: impossible (election safety)
      if (s.role !== 'follower') becomeFollower(c, s.term, from);
      s.leader = from;
      s.electionElapsed = 0;
      handleAppend(c, from, m);
      return;
    case 'appendOk':
      if (s.role !== 'leader') return;
      handleAppendOk(c, from, m);
      maybeSendTimeoutNow(c, from);
      return;
    case 'appendReject':
      if (s.role !== 'leader') return;
      handleAppendReject(c, from, m);
      return;
    case 'timeoutNow':
      handleTimeoutNow(c);
      return;
  }
}
