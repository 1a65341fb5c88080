// Fast Paxos safety invariants, pure, over the nodes' states as the simulator
// sees them (crashed nodes included: their persisted state is what counts).
//
// "Chosen" is derived from the acceptors' vote histories (persisted before any
// 2b is sent): v is chosen in round r when a quorum of r's kind (fast ⌈3n/4⌉
// for round 0, classic majority otherwise) voted v in r. Checked:
//   1. each acceptor's own state is coherent (vrnd ≤ rnd, history ends in (vrnd, vval), one vote per round);
//   2. a classic round has at most one value voted in it (one 2a per round);
//   3. at most one value is chosen (agreement of the protocol itself);
//   4. Lamport's key invariant: once v is chosen in round r, no acceptor votes
//      another value in any round above r (this catches a bad recovery pick
//      before it turns into two chosen values);
//   5. every decision (a node's `decided` list and its state) is the chosen
//      value (the one chosen first, should several be), for slot 0 only, at most once per node.
import type { Value } from '../protocol.ts';
import type { SimNode } from '../sim/spec.ts';
import { isFastRound, quorumFor } from './quorums.ts';
import type { FastPaxosState } from './state.ts';

export interface ChosenValue {
  round: number;
  value: Value;
  voters: number;
}

/** Every (round, value) voted by a quorum of the round's kind, from the nodes' vote histories. */
export function chosenValues(nodes: readonly SimNode<FastPaxosState>[]): ChosenValue[] {
  const n = nodes.length;
  const tally = new Map<string, { round: number; value: Value; voters: Set<string> }>();
  for (const node of nodes) {
    if (node.byzantine) continue;
    for (const vote of node.state.acceptor.history) {
      const key = `${vote.round}\u0000${vote.value}`;
      const entry = tally.get(key) ?? { round: vote.round, value: vote.value, voters: new Set<string>() };
      entry.voters.add(node.id);
      tally.set(key, entry);
    }
  }
  return [...tally.values()]
    .filter((e) => e.voters.size >= quorumFor(e.round, n))
    .map((e) => ({ round: e.round, value: e.value, voters: e.voters.size }))
    .sort((a, b) => a.round - b.round);
}

export function fastPaxosInvariants(nodes: readonly SimNode<FastPaxosState>[]): string[] {
  const violations: string[] = [];
  const honest = nodes.filter((node) => !node.byzantine);

  // 1. Each acceptor's state is coherent.
  for (const { id, state } of honest) {
    const a = state.acceptor;
    if (a.vrnd > a.rnd) violations.push(`${id} voted in round ${a.vrnd} above its promised round ${a.rnd}`);
    const last = a.history[a.history.length - 1];
    if (last === undefined ? a.vrnd !== -1 || a.vval !== null : last.round !== a.vrnd || last.value !== a.vval) {
      violations.push(`${id}'s last vote (${a.vrnd}, ${JSON.stringify(a.vval)}) is not the end of its history`);
    }
    // Replicated tasks: an acceptor restricted to one value never votes for another.
    const own = state.config.accept;
    for (const v of own === undefined ? [] : a.history) if (v.value !== own) violations.push(`${id} voted ${JSON.stringify(v.value)} in round ${v.round}, which it does not accept`);
    for (let i = 1; i < a.history.length; i++) {
      const prev = a.history[i - 1];
      const cur = a.history[i];
      if (prev !== undefined && cur !== undefined && cur.round <= prev.round) {
        violations.push(`${id} voted twice in round ${cur.round} or out of order (${prev.round} then ${cur.round})`);
      }
    }
  }

  // 2. One value per classic round.
  const classicValues = new Map<number, Set<Value>>();
  for (const { state } of honest) {
    for (const vote of state.acceptor.history) {
      if (isFastRound(vote.round)) continue;
      const values = classicValues.get(vote.round) ?? new Set<Value>();
      values.add(vote.value);
      classicValues.set(vote.round, values);
    }
  }
  for (const [round, values] of classicValues) {
    if (values.size > 1) violations.push(`classic round ${round} has votes for ${values.size} different values: ${[...values].map((v) => JSON.stringify(v)).join(', ')}`);
  }

  // 3. At most one value chosen.
  const chosen = chosenValues(nodes);
  const distinct = [...new Set(chosen.map((c) => c.value))];
  if (distinct.length > 1) {
    violations.push(`more than one value chosen: ${chosen.map((c) => `${JSON.stringify(c.value)} in round ${c.round} by ${c.voters}`).join('; ')}`);
  }

  // 4. Once chosen in round r, no other value is voted in a later round.
  const first = chosen[0];
  if (first !== undefined) {
    for (const { id, state } of honest) {
      for (const vote of state.acceptor.history) {
        if (vote.round > first.round && vote.value !== first.value) {
          violations.push(`${id} voted ${JSON.stringify(vote.value)} in round ${vote.round} after ${JSON.stringify(first.value)} was chosen in round ${first.round}`);
        }
      }
    }
  }

  // 5. Decisions are the chosen value.
  for (const node of honest) {
    const decisions = node.decided.map((d) => ({ slot: d.slot, value: d.value }));
    if (node.state.decided !== null && !decisions.some((d) => d.slot === 0 && d.value === node.state.decided)) {
      decisions.push({ slot: 0, value: node.state.decided });
    }
    if (node.decided.length > 1) violations.push(`${node.id} decided ${node.decided.length} times`);
    for (const d of decisions) {
      if (d.slot !== 0) violations.push(`${node.id} decided slot ${d.slot}; Fast Paxos here is single-decree (slot 0)`);
      if (first === undefined) violations.push(`${node.id} decided ${JSON.stringify(d.value)} but no value is chosen`);
      else if (d.value !== first.value) violations.push(`${node.id} decided ${JSON.stringify(d.value)} but ${JSON.stringify(first.value)} is chosen (round ${first.round})`);
    }
  }
  return violations;
}
