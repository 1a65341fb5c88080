// Execution, checkpoints and garbage collection (Castro & Liskov §4.3). Requests
// execute in sequence order, each once; every K sequence numbers a replica
// multicasts CHECKPOINT with its state digest; 2f+1 matching checkpoints make it
// stable: the log at and below it is discarded and the low watermark moves up.
import type { NodeId, Value } from '../protocol.ts';
import { above, own, sendTo, setDurable, setTimers, votesAt, type Ctx } from './context.ts';
import { chainDigest, type Digest } from './digest.ts';
import type { CheckpointRef } from './messages.ts';
import type { HistoryEntry } from './state.ts';

/** Executes committed requests in order, from lastExec+1 on, as far as they go. */
export function executeNext(c: Ctx): void {
  for (;;) {
    const seq = c.s.durable.lastExec + 1;
    if (seq <= c.s.durable.stable.seq) return; // below the low watermark: only state transfer can fill it
    const done = votesAt(c.s, seq).committed;
    if (!done) return;
    executeOne(c, seq, done.value, done.digest);
  }
}

/** Executes one request (the next sequence number): the decision, the state digest, the history, maybe a checkpoint. */
export function executeOne(c: Ctx, seq: number, value: Value | null, digest: Digest): void {
  const d = c.s.durable;
  const count = d.executedCount + (value === null ? 0 : 1);
  const state = chainDigest(d.execDigest, seq, digest, count);
  if (value !== null) c.decide.push({ slot: d.executedCount, value });
  setDurable(c, { lastExec: seq, execDigest: state, executedCount: count });
  appendHistory(c, { value, digest, state, count });
  if (Object.hasOwn(c.s.requests, digest)) {
    const { [digest]: _done, ...rest } = c.s.requests;
    c.s.requests = rest;
  }
  setTimers(c, { request: 0, backoff: 0 });
  if (seq % c.s.config.checkpointInterval === 0) takeCheckpoint(c, seq, state);
}

function appendHistory(c: Ctx, entry: HistoryEntry): void {
  const h = c.s.durable.history;
  let entries = [...h.entries, entry];
  let { base, baseDigest, baseCount } = h;
  const drop = entries.length - c.s.config.historyLimit;
  if (drop > 0) {
    const last = entries[drop - 1] as HistoryEntry;
    base += drop;
    baseDigest = last.state;
    baseCount = last.count;
    entries = entries.slice(drop);
  }
  setDurable(c, { history: { base, baseDigest, baseCount, entries } });
}

function takeCheckpoint(c: Ctx, seq: number, digest: Digest): void {
  if (seq <= c.s.durable.stable.seq) return;
  setDurable(c, { checkpoints: { ...c.s.durable.checkpoints, [seq]: digest } });
  sendTo(c, 'all', { type: 'checkpoint', seq, digest });
  addCheckpointVote(c, c.s.self, { seq, digest });
}

/** How far above the stable checkpoint votes are kept; further ones only say this replica is behind. */
function voteHorizon(c: Ctx): number {
  return c.s.durable.stable.seq + 4 * c.s.config.logSize;
}

export function onCheckpoint(c: Ctx, from: NodeId, ref: CheckpointRef): void {
  addCheckpointVote(c, from, ref);
}

/** Counts a replica's claim that its state at `seq` is `digest` (first claim per replica and number). */
export function addCheckpointVote(c: Ctx, from: NodeId, ref: CheckpointRef): void {
  const d = c.s.durable;
  if (ref.seq <= d.stable.seq || ref.seq % c.s.config.checkpointInterval !== 0) return;
  if (ref.seq > d.lastExec) c.s.behind = true;
  if (ref.seq > voteHorizon(c)) return;
  const votes = own(c.s.checkpointVotes, ref.seq) ?? {};
  if (own(votes, from) !== undefined) return;
  c.s.checkpointVotes = { ...c.s.checkpointVotes, [ref.seq]: { ...votes, [from]: ref.digest } };
  checkStable(c);
}

/** The highest checkpoint with 2f+1 matching votes becomes stable. */
function checkStable(c: Ctx): void {
  let best: CheckpointRef | undefined;
  for (const [k, votes] of Object.entries(c.s.checkpointVotes)) {
    const tally = new Map<Digest, number>();
    for (const dg of Object.values(votes)) tally.set(dg, (tally.get(dg) ?? 0) + 1);
    for (const [dg, n] of tally) if (n >= c.s.config.quorum && (!best || Number(k) > best.seq)) best = { seq: Number(k), digest: dg };
  }
  if (best) advanceStable(c, best);
}

/**
 * Moves the low watermark to a stable checkpoint (from 2f+1 votes, or chosen by
 * a new view): discards the log, votes and own checkpoints at and below it.
 * A replica that has not executed that far gets there by state transfer.
 * True if it moved.
 */
export function gcTo(c: Ctx, ref: CheckpointRef): boolean {
  const d = c.s.durable;
  if (ref.seq <= d.stable.seq) return false;
  setDurable(c, { stable: ref, log: above(d.log, ref.seq), checkpoints: above(d.checkpoints, ref.seq) });
  c.s.slots = above(c.s.slots, ref.seq);
  c.s.checkpointVotes = above(c.s.checkpointVotes, ref.seq);
  if (c.s.durable.lastExec < ref.seq) c.s.behind = true;
  return true;
}

/** A new stable checkpoint opens the window: the primary may order more. */
export function advanceStable(c: Ctx, ref: CheckpointRef): void {
  if (gcTo(c, ref)) c.orderMore(c);
}
