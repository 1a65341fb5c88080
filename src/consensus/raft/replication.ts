// Log replication (§5.3) and commitment (§5.4.2).
//
// The leader keeps per follower `next` (next index to send), `match` (known
// replicated) and `sent` (highest index in flight). AppendEntries carries the
// entries from `next` (at most MAX_ENTRIES_PER_APPEND); a follower accepts only if
// its log has prevLogIndex with prevLogTerm, drops its entries only where they
// conflict with the leader's (so a stale, duplicated or reordered AppendEntries
// never shortens its log) and learns commitIndex as min(leaderCommit, last new
// index). A reject carries a hint (conflictTerm and its first index, or the
// follower's log end) so the leader backs up a term at a time. The leader commits
// the highest index replicated on a majority, and only if that entry is of its
// own term (Figure 8): earlier entries are committed indirectly with it.
import type { NodeId } from '../protocol.ts';
import { sendTo, type Ctx } from './context.ts';
import { MAX_ENTRIES_PER_APPEND, type RaftEntry, type RaftMessageOf } from './messages.ts';
import { lastIndex, others, quorum, termAt, type Progress } from './state.ts';

function setProgress(c: Ctx, peer: NodeId, pr: Progress): void {
  c.s.progress = { ...c.s.progress, [peer]: pr };
}

/** Sends `peer` the entries from its `next` (or just a heartbeat when it has them all). */
export function sendAppend(c: Ctx, peer: NodeId): void {
  const s = c.s;
  const pr = s.progress[peer];
  if (!pr) return;
  const prev = pr.next - 1;
  const entries = s.log.slice(prev, Math.min(s.log.length, prev + MAX_ENTRIES_PER_APPEND));
  sendTo(c, peer, { type: 'append', term: s.term, prevLogIndex: prev, prevLogTerm: termAt(s, prev) ?? 0, entries, leaderCommit: s.commitIndex });
  setProgress(c, peer, { ...pr, sent: prev + entries.length });
}

export function broadcastAppend(c: Ctx): void {
  for (const p of others(c.s)) sendAppend(c, p);
}

/** The leader appends a client value and ships it at once to followers with nothing else unsent. */
export function leaderAppend(c: Ctx, value: string): void {
  const s = c.s;
  s.log = [...s.log, { term: s.term, value }];
  c.dirty = true;
  const last = lastIndex(s);
  for (const p of others(s)) {
    const pr = s.progress[p];
    if (!pr || pr.sent !== last - 1) continue; // still catching up: acks and heartbeats carry it
    sendTo(c, p, { type: 'append', term: s.term, prevLogIndex: last - 1, prevLogTerm: termAt(s, last - 1) ?? 0, entries: [s.log[last - 1]!], leaderCommit: s.commitIndex });
    setProgress(c, p, { ...pr, sent: last });
  }
  maybeCommit(c);
}

/** Hands every newly committed entry to `decide`, in order, once (no-ops are skipped). */
export function apply(c: Ctx): void {
  const s = c.s;
  if (s.commitIndex <= s.applied) return;
  for (let i = s.applied + 1; i <= s.commitIndex; i++) {
    const e = s.log[i - 1];
    if (e && e.value !== null) c.decide.push({ slot: i, value: e.value });
  }
  s.applied = s.commitIndex;
  c.dirty = true;
}

function advanceCommit(c: Ctx, to: number): boolean {
  if (to <= c.s.commitIndex) return false;
  c.s.commitIndex = to;
  c.s.commitTerm = c.s.term;
  apply(c);
  return true;
}

/** §5.4.2: commit the majority-replicated index if its entry is of the current term. */
export function maybeCommit(c: Ctx): void {
  const s = c.s;
  const matches = [lastIndex(s), ...others(s).map((p) => s.progress[p]?.match ?? 0)].sort((a, b) => b - a);
  const n = matches[quorum(s) - 1] ?? 0;
  if (n <= s.commitIndex || termAt(s, n) !== s.term) return;
  const before = s.commitIndex;
  advanceCommit(c, n);
  // Tell followers at once (an empty AppendEntries at their match), so they decide
  // without waiting for the next heartbeat; in-flight entries are not re-sent.
  for (const p of others(s)) {
    const pr = s.progress[p];
    if (!pr || pr.match <= before) continue;
    sendTo(c, p, { type: 'append', term: s.term, prevLogIndex: pr.match, prevLogTerm: termAt(s, pr.match) ?? 0, entries: [], leaderCommit: s.commitIndex });
  }
}

