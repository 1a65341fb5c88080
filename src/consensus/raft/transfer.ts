// Leadership transfer (thesis §3.10). The contract's inputs are fixed, so the shell
// drives it with two messages it may inject (as if from any participant):
//
//   transferLeader { to }  → the leader: stop accepting proposals (they wait in
//     `pending` and follow the new leader), bring `to` (or, when null, the most
//     caught-up follower) up to date, then send it TimeoutNow. Abandoned after
//     electionTicks ticks if it has not happened. A non-leader ignores it.
//   timeoutNow { term }    → a follower: campaign now for term+1, skipping PreVote
//     and the leader lease. This is also the forced path when the health monitor
//     fails a leader that cannot hand over itself: inject it, with the failed
//     leader's term, into a healthy follower with an up-to-date log. A stale term
//     (below the receiver's) is ignored, so a delayed duplicate does nothing.
//     Safety never depends on it: the candidate still needs a majority of votes
//     and an up-to-date log.
import type { NodeId } from '../protocol.ts';
import { sendTo, type Ctx } from './context.ts';
import { startElection } from './election.ts';
import type { RaftMessageOf } from './messages.ts';
import { sendAppend } from './replication.ts';
import { lastIndex, others } from './state.ts';

export function handleTransferLeader(c: Ctx, m: RaftMessageOf<'transferLeader'>): void {
  const s = c.s;
  if (s.role !== 'leader') return;
  let to = m.to;
  if (to === null) {
    let best = -1;
    for (const p of others(s)) {
      const match = s.progress[p]?.match ?? 0;
      if (match > best) {
        best = match;
        to = p;
      }
    }
  }
  if (to === null || to === s.self || !s.progress[to]) return;
  if (s.transfer?.to === to) return;
  s.transfer = { to, elapsed: 0 };
  maybeSendTimeoutNow(c, to);
  if (s.transfer !== null && s.progress[to]!.match < lastIndex(s)) sendAppend(c, to);
}

/** Called after `peer` acknowledged entries: if it is the transfer target and caught up, hand over. */
export function maybeSendTimeoutNow(c: Ctx, peer: NodeId): void {
  const s = c.s;
  if (s.role !== 'leader' || s.transfer?.to !== peer) return;
  if ((s.progress[peer]?.match ?? 0) < lastIndex(s)) return;
  sendTo(c, peer, { type: 'timeoutNow', term: s.term });
}

/** Counts a leader's tick against a transfer; gives up after electionTicks. */
export function tickTransfer(c: Ctx): void {
  const t = c.s.transfer;
  if (!t) return;
  c.s.transfer = t.elapsed + 1 >= c.s.electionTicks ? null : { to: t.to, elapsed: t.elapsed + 1 };
}

/** The term is settled (m.term === s.term). A leader has nothing to do. */
export function handleTimeoutNow(c: Ctx): void {
  if (c.s.role !== 'leader') startElection(c);
}
