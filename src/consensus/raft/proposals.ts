// Client proposals. The leader appends them (§5.3). Any other node forwards a
// proposal to the leader it knows; knowing none (an election is under way, or the
// leader is transferring), it keeps the proposal in `pending` (volatile, at most
// MAX_PENDING) and forwards or appends it once a leader is known. A forwarded
// proposal that reaches a non-leader is forwarded on at most MAX_FORWARD_HOPS hops,
// then held. Proposals are not deduplicated: a value proposed twice is decided
// twice, at two slots (clients wanting exactly-once put an id in the value);
// only the core's own re-proposals (`retry`, see replication.ts) are dropped by a
// leader whose log already holds the value.
import type { NodeId } from '../protocol.ts';
import { sendTo, type Ctx } from './context.ts';
import { MAX_FORWARD_HOPS } from './messages.ts';
import { leaderAppend } from './replication.ts';
import { MAX_PENDING, type PendingProposal } from './state.ts';

function leaderAccept(c: Ctx, p: PendingProposal): void {
  if (p.retry && c.s.log.some((e) => e.value === p.value)) return;
  leaderAppend(c, p.value);
}

function hold(c: Ctx, p: PendingProposal): void {
  if (c.s.pending.length < MAX_PENDING) c.s.pending = [...c.s.pending, p];
}

/** A proposal from a client (`from` null) or forwarded by a peer. */
export function propose(c: Ctx, p: PendingProposal, from: NodeId | null, hops: number): void {
  const s = c.s;
  if (s.role === 'leader') {
    if (s.transfer === null) leaderAccept(c, p);
    else hold(c, p);
    return;
  }
  const leader = s.leader;
  if (leader !== null && leader !== s.self && leader !== from && hops < MAX_FORWARD_HOPS) {
    sendTo(c, leader, { type: 'propose', value: p.value, retry: p.retry, hops: from === null ? 0 : hops + 1 });
  } else {
    hold(c, p);
  }
}

/**
 * At the end of every step: a leader (not transferring) appends what it holds; a
 * follower forwards what it holds when it has learned of a new leader in this step
 * (`leaderBefore` is the leader it knew before), not on every step, so two nodes
 * that each believe the other leads do not bounce a proposal between them.
 */
export function flushPending(c: Ctx, leaderBefore: NodeId | null): void {
  const s = c.s;
  if (s.pending.length === 0) return;
  if (s.role === 'leader') {
    if (s.transfer !== null) return;
    const held = s.pending;
    s.pending = [];
    for (const p of held) leaderAccept(c, p);
  } else if (s.leader !== null && s.leader !== s.self && s.leader !== leaderBefore) {
    const held = s.pending;
    s.pending = [];
    for (const p of held) sendTo(c, s.leader, { type: 'propose', value: p.value, retry: p.retry, hops: 0 });
  }
}
