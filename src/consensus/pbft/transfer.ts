// Retransmission and state transfer. Messages get lost, replicas crash and
// partitions cut them off, so a replica that is waiting for something (a
// request to execute, a view change to finish, a gap below a stable checkpoint)
// re-sends its own messages and a STATUS every few ticks; the others answer
// with what it is missing: their own votes, the new view they installed (as an
// echo), or executed requests (STATE). A replica behind never trusts one peer's
// account of the past: STATE answers are chained by state digest, and it
// adopts a prefix only when f+1 replicas vouch for the state digest at its end
// (their STATE chains, STATUS claims or checkpoints), so at least one is honest.
import type { NodeId } from '../protocol.ts';
import { addCheckpointVote, executeNext, executeOne } from './checkpoints.ts';
import { own, sendTo, setDurable, type Ctx } from './context.ts';
import { chainDigest, valueDigest, type Digest } from './digest.ts';
import type { MessageOf } from './messages.ts';
import { resendOwn, waiting } from './normal.ts';
import type { PbftState, StateMessage } from './state.ts';

/** A replica that should ask its peers where they are. */
export function unsettled(s: PbftState): boolean {
  const d = s.durable;
  return !d.active || s.behind || d.lastExec < d.stable.seq || waiting(s);
}

function statusOf(s: PbftState): MessageOf<'status'> {
  const d = s.durable;
  return { type: 'status', view: d.view, active: d.active, lastExec: d.lastExec, execDigest: d.execDigest, stable: d.stable };
}

/** The periodic retransmission of a replica that is waiting. */
export function retransmit(c: Ctx): void {
  const d = c.s.durable;
  c.s.behind = false;
  sendTo(c, 'all', statusOf(c.s));
  if (d.active) resendOwn(c, 'all', d.lastExec);
  else resendViewChange(c, 'all');
}

function resendViewChange(c: Ctx, to: NodeId | 'all'): void {
  const d = c.s.durable;
  if (d.active || !d.viewChange) return;
  sendTo(c, to, { type: 'view-change', body: d.viewChange });
  const views = own(c.s.acks, c.s.self);
  const held = views ? own(views, d.view) : undefined;
  if (held) {
    const acks = Object.entries(held).map(([of, digest]) => ({ of, digest }));
    if (acks.length > 0) sendTo(c, to, { type: 'view-change-ack', view: d.view, acks });
  }
}

export function onStatus(c: Ctx, from: NodeId, m: MessageOf<'status'>): void {
  if (from === c.s.self) return;
  const d = c.s.durable;
  c.s.execClaims = { ...c.s.execClaims, [from]: { seq: m.lastExec, digest: m.execDigest } };
  addCheckpointVote(c, from, m.stable); // its stable checkpoint is a claim about its state there
  if (m.view > d.view || m.lastExec > d.lastExec) c.s.behind = true;
  if (m.lastExec < d.lastExec) sendState(c, from, m.lastExec);
  if (d.active && d.newView && (m.view < d.view || (m.view === d.view && !m.active))) sendTo(c, from, { type: 'new-view-echo', view: d.newView.view, checkpoint: d.newView.checkpoint, prePrepares: [...d.newView.prePrepares] });
  if (d.active && m.view === d.view && m.active) resendOwn(c, from, m.lastExec);
  if (!d.active && m.view <= d.view) resendViewChange(c, from);
  if (m.lastExec > d.lastExec) applyTransfers(c);
}

/** Executed requests after `after`, from the history (from its start, if `after` is older than that). */
function sendState(c: Ctx, to: NodeId, after: number): void {
  const h = c.s.durable.history;
  const start = Math.max(after, h.base);
  if (start >= c.s.durable.lastExec) return;
  const at = h.entries[start - h.base - 1];
  const startDigest = at ? at.state : h.baseDigest;
  const startCount = at ? at.count : h.baseCount;
  const values = h.entries.slice(start - h.base, start - h.base + c.s.config.transferLimit).map((e) => e.value);
  sendTo(c, to, { type: 'state', start, startDigest, startCount, values });
}

export function onState(c: Ctx, from: NodeId, m: StateMessage): void {
  if (from === c.s.self || m.values.length === 0 || m.start + m.values.length <= c.s.durable.lastExec) return;
  c.s.transfers = { ...c.s.transfers, [from]: m };
  c.s.behind = true;
  applyTransfers(c);
}

