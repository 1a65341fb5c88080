// View changes, in the form Castro's thesis gives for MAC-authenticated PBFT
// (§3.2.4; TOCS 2002 §4.5): leaving a view, gathering and acknowledging view
// changes, building or checking the NEW-VIEW, and installing it. With MACs
// nobody can prove to a third replica what someone else sent, so a VIEW-CHANGE
// carries no certificates, only its sender's own claims — the checkpoints it
// holds (C), what it prepared (P) and pre-prepared (Q) — and the new view
// follows from quorums of such claims (newViewRules.ts), never from one.
//
// Authenticity of the view changes the new primary uses: every replica
// acknowledges each view change it receives to everyone (VIEW-CHANGE-ACK with
// its digest). The primary uses a view change only once 2f replicas besides its
// sender hold that exact one; a backup checks a NEW-VIEW against its own copy of
// each view change, or, lacking it (or holding another, when the sender
// equivocated), against f+1 acknowledgements, then recomputes the new view from
// them and installs it only if it matches exactly.
import type { NodeId } from '../protocol.ts';
import { primaryOf } from './config.ts';
import { gcTo } from './checkpoints.ts';
import { inWindow, isPrimary, own, sendTo, setDurable, setTimers, type Ctx } from './context.ts';
import { digestOf, type Digest } from './digest.ts';
import type { CheckpointRef, Install, MessageOf, ViewChangeBody } from './messages.ts';
import { decideNewView, sameInstall, validInstall, validViewChange } from './newViewRules.ts';
import { acceptPrePrepare, assignRequests } from './normal.ts';
import type { PbftState } from './state.ts';

/** Acknowledgements kept per acker: its lowest few views at or above this replica's. */
const ACK_VIEWS_KEPT = 4;

/** This replica's view change for `view`, from its log. */
export function buildViewChange(s: PbftState, view: number): ViewChangeBody {
  const d = s.durable;
  const h = d.stable.seq;
  const own: CheckpointRef[] = Object.entries(d.checkpoints)
    .map(([k, digest]) => ({ seq: Number(k), digest }))
    .filter((cp) => cp.seq > h && cp.seq <= h + s.config.logSize);
  const checkpoints = [d.stable, ...own].sort((a, b) => a.seq - b.seq);
  const prepared: ViewChangeBody['prepared'] = [];
  const prePrepared: ViewChangeBody['prePrepared'] = [];
  const seqs = Object.keys(d.log)
    .map(Number)
    .filter((seq) => seq > h && seq <= h + s.config.logSize)
    .sort((a, b) => a - b);
  for (const seq of seqs) {
    const e = d.log[seq];
    if (!e) continue;
    if (e.prepared) prepared.push({ seq, view: e.prepared.view, digest: e.prepared.digest, value: e.prepared.value });
    const entries = Object.entries(e.prePrepared)
      .map(([digest, v]) => ({ digest, view: v }))
      .sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
    if (entries.length > 0) prePrepared.push({ seq, entries });
  }
  return { view, stableSeq: h, checkpoints, prepared, prePrepared };
}

/** Leaves the current view for `view` (> the current one): multicasts VIEW-CHANGE and stops taking part in normal-case ordering. */
export function startViewChange(c: Ctx, view: number): void {
  if (view <= c.s.durable.view) return;
  const body = buildViewChange(c.s, view);
  setDurable(c, { view, active: false, viewChange: body, newView: null });
  c.s.talliesView = view;
  c.s.slots = {};
  setTimers(c, { request: 0, viewChange: 0 });
  if (c.s.pendingNewView && c.s.pendingNewView.view < view) c.s.pendingNewView = null;
  c.s.acks = pruneAcks(c.s, c.s.acks);
  sendTo(c, 'all', { type: 'view-change', body });
  progressViewChange(c);
}

/** After anything that may let a view change finish: build or check a new view, follow echoes, join a higher view change. */
function progressViewChange(c: Ctx): void {
  tryBuildNewView(c);
  tryPendingNewView(c);
  tryEchoes(c);
  joinHigherView(c);
}

export function onViewChange(c: Ctx, from: NodeId, body: ViewChangeBody): void {
  if (from === c.s.self || !validViewChange(c.s.config, body)) return;
  const d = c.s.durable;
  if (body.view < d.view || (body.view === d.view && d.active)) return;
  const prev = own(c.s.viewChanges, from);
  if (prev && prev.body.view >= body.view) return; // one view change per replica and view: the first stands
  const digest = digestOf(body);
  c.s.viewChanges = { ...c.s.viewChanges, [from]: { digest, body } };
  const acks = [{ of: from, digest }];
  addAcks(c, c.s.self, body.view, acks);
  sendTo(c, 'all', { type: 'view-change-ack', view: body.view, acks });
  progressViewChange(c);
}

