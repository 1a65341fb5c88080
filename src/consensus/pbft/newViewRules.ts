// The rules a new view follows, as pure functions of view-change bodies, so
// that the new primary and every backup compute exactly the same thing (the
// backups recompute the NEW-VIEW they are sent and install it only if it
// matches). Castro's thesis §3.2.4, the MAC variant: a VIEW-CHANGE carries only
// its sender's own claims, and the new view follows from quorums of claims:
//   • checkpoint: the highest h that f+1 view changes hold and 2f+1 have their
//     stable checkpoint at or below (so their logs above h are all there);
//   • for each n above h up to the highest prepared number: the request d that
//     some view change prepared in view v (A1) such that 2f+1 view changes
//     prepared nothing for n in a later view nor a different d in v, and (A2)
//     f+1 pre-prepared d for n in v or later; otherwise, when 2f+1 prepared
//     nothing for n, the null request; otherwise wait for more view changes.
// A request committed in an earlier view was prepared by f+1 honest replicas,
// so every set of 2f+1 view changes contains one of them, and only its request
// can pass A1 and A2. Forged claims in a Byzantine view change are at most f
// votes: they can delay a decision, never change it.
import type { PbftConfig } from './config.ts';
import { NULL_DIGEST, valueDigest, type Digest } from './digest.ts';
import type { CheckpointRef, Install, Ordered, ViewChangeBody } from './messages.ts';

/** Structural checks on a view change: everything within its sender's own watermarks, views before the new one, digests matching values. */
export function validViewChange(config: PbftConfig, body: ViewChangeBody): boolean {
  const K = config.checkpointInterval;
  const L = config.logSize;
  const h = body.stableSeq;
  if (body.view < 1 || h % K !== 0) return false;
  const within = (seq: number): boolean => seq > h && seq <= h + L;
  const cps = new Set<number>();
  for (const cp of body.checkpoints) {
    if (cp.seq % K !== 0 || cp.seq < h || cp.seq > h + L || cps.has(cp.seq)) return false;
    cps.add(cp.seq);
  }
  const ps = new Set<number>();
  for (const p of body.prepared) {
    if (!within(p.seq) || ps.has(p.seq) || p.view >= body.view || valueDigest(p.value) !== p.digest) return false;
    ps.add(p.seq);
  }
  const qs = new Set<number>();
  for (const q of body.prePrepared) {
    if (!within(q.seq) || qs.has(q.seq) || q.entries.length === 0 || q.entries.length > config.maxPrePrepared) return false;
    qs.add(q.seq);
    const ds = new Set<Digest>();
    for (const e of q.entries) {
      if (e.view >= body.view || ds.has(e.digest)) return false;
      ds.add(e.digest);
    }
  }
  return true;
}

interface Indexed {
  readonly h: number;
  readonly checkpoints: ReadonlySet<string>;
  readonly prepared: ReadonlyMap<number, { view: number; digest: Digest; value: string | null }>;
  readonly prePrepared: ReadonlyMap<number, ReadonlyMap<Digest, number>>;
}

function index(body: ViewChangeBody): Indexed {
  return {
    h: body.stableSeq,
    checkpoints: new Set(body.checkpoints.map((cp) => `${cp.seq}:${cp.digest}`)),
    prepared: new Map(body.prepared.map((p) => [p.seq, { view: p.view, digest: p.digest, value: p.value }])),
    prePrepared: new Map(body.prePrepared.map((q) => [q.seq, new Map(q.entries.map((e) => [e.digest, e.view]))])),
  };
}

function count<T>(xs: readonly T[], pred: (x: T) => boolean): number {
  let k = 0;
  for (const x of xs) if (pred(x)) k++;
  return k;
}

/**
 * The new view a set S of view changes determines (the thesis's decision
 * procedure, deterministic so that backups recompute exactly what the primary
 * sent), or null when S does not determine one yet.
 */
export function decideNewView(config: PbftConfig, viewChanges: readonly { body: ViewChangeBody }[]): { checkpoint: CheckpointRef; prePrepares: Ordered[] } | null {
  const Q = config.quorum;
  const weak = config.f + 1;
  const S = viewChanges.map((v) => index(v.body));
  let best: CheckpointRef | null = null;
  const tried = new Set<string>();
  for (const v of viewChanges) {
    for (const cp of v.body.checkpoints) {
      const key = `${cp.seq}:${cp.digest}`;
      if (tried.has(key)) continue;
      tried.add(key);
      if (count(S, (m) => m.h <= cp.seq) < Q || count(S, (m) => m.checkpoints.has(key)) < weak) continue;
      if (!best || cp.seq > best.seq || (cp.seq === best.seq && cp.digest < best.digest)) best = cp;
    }
  }
  if (!best) return null;
  const h = best.seq;
  let maxS = h;
  for (const m of S) for (const seq of m.prepared.keys()) if (seq > h && seq <= h + config.logSize) maxS = Math.max(maxS, seq);
  const prePrepares: Ordered[] = [];
  for (let n = h + 1; n <= maxS; n++) {
    const candidates = new Map<string, { view: number; digest: Digest; value: string | null }>();
    for (const m of S) {
      const p = m.prepared.get(n);
      if (p) candidates.set(`${p.view}:${p.digest}`, p);
    }
    const ordered = [...candidates.values()].sort((a, b) => b.view - a.view || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
    let chosen: Ordered | undefined;
    for (const cand of ordered) {
      const a1 = count(S, (m) => {
        if (m.h >= n) return false;
        const p = m.prepared.get(n);
        return !p || p.view < cand.view || (p.view === cand.view && p.digest === cand.digest);
      });
      if (a1 < Q) continue;
      const a2 = count(S, (m) => {
        const v = m.prePrepared.get(n)?.get(cand.digest);
        return v !== undefined && v >= cand.view;
      });
      if (a2 < weak) continue;
      chosen = { seq: n, digest: cand.digest, value: cand.value };
      break;
    }
    if (!chosen && count(S, (m) => m.h < n && !m.prepared.has(n)) >= Q) chosen = { seq: n, digest: NULL_DIGEST, value: null };
    if (!chosen) return null;
    prePrepares.push(chosen);
  }
  return { checkpoint: best, prePrepares };
}

/** An O set that could have come from an honest primary: contiguous above its checkpoint, within the log, digests matching values. */
export function validInstall(config: PbftConfig, inst: Install): boolean {
  if (inst.view < 1 || inst.checkpoint.seq % config.checkpointInterval !== 0) return false;
  let prev = inst.checkpoint.seq;
  for (const o of inst.prePrepares) {
    if (o.seq !== prev + 1 || o.seq > inst.checkpoint.seq + config.logSize || valueDigest(o.value) !== o.digest) return false;
    prev = o.seq;
  }
  return true;
}

export function sameInstall(a: { checkpoint: CheckpointRef; prePrepares: readonly Ordered[] }, b: { checkpoint: CheckpointRef; prePrepares: readonly Ordered[] }): boolean {
  if (a.checkpoint.seq !== b.checkpoint.seq || a.checkpoint.digest !== b.checkpoint.digest || a.prePrepares.length !== b.prePrepares.length) return false;
  return a.prePrepares.every((o, i) => {
    const p = b.prePrepares[i] as Ordered;
    return o.seq === p.seq && o.digest === p.digest && o.value === p.value;
  });
}
