// The normal case (Castro & Liskov §4.2): the primary orders requests with
// PRE-PREPARE; every backup that accepts one multicasts PREPARE; a replica with
// the pre-prepare and 2f matching prepares from distinct backups is prepared
// and multicasts COMMIT; with 2f+1 matching commits it is committed-local and
// executes in sequence order.
import type { NodeId, Value } from '../protocol.ts';
import { acceptsValue, primaryOf } from './config.ts';
import { executeNext } from './checkpoints.ts';
import { addVote, countFor, hasVoted, indexIn } from '../tally.ts';
import { inWindow, isPrimary, logEntry, own, sendTo, setLogEntry, setVotes, votesAt, type Ctx } from './context.ts';
import { valueDigest, type Digest } from './digest.ts';
import type { MessageOf } from './messages.ts';
import type { LogEntry, Ordering, PbftState } from './state.ts';

/** Records a pre-prepared digest in an entry's Q set, keeping the latest views. */
export function withPrePrepared(s: PbftState, entry: LogEntry | undefined, digest: Digest, view: number): LogEntry {
  const q: Record<Digest, number> = { ...(entry?.prePrepared ?? {}) };
  q[digest] = Math.max(view, own(q, digest) ?? -1);
  const keys = Object.keys(q);
  if (keys.length > s.config.maxPrePrepared) {
    keys.sort((a, b) => (q[b] as number) - (q[a] as number) || (a < b ? -1 : 1));
    for (const k of keys.slice(s.config.maxPrePrepared)) delete q[k];
  }
  return { ...(entry ?? {}), prePrepared: q };
}

/** A request executed within the history window (a retry or a relay of something already done). */
export function executedRecently(s: PbftState, digest: Digest): boolean {
  return s.durable.history.entries.some((e) => e.digest === digest);
}

/** The primary has it ordered in this view and not yet executed. */
function inFlight(s: PbftState, digest: Digest): boolean {
  for (const [k, e] of Object.entries(s.durable.log)) {
    if (Number(k) > s.durable.lastExec && e.accepted?.view === s.durable.view && e.accepted.digest === digest) return true;
  }
  return false;
}

/** The next sequence number the primary of the current view assigns. */
export function nextSeq(s: PbftState): number {
  let max = Math.max(s.durable.stable.seq, s.durable.lastExec);
  for (const [k, e] of Object.entries(s.durable.log)) if (e.accepted?.view === s.durable.view) max = Math.max(max, Number(k));
  return max + 1;
}

/** Waiting: a backup knows of a request that has not executed, or accepted a pre-prepare of this view it has not executed. */
export function waiting(s: PbftState): boolean {
  for (const _ in s.requests) return true;
  for (const [k, e] of Object.entries(s.durable.log)) if (Number(k) > s.durable.lastExec && e.accepted?.view === s.durable.view) return true;
  return false;
}

/** A client's proposal: the primary orders it; any other replica relays it to all, so every replica watches the primary. */
export function onPropose(c: Ctx, value: Value): void {
  const digest = valueDigest(value);
  if (executedRecently(c.s, digest)) return;
  const known = own(c.s.requests, digest) !== undefined;
  if (!known) c.s.requests = { ...c.s.requests, [digest]: value };
  if (c.s.durable.active && isPrimary(c.s)) assignRequests(c);
  else sendTo(c, 'all', { type: 'request', value });
}

export function onRequest(c: Ctx, value: Value): void {
  const digest = valueDigest(value);
  if (executedRecently(c.s, digest) || own(c.s.requests, digest) !== undefined) return;
  c.s.requests = { ...c.s.requests, [digest]: value };
  if (c.s.durable.active && isPrimary(c.s)) assignRequests(c);
}

/** The primary pre-prepares every known request not yet ordered, while sequence numbers remain below the high watermark. */
export function assignRequests(c: Ctx): void {
  if (!c.s.durable.active || !isPrimary(c.s)) return;
  const view = c.s.durable.view;
  for (const [digest, value] of Object.entries(c.s.requests)) {
    // Replicated tasks: a primary orders only its own output (its pre-prepare counts as its prepare).
    if (inFlight(c.s, digest) || !acceptsValue(c.s.config, value)) continue;
    const seq = nextSeq(c.s);
    if (!inWindow(c.s, seq)) return;
    setLogEntry(c, seq, { ...withPrePrepared(c.s, logEntry(c.s, seq), digest, view), accepted: { view, digest, value } });
    sendTo(c, 'all', { type: 'pre-prepare', view, seq, digest, value });
    checkSlot(c, seq);
  }
}

/** A message about a view or sequence number beyond what this replica knows: it is behind. */
function noteAhead(c: Ctx, view: number, seq: number): void {
  const d = c.s.durable;
  if (view > d.view || (view === d.view && !d.active) || seq > d.stable.seq + c.s.config.logSize) c.s.behind = true;
}