export function onViewChangeAck(c: Ctx, from: NodeId, m: MessageOf<'view-change-ack'>): void {
  if (from === c.s.self) return;
  if (addAcks(c, from, m.view, m.acks)) progressViewChange(c);
}

/** The view this replica still cares about acknowledgements for. */
function minUsefulView(s: PbftState): number {
  return s.durable.active ? s.durable.view + 1 : s.durable.view;
}

function pruneAcks(s: PbftState, acks: PbftState['acks']): PbftState['acks'] {
  const min = minUsefulView(s);
  const out: Record<NodeId, Record<string, Readonly<Record<NodeId, Digest>>>> = {};
  for (const [acker, views] of Object.entries(acks)) {
    const kept = Object.keys(views)
      .map(Number)
      .filter((v) => v >= min)
      .sort((a, b) => a - b)
      .slice(0, ACK_VIEWS_KEPT);
    if (kept.length === 0) continue;
    const rec: Record<string, Readonly<Record<NodeId, Digest>>> = {};
    for (const v of kept) rec[v] = views[v] as Readonly<Record<NodeId, Digest>>;
    out[acker] = rec;
  }
  return out;
}

/** Records that `acker` holds these view changes for `view` (its first digest per sender stands). True if anything new. */
function addAcks(c: Ctx, acker: NodeId, view: number, list: readonly { of: NodeId; digest: Digest }[]): boolean {
  if (view < minUsefulView(c.s)) return false;
  const perAcker = own(c.s.acks, acker) ?? {};
  const cur = own(perAcker, view) ?? {};
  let next: Record<NodeId, Digest> | undefined;
  for (const { of, digest } of list) {
    if (of === acker || !c.s.peers.includes(of) || own(next ?? cur, of) !== undefined) continue;
    next ??= { ...cur };
    next[of] = digest;
  }
  if (!next) return false;
  c.s.acks = pruneAcks(c.s, { ...c.s.acks, [acker]: { ...perAcker, [view]: next } });
  return true;
}

/** Replicas other than `of` that hold `of`'s view change for `view` with this digest (this replica included, when it does). */
export function ackCount(s: PbftState, view: number, of: NodeId, digest: Digest): number {
  let k = 0;
  for (const acker of s.peers) {
    if (acker === of) continue;
    const views = own(s.acks, acker);
    const held = views ? own(views, view) : undefined;
    if (held && own(held, of) === digest) k++;
  }
  return k;
}

/** Replicas (this one included) whose latest view change is for the view this replica is changing to, or later. */
export function viewChangeSupport(s: PbftState): number {
  let k = 1;
  for (const [who, vc] of Object.entries(s.viewChanges)) if (who !== s.self && vc.body.view >= s.durable.view) k++;
  return k;
}

/** f+1 replicas are changing to views above this one's: at least one honest one is, so join (the highest view f+1 of them reached). */
function joinHigherView(c: Ctx): void {
  const views: number[] = [];
  for (const [who, vc] of Object.entries(c.s.viewChanges)) if (who !== c.s.self && vc.body.view > c.s.durable.view) views.push(vc.body.view);
  if (views.length < c.s.config.f + 1) return;
  views.sort((a, b) => b - a);
  startViewChange(c, views[c.s.config.f] as number);
}

/** The new primary: once 2f+1 acknowledged view changes determine a new view, multicast NEW-VIEW and install it. */
function tryBuildNewView(c: Ctx): void {
  const d = c.s.durable;
  if (d.active || primaryOf(d.view, c.s.peers) !== c.s.self || d.viewChange?.view !== d.view) return;
  const Q = c.s.config.quorum;
  const chosen: { from: NodeId; body: ViewChangeBody }[] = [];
  for (const j of c.s.peers) {
    if (j === c.s.self) chosen.push({ from: j, body: d.viewChange });
    else {
      const vc = own(c.s.viewChanges, j);
      if (vc && vc.body.view === d.view && ackCount(c.s, d.view, j, vc.digest) >= Q - 1) chosen.push({ from: j, body: vc.body });
    }
  }
  if (chosen.length < Q) return;
  const decided = decideNewView(c.s.config, chosen);
  if (!decided) return;
  sendTo(c, 'all', { type: 'new-view', view: d.view, checkpoint: decided.checkpoint, prePrepares: decided.prePrepares, viewChanges: chosen });
  install(c, { view: d.view, checkpoint: decided.checkpoint, prePrepares: decided.prePrepares });
}

function installable(s: PbftState, view: number): boolean {
  return view > s.durable.view || (view === s.durable.view && !s.durable.active);
}

