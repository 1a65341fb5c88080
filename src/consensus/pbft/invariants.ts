// PBFT's own safety invariant, checked over the honest replicas (Byzantine ones
// may hold anything): no two honest replicas commit different requests for one
// sequence number, across views. "Commit" covers both committed-local (2f+1
// matching commits in some view) and executed; executed prefixes are compared
// through the state hash chain, so null requests (which decide nothing) are
// covered too. Pure, and cheap enough to run after every simulated step:
// O(replicas × log size).
import type { NodeId } from '../protocol.ts';
import type { SimNode } from '../sim/spec.ts';
import type { Digest } from './digest.ts';
import type { PbftState } from './state.ts';

/** The state digest of `s` after executing `seq`, if it still knows it. */
function stateAt(s: PbftState, seq: number): Digest | undefined {
  if (seq === s.durable.lastExec) return s.durable.execDigest;
  const h = s.durable.history;
  if (seq === h.base) return h.baseDigest;
  if (seq < h.base || seq > s.durable.lastExec) return undefined;
  return h.entries[seq - h.base - 1]?.state;
}

/** The request `s` executed at `seq`, if it still knows it. */
function executedAt(s: PbftState, seq: number): { digest: Digest; value: string | null } | undefined {
  const h = s.durable.history;
  if (seq <= h.base || seq > s.durable.lastExec) return undefined;
  return h.entries[seq - h.base - 1];
}

function show(value: string | null | undefined): string {
  return value === null ? 'the null request' : value === undefined ? 'an unknown request' : JSON.stringify(value);
}

export function pbftInvariants(nodes: readonly SimNode<PbftState>[]): string[] {
  const out: string[] = [];
  const honest = nodes.filter((n) => !n.byzantine);
  if (honest.length === 0) return out;

  // Replicated tasks: an honest replica orders or prepares only the value it accepts (and null requests).
  for (const n of honest) {
    const own = n.state.config.accept;
    if (own === undefined) continue;
    for (const [seq, e] of Object.entries(n.state.durable.log)) {
      const v = e.accepted?.value;
      if (v !== undefined && v !== null && v !== own) out.push(`${n.id} accepted ${show(v)} at ${seq}, which it does not accept`);
    }
  }

  // Each replica decides each slot once, in order.
  for (const n of honest) {
    for (let i = 1; i < n.decided.length; i++) {
      const a = n.decided[i - 1] as { slot: number };
      const b = n.decided[i] as { slot: number };
      if (b.slot <= a.slot) out.push(`${n.id} decided slot ${b.slot} after slot ${a.slot}`);
    }
  }

  // Executed prefixes agree: compare each replica's state digest with that of a replica that executed at least as far.
  const byProgress = [...honest].sort((a, b) => b.state.durable.lastExec - a.state.durable.lastExec);
  for (const n of honest) {
    const t = n.state.durable.lastExec;
    if (t === 0) continue;
    for (const ref of byProgress) {
      if (ref === n) continue;
      const theirs = stateAt(ref.state, t);
      if (theirs === undefined) continue;
      if (theirs !== n.state.durable.execDigest) out.push(divergence(n, ref, t));
      break;
    }
  }

  // Committed-local requests agree with each other and with what anyone executed there.
  const committed = new Map<number, { id: NodeId; digest: Digest; value: string | null }>();
  for (const n of honest) {
    for (const [k, votes] of Object.entries(n.state.slots)) {
      const c = votes.committed;
      if (!c) continue;
      const seq = Number(k);
      const seen = committed.get(seq);
      if (seen === undefined) committed.set(seq, { id: n.id, digest: c.digest, value: c.value });
      else if (seen.digest !== c.digest) {
        out.push(`sequence number ${seq}: ${seen.id} committed ${show(seen.value)} but ${n.id} committed ${show(c.value)}`);
      }
    }
  }
  for (const [seq, c] of committed) {
    for (const ref of byProgress) {
      const e = executedAt(ref.state, seq);
      if (e === undefined) continue;
      if (e.digest !== c.digest) out.push(`sequence number ${seq}: ${c.id} committed ${show(c.value)} but ${ref.id} executed ${show(e.value)}`);
      break;
    }
  }
  return out;
}

/** A readable account of where two executed prefixes part. */
function divergence(a: SimNode<PbftState>, b: SimNode<PbftState>, upTo: number): string {
  for (let seq = 1; seq <= upTo; seq++) {
    const x = executedAt(a.state, seq);
    const y = executedAt(b.state, seq);
    if (x && y && x.digest !== y.digest) return `sequence number ${seq}: ${a.id} executed ${show(x.value)} but ${b.id} executed ${show(y.value)}`;
  }
  return `${a.id} and ${b.id} executed different requests up to sequence number ${upTo} (their state digests differ)`;
}