export function onPrePrepare(c: Ctx, from: NodeId, m: MessageOf<'pre-prepare'>): void {
  const d = c.s.durable;
  noteAhead(c, m.view, m.seq);
  if (m.view !== d.view || !d.active || from !== primaryOf(m.view, c.s.peers) || from === c.s.self) return;
  if (!inWindow(c.s, m.seq) || valueDigest(m.value) !== m.digest) return;
  const entry = logEntry(c.s, m.seq);
  if (entry?.accepted?.view === m.view) return; // a duplicate, or a conflicting pre-prepare for an ordered number
  acceptPrePrepare(c, m.seq, { view: m.view, digest: m.digest, value: m.value });
}

/** Accepts a pre-prepare of the current view (normal case or a new view's O set): log it and, as a backup, PREPARE. */
export function acceptPrePrepare(c: Ctx, seq: number, o: Ordering): void {
  // Replicated tasks: a backup accepts only its own output; refusing is as safe as a lost message, and the value then
  // needs 2f+1 replicas that produced it to commit.
  if (!acceptsValue(c.s.config, o.value)) return;
  setLogEntry(c, seq, { ...withPrePrepared(c.s, logEntry(c.s, seq), o.digest, o.view), accepted: o });
  if (!isPrimary(c.s)) {
    sendTo(c, 'all', { type: 'prepare', view: o.view, seq, digest: o.digest });
    recordVote(c, 'prepares', seq, c.s.self, o.digest);
  }
  checkSlot(c, seq);
}

function recordVote(c: Ctx, kind: 'prepares' | 'commits', seq: number, from: NodeId, digest: Digest): boolean {
  const votes = votesAt(c.s, seq);
  const index = indexIn(c.s.peers, from);
  if (hasVoted(votes[kind], index)) return false; // each replica counts once: its first vote stands
  setVotes(c, seq, { ...votes, [kind]: addVote(votes[kind], index, digest) });
  return true;
}

export function onPrepare(c: Ctx, from: NodeId, m: MessageOf<'prepare'>): void {
  onVote(c, 'prepares', from, m);
}

export function onCommit(c: Ctx, from: NodeId, m: MessageOf<'commit'>): void {
  onVote(c, 'commits', from, m);
}

function onVote(c: Ctx, kind: 'prepares' | 'commits', from: NodeId, m: MessageOf<'prepare'> | MessageOf<'commit'>): void {
  const d = c.s.durable;
  noteAhead(c, m.view, m.seq);
  // Votes for the view being changed to are kept too: they count once the new view is installed.
  if (m.view !== c.s.talliesView || m.view !== d.view || !inWindow(c.s, m.seq)) return;
  if (kind === 'prepares' && from === primaryOf(m.view, c.s.peers)) return; // the primary's pre-prepare is its prepare
  if (!recordVote(c, kind, m.seq, from, m.digest)) return;
  if (kind === 'commits' && m.seq > d.lastExec && logEntry(c.s, m.seq)?.accepted?.view !== m.view) c.s.behind = true;
  checkSlot(c, m.seq);
}

/** Moves one sequence number along: prepared → COMMIT; committed-local → execute what can be. */
export function checkSlot(c: Ctx, seq: number): void {
  const d = c.s.durable;
  if (!d.active || c.s.talliesView !== d.view) return;
  const entry = logEntry(c.s, seq);
  const acc = entry?.accepted;
  if (!entry || !acc || acc.view !== d.view) return;
  const votes = votesAt(c.s, seq);
  const q = c.s.config.quorum;
  const prepared = entry.prepared?.view === d.view && entry.prepared.digest === acc.digest;
  if (!prepared) {
    if (countFor(votes.prepares, acc.digest, indexIn(c.s.peers, primaryOf(d.view, c.s.peers))) < q - 1) return;
    setLogEntry(c, seq, { ...entry, prepared: acc });
    sendTo(c, 'all', { type: 'commit', view: d.view, seq, digest: acc.digest });
    recordVote(c, 'commits', seq, c.s.self, acc.digest);
  }
  const now = votesAt(c.s, seq);
  if (now.committed || countFor(now.commits, acc.digest) < q) return;
  setVotes(c, seq, { ...now, committed: acc });
  executeNext(c);
}

/** Re-sends this replica's own messages of the current view for sequence numbers above `after` (to one replica or all). */
export function resendOwn(c: Ctx, to: NodeId | 'all', after: number): void {
  const d = c.s.durable;
  if (!d.active) return;
  const primary = isPrimary(c.s);
  for (const [k, e] of Object.entries(d.log)) {
    const seq = Number(k);
    if (seq <= after || e.accepted?.view !== d.view) continue;
    const acc = e.accepted;
    if (primary) {
      if (acc.value !== null) sendTo(c, to, { type: 'pre-prepare', view: d.view, seq, digest: acc.digest, value: acc.value });
    } else sendTo(c, to, { type: 'prepare', view: d.view, seq, digest: acc.digest });
    if (e.prepared?.view === d.view) sendTo(c, to, { type: 'commit', view: d.view, seq, digest: e.prepared.digest });
  }
}