export function onNewView(c: Ctx, from: NodeId, m: MessageOf<'new-view'>): void {
  if (from === c.s.self || from !== primaryOf(m.view, c.s.peers)) return;
  const inst: Install = { view: m.view, checkpoint: m.checkpoint, prePrepares: m.prePrepares };
  if (!validInstall(c.s.config, inst)) return;
  recordEcho(c, from, inst); // the primary vouches for what it sends, like an echo
  if (!installable(c.s, m.view)) return;
  const senders = new Set<NodeId>();
  for (const v of m.viewChanges) {
    if (!c.s.peers.includes(v.from) || senders.has(v.from) || v.body.view !== m.view || !validViewChange(c.s.config, v.body)) return;
    senders.add(v.from);
  }
  if (senders.size < c.s.config.quorum) return;
  if (c.s.pendingNewView && c.s.pendingNewView.view > m.view) return;
  c.s.pendingNewView = m;
  progressViewChange(c);
}

/** Checks the pending NEW-VIEW as far as this replica can; installs it, drops it (it is wrong), or keeps waiting. */
function tryPendingNewView(c: Ctx): void {
  const m = c.s.pendingNewView;
  if (!m) return;
  if (!installable(c.s, m.view)) {
    c.s.pendingNewView = null;
    return;
  }
  const d = c.s.durable;
  for (const v of m.viewChanges) {
    const digest = digestOf(v.body);
    if (v.from === c.s.self) {
      if (d.active || d.viewChange?.view !== m.view || digestOf(d.viewChange) !== digest) {
        c.s.pendingNewView = null; // it puts words in this replica's mouth
        return;
      }
      continue;
    }
    const mine = own(c.s.viewChanges, v.from);
    if (mine && mine.body.view === m.view && mine.digest === digest) continue;
    if (ackCount(c.s, m.view, v.from, digest) >= c.s.config.f + 1) continue;
    return; // not checkable yet: wait for that view change or its acknowledgements
  }
  const decided = decideNewView(c.s.config, m.viewChanges);
  c.s.pendingNewView = null;
  if (!decided || !sameInstall(decided, m)) return;
  install(c, { view: m.view, checkpoint: m.checkpoint, prePrepares: m.prePrepares });
}

export function onNewViewEcho(c: Ctx, from: NodeId, m: MessageOf<'new-view-echo'>): void {
  if (from === c.s.self) return;
  const inst: Install = { view: m.view, checkpoint: m.checkpoint, prePrepares: m.prePrepares };
  if (!validInstall(c.s.config, inst)) return;
  recordEcho(c, from, inst);
  progressViewChange(c);
}

function recordEcho(c: Ctx, from: NodeId, inst: Install): void {
  const prev = own(c.s.echoes, from);
  if (prev && prev.install.view >= inst.view) return;
  c.s.echoes = { ...c.s.echoes, [from]: { digest: digestOf(inst), install: inst } };
  if (installable(c.s, inst.view)) c.s.behind = true;
}

/** f+1 replicas say they installed the same new view: at least one honest replica checked it, so install it without the view changes. */
function tryEchoes(c: Ctx): void {
  const tally = new Map<Digest, { n: number; install: Install }>();
  for (const e of Object.values(c.s.echoes)) {
    if (!installable(c.s, e.install.view)) continue;
    const t = tally.get(e.digest) ?? { n: 0, install: e.install };
    t.n++;
    tally.set(e.digest, t);
  }
  let best: Install | undefined;
  for (const t of tally.values()) if (t.n >= c.s.config.f + 1 && (!best || t.install.view > best.view)) best = t.install;
  if (best) install(c, best);
}

/** Enters a new view: adopts its checkpoint, accepts its pre-prepares (and, as a backup, prepares them), then resumes ordering. */
export function install(c: Ctx, inst: Install): void {
  setDurable(c, { view: inst.view, active: true, viewChange: null, newView: inst });
  if (c.s.talliesView !== inst.view) {
    c.s.talliesView = inst.view;
    c.s.slots = {};
  }
  setTimers(c, { request: 0, viewChange: 0 });
  if (c.s.pendingNewView && c.s.pendingNewView.view <= inst.view) c.s.pendingNewView = null;
  c.s.acks = pruneAcks(c.s, c.s.acks);
  gcTo(c, inst.checkpoint);
  for (const o of inst.prePrepares) {
    if (inWindow(c.s, o.seq)) acceptPrePrepare(c, o.seq, { view: inst.view, digest: o.digest, value: o.value });
  }
  if (isPrimary(c.s)) assignRequests(c);
  else {
    const primary = primaryOf(inst.view, c.s.peers);
    for (const value of Object.values(c.s.requests)) sendTo(c, primary, { type: 'request', value });
  }
}