/** Follower side of AppendEntries (the term is already settled: m.term === s.term, we follow `from`). */
export function handleAppend(c: Ctx, from: NodeId, m: RaftMessageOf<'append'>): void {
  const s = c.s;
  const last = lastIndex(s);
  if (m.prevLogIndex > last) {
    sendTo(c, from, { type: 'appendReject', term: s.term, index: m.prevLogIndex, conflictIndex: last + 1, conflictTerm: 0 });
    return;
  }
  const have = termAt(s, m.prevLogIndex) ?? 0;
  if (have !== m.prevLogTerm) {
    let first = m.prevLogIndex;
    while (first > 1 && termAt(s, first - 1) === have) first--;
    sendTo(c, from, { type: 'appendReject', term: s.term, index: m.prevLogIndex, conflictIndex: first, conflictTerm: have });
    return;
  }
  let log = s.log;
  for (let k = 0; k < m.entries.length; k++) {
    const idx = m.prevLogIndex + 1 + k;
    const mine = log[idx - 1];
    if (mine && mine.term === m.entries[k]!.term) continue;
    if (mine) {
      const dropped = log.slice(idx - 1);
      retryOwnEntries(c, from, dropped);
      log = log.slice(0, idx - 1);
    }
    log = log.concat(m.entries.slice(k));
    break;
  }
  if (log !== s.log) {
    s.log = log;
    c.dirty = true;
  }
  const matchIndex = m.prevLogIndex + m.entries.length;
  advanceCommit(c, Math.min(m.leaderCommit, matchIndex));
  sendTo(c, from, { type: 'appendOk', term: s.term, matchIndex });
}

/**
 * Entries overwritten by a leader were never committed (leader completeness). Those
 * this node created while it led (their term is one it won) are proposed again to the
 * leader overwriting them, so a proposal accepted by a leader that lost its office is
 * not silently lost. A re-proposal is marked `retry`: a leader whose log already holds
 * the value drops it, so this mechanism never gets one value decided twice (a log
 * holding the re-proposed entry cannot hold the overwritten one, by log matching).
 */
function retryOwnEntries(c: Ctx, leader: NodeId, dropped: readonly RaftEntry[]): void {
  for (const e of dropped) {
    if (e.value !== null && c.s.wonTerms.includes(e.term)) sendTo(c, leader, { type: 'propose', value: e.value, retry: true, hops: 0 });
  }
}

export function handleAppendOk(c: Ctx, from: NodeId, m: RaftMessageOf<'appendOk'>): void {
  const s = c.s;
  const pr = s.progress[from];
  if (!pr) return;
  const match = Math.max(pr.match, Math.min(m.matchIndex, lastIndex(s)));
  const updated: Progress = { next: Math.max(pr.next, match + 1), match, sent: Math.max(pr.sent, match), active: true };
  setProgress(c, from, updated);
  maybeCommit(c);
  // Nothing of ours is in flight to it any more and it lacks entries: send the next batch.
  if (updated.next <= lastIndex(s) && m.matchIndex >= updated.sent) sendAppend(c, from);
}

export function handleAppendReject(c: Ctx, from: NodeId, m: RaftMessageOf<'appendReject'>): void {
  const s = c.s;
  const pr = s.progress[from];
  if (!pr) return;
  if (m.index <= pr.match) {
    setProgress(c, from, { ...pr, active: true }); // stale: it has since matched beyond that index
    return;
  }
  let next = m.conflictIndex;
  if (m.conflictTerm > 0) {
    // Skip the follower's whole conflicting term, or back up to our last entry of that term.
    let i = Math.min(m.index, lastIndex(s));
    while (i > 0 && (termAt(s, i) ?? 0) > m.conflictTerm) i--;
    if (i > 0 && termAt(s, i) === m.conflictTerm) next = i + 1;
  }
  next = Math.max(pr.match + 1, Math.min(next, m.index));
  setProgress(c, from, { next, match: pr.match, sent: next - 1, active: true });
  sendAppend(c, from);
}
