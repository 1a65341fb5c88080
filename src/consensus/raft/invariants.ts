// Raft's safety properties (Figure 3), as pure checks over the states of all
// nodes at one moment. The simulator calls `raftInvariants` after every step.
//
// Every property here is one that holds between any two states that ever existed,
// not only simultaneous ones, so the checks are sound whichever state the simulator
// shows for a crashed node (its last state, or the one it will recover to), and
// they include crashed nodes. Byzantine nodes are excluded (Raft tolerates none).
//
// Election safety needs history: a leader of term t may crash before another node
// wrongly becomes leader of t, and the two never coexist. So each node keeps, in its
// persisted state, the terms it won (`wonTerms`; written in the same output as the
// new leader's no-op entry, before any of its messages leave). At any moment the
// union of those lists is the complete history of who led which term, and a term
// claimed by two nodes is a violation however far apart the two leaderships were.
//
// Leader completeness needs to know in which term an entry was committed: each node
// records `commitTerm`, its term when it last advanced commitIndex (the term of the
// leader it learned the commit from, or its own as leader). Every entry up to its
// commitIndex was committed in a term ≤ commitTerm, so it must be in the log of
// every leader whose term is above commitTerm.
import type { SimNode } from '../sim/spec.ts';
import type { RaftEntry } from './messages.ts';
import type { RaftState } from './state.ts';

type Nodes = readonly SimNode<RaftState>[];

const sameEntry = (a: RaftEntry | undefined, b: RaftEntry | undefined): boolean =>
  a !== undefined && b !== undefined && a.term === b.term && a.value === b.value;

const show = (e: RaftEntry | undefined): string => (e === undefined ? 'nothing' : `(term ${e.term}, ${e.value === null ? 'no-op' : JSON.stringify(e.value)})`);

function honest(nodes: Nodes): Nodes {
  return nodes.filter((n) => !n.byzantine);
}

/** At most one leader per term, over the whole history (see above). */
export function checkElectionSafety(nodes: Nodes): string[] {
  const out: string[] = [];
  const leaderOf = new Map<number, string>();
  for (const n of honest(nodes)) {
    const terms = n.state.role === 'leader' ? [...n.state.wonTerms, n.state.term] : n.state.wonTerms;
    for (const t of new Set(terms)) {
      const other = leaderOf.get(t);
      if (other === undefined) leaderOf.set(t, n.id);
      else if (other !== n.id) out.push(`election safety: ${other} and ${n.id} were both leader of term ${t}`);
    }
  }
  return out;
}

/** If two logs hold an entry with the same index and term, they are identical up to it. */
export function checkLogMatching(nodes: Nodes): string[] {
  const out: string[] = [];
  const hs = honest(nodes);
  for (let i = 0; i < hs.length; i++) {
    for (let j = i + 1; j < hs.length; j++) {
      const a = hs[i]!;
      const b = hs[j]!;
      const m = Math.min(a.state.log.length, b.state.log.length);
      let firstDiff = 0;
      for (let idx = 1; idx <= m; idx++) {
        const ea = a.state.log[idx - 1]!;
        const eb = b.state.log[idx - 1]!;
        if (firstDiff === 0 && !sameEntry(ea, eb)) firstDiff = idx;
        if (ea.term === eb.term && firstDiff !== 0) {
          out.push(
            `log matching: ${a.id} and ${b.id} both hold an entry of term ${ea.term} at index ${idx} but differ at index ${firstDiff}: ` +
              `${show(a.state.log[firstDiff - 1])} vs ${show(b.state.log[firstDiff - 1])}`,
          );
          break;
        }
      }
    }
  }
  return out;
}

/** Every entry committed in term t is in the log of every leader of a term above t. */
export function checkLeaderCompleteness(nodes: Nodes): string[] {
  const out: string[] = [];
  const hs = honest(nodes);
  const leaders = hs.filter((n) => n.state.role === 'leader');
  for (const n of hs) {
    const { commitIndex, commitTerm, log } = n.state;
    for (const l of leaders) {
      if (l === n || l.state.term <= commitTerm) continue;
      for (let idx = 1; idx <= commitIndex; idx++) {
        if (!sameEntry(l.state.log[idx - 1], log[idx - 1])) {
          out.push(
            `leader completeness: ${n.id} knows index ${idx} ${show(log[idx - 1])} committed by term ${commitTerm}, ` +
              `but ${l.id}, leader of term ${l.state.term}, holds ${show(l.state.log[idx - 1])} there`,
          );
          break;
        }
      }
    }
  }
  return out;
}

/** No two nodes apply different entries at one index, and no node decides one slot twice or differently. */
export function checkStateMachineSafety(nodes: Nodes): string[] {
  const out: string[] = [];
  const hs = honest(nodes);
  const decidedAt = new Map<number, { id: string; value: string }>();
  for (const n of hs) {
    let prev = 0;
    for (const d of n.decided) {
      if (d.slot <= prev) out.push(`state-machine safety: ${n.id} decided slot ${d.slot} after slot ${prev}`);
      prev = Math.max(prev, d.slot);
      const seen = decidedAt.get(d.slot);
      if (seen === undefined) decidedAt.set(d.slot, { id: n.id, value: d.value });
      else if (seen.value !== d.value) {
        out.push(`state-machine safety: at slot ${d.slot} ${seen.id} decided ${JSON.stringify(seen.value)} but ${n.id} decided ${JSON.stringify(d.value)}`);
      }
    }
  }
  for (let i = 0; i < hs.length; i++) {
    for (let j = i + 1; j < hs.length; j++) {
      const a = hs[i]!;
      const b = hs[j]!;
      const upTo = Math.min(a.state.commitIndex, b.state.commitIndex);
      for (let idx = 1; idx <= upTo; idx++) {
        if (!sameEntry(a.state.log[idx - 1], b.state.log[idx - 1])) {
          out.push(
            `state-machine safety: ${a.id} and ${b.id} both committed index ${idx} but hold ` +
              `${show(a.state.log[idx - 1])} vs ${show(b.state.log[idx - 1])}`,
          );
          break;
        }
      }
    }
  }
  return out;
}

/** Each node's own state is coherent (catches a core bug before it spreads). */
export function checkWellFormed(nodes: Nodes): string[] {
  const out: string[] = [];
  for (const n of honest(nodes)) {
    const s = n.state;
    if (s.applied > s.commitIndex) out.push(`well-formed: ${n.id} applied ${s.applied} beyond its commitIndex ${s.commitIndex}`);
    if (s.commitIndex > s.log.length) out.push(`well-formed: ${n.id} commitIndex ${s.commitIndex} beyond its log (${s.log.length} entries)`);
    if (s.role === 'leader' && s.votedFor !== s.self) out.push(`well-formed: ${n.id} leads term ${s.term} without having voted for itself`);
    let prevTerm = 0;
    for (let idx = 1; idx <= s.log.length; idx++) {
      const t = s.log[idx - 1]!.term;
      if (t < prevTerm || t > s.term) {
        out.push(`well-formed: ${n.id} holds term ${t} at index ${idx} (previous ${prevTerm}, current term ${s.term})`);
        break;
      }
      prevTerm = t;
    }
  }
  return out;
}

/** All of Raft's safety invariants; empty when none is violated. */
export function raftInvariants(nodes: Nodes): string[] {
  return [
    ...checkWellFormed(nodes),
    ...checkElectionSafety(nodes),
    ...checkLogMatching(nodes),
    ...checkLeaderCompleteness(nodes),
    ...checkStateMachineSafety(nodes),
  ];
}