interface Step {
  readonly seq: number;
  readonly state: Digest;
  readonly count: number;
  readonly value: string | null;
  readonly digest: Digest;
}

interface Chain {
  readonly start: number;
  readonly startDigest: Digest;
  readonly startCount: number;
  readonly steps: readonly Step[];
}

/** The part of a STATE answer above lastExec, if it is consistent with this replica's own state where they overlap. */
function chainOf(s: PbftState, m: StateMessage): Chain | undefined {
  const d = s.durable;
  if (m.start === d.lastExec && (m.startDigest !== d.execDigest || m.startCount !== d.executedCount)) return undefined;
  let state = m.startDigest;
  let count = m.startCount;
  const steps: Step[] = [];
  for (let i = 0; i < m.values.length; i++) {
    const seq = m.start + 1 + i;
    const value = m.values[i] ?? null;
    const digest = valueDigest(value);
    count += value === null ? 0 : 1;
    state = chainDigest(state, seq, digest, count);
    if (seq === d.lastExec && (state !== d.execDigest || count !== d.executedCount)) return undefined;
    if (seq > d.lastExec) steps.push({ seq, state, count, value, digest });
  }
  return { start: m.start, startDigest: m.startDigest, startCount: m.startCount, steps };
}

/** Adopts the longest prefix of executed requests that f+1 replicas vouch for. */
function applyTransfers(c: Ctx): void {
  const d = c.s.durable;
  const vouchers = new Map<string, Set<NodeId>>();
  const vouch = (seq: number, digest: Digest, who: NodeId): void => {
    if (seq <= d.lastExec) return;
    const key = `${seq}:${digest}`;
    const set = vouchers.get(key) ?? new Set<NodeId>();
    set.add(who);
    vouchers.set(key, set);
  };
  const chains: Chain[] = [];
  const live: Record<NodeId, StateMessage> = {};
  for (const [from, m] of Object.entries(c.s.transfers)) {
    if (m.start + m.values.length <= d.lastExec) continue;
    const chain = chainOf(c.s, m);
    if (!chain) continue;
    live[from] = m;
    chains.push(chain);
    for (const st of chain.steps) vouch(st.seq, st.state, from);
  }
  c.s.transfers = live;
  if (chains.length === 0) return;
  for (const [who, claim] of Object.entries(c.s.execClaims)) vouch(claim.seq, claim.digest, who);
  for (const [k, votes] of Object.entries(c.s.checkpointVotes)) for (const [who, digest] of Object.entries(votes)) vouch(Number(k), digest, who);
  const certified = `${d.stable.seq}:${d.stable.digest}`;
  const weak = c.s.config.f + 1;
  // For each chain, the furthest point f+1 replicas vouch for. Chains that continue from this replica's own state come
  // first; one that starts further on (its sender's history does not reach back here) only when the gap lies below a
  // stable checkpoint, where the protocol can no longer re-run it: then the replica jumps, and the requests in between
  // are not decided here.
  const reach: { chain: Chain; upTo: number }[] = [];
  for (const chain of chains) {
    for (let i = chain.steps.length - 1; i >= 0; i--) {
      const st = chain.steps[i] as Step;
      const key = `${st.seq}:${st.state}`;
      if ((vouchers.get(key)?.size ?? 0) >= weak || key === certified) {
        reach.push({ chain, upTo: st.seq });
        break;
      }
    }
  }
  const continuing = reach.filter((r) => r.chain.start <= d.lastExec);
  const usable = continuing.length > 0 ? continuing : d.lastExec < d.stable.seq ? reach : [];
  let best: { chain: Chain; upTo: number } | undefined;
  for (const r of usable) if (!best || r.upTo > best.upTo) best = r;
  if (!best) return;
  const { chain, upTo } = best;
  if (chain.start > d.lastExec) {
    setDurable(c, {
      lastExec: chain.start,
      execDigest: chain.startDigest,
      executedCount: chain.startCount,
      history: { base: chain.start, baseDigest: chain.startDigest, baseCount: chain.startCount, entries: [] },
    });
  }
  for (const st of chain.steps) {
    if (st.seq > upTo) break;
    if (st.seq === c.s.durable.lastExec + 1) executeOne(c, st.seq, st.value, st.digest);
  }
  c.s.transfers = Object.fromEntries(Object.entries(c.s.transfers).filter(([, m]) => m.start + m.values.length > c.s.durable.lastExec));
  executeNext(c);
}
