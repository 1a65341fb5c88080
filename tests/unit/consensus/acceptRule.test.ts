// The acceptance rule of the quorum and Fast Paxos cores, which replicated
// tasks rest on: a node given `accept` (its own output) votes for that value
// only. So a value is decided exactly when a quorum of nodes produced it: with
// k replicas of which a majority agree, the majority's value is decided
// whoever proposes first; with a split, nothing is ever decided. Checked over
// random schedules (order, drops, duplicates, ticks) with fast-check.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Input, NodeId, Protocol, Value } from '../../../src/consensus/protocol.ts';
import { majority, quorum, type QuorumState } from '../../../src/consensus/quorum/index.ts';
import { fastPaxos, type FastPaxosState } from '../../../src/consensus/fast-paxos/index.ts';
import { pbft, type PbftState } from '../../../src/consensus/pbft/index.ts';
import { quorum as pbftQuorum } from '../../../src/consensus/pbft/config.ts';
import { valueDigest as pbftDigest } from '../../../src/consensus/pbft/digest.ts';

interface Envelope {
  from: NodeId;
  to: NodeId;
  message: unknown;
}

/** What the test needs to know of a core: how it votes. */
interface Core {
  protocol: Protocol<any, any>; // generic over the two cores' state and message types
  /** Values this node's state says it has voted for. */
  votedFor(state: any): Value[];
  /** The value of a vote message, if it is one. */
  voteIn(message: any): Value | undefined;
  /** Nodes that must have produced a value for it to be decided. */
  need(n: number): number;
  /** Random schedules to try (PBFT's view changes make a split run long). */
  runs: number;
}

const CORES: Record<string, Core> = {
  quorum: {
    protocol: quorum,
    votedFor: (s: QuorumState) => (s.accepted === null ? [] : [s.accepted.value]),
    voteIn: (m: { type: string; value?: string }) => (m.type === 'vote' ? m.value : undefined),
    need: majority,
    runs: 300,
  },
  'fast-paxos': {
    protocol: fastPaxos,
    votedFor: (s: FastPaxosState) => s.acceptor.history.map((v) => v.value),
    voteIn: (m: { type: string; value?: string }) => (m.type === '2b' ? m.value : undefined),
    need: majority,
    runs: 300,
  },
  pbft: {
    protocol: pbft,
    // What a replica pre-prepared or accepted from a pre-prepare (its prepare and commit name that one's digest).
    votedFor: (s: PbftState) => Object.values(s.durable.log).flatMap((e) => (e.accepted?.value == null ? [] : [e.accepted.value])),
    voteIn: (m: { type: string; value?: string | null }) => (m.type === 'pre-prepare' && m.value !== null ? m.value : undefined),
    need: pbftQuorum,
    runs: 40,
  },
};

/** n nodes, node i accepting accepts[i]; random delivery; records every vote sent. Returns what each node decided. */
function run(core: Core, accepts: readonly (Value | null)[], proposer: number, schedule: readonly number[], seed: number, roundValue: Value = mostCommon(accepts)) {
  const { protocol } = core;
  const ids = accepts.map((_, i) => `r${i}`);
  const states = new Map<NodeId, unknown>(ids.map((id, i) => [id, protocol.init(id, ids, { seed, accept: accepts[i]! })]));
  const acceptOf = new Map(ids.map((id, i) => [id, accepts[i]!]));
  const decided = new Map<NodeId, Value>();
  const badVotes: string[] = [];
  let net: Envelope[] = [];
  const step = (id: NodeId, input: Input<unknown>) => {
    const out = protocol.step(states.get(id), input);
    states.set(id, out.state);
    const own = acceptOf.get(id);
    for (const v of core.votedFor(out.state)) if (v !== own) badVotes.push(`${id} holds a vote for ${v}`);
    for (const { to, message } of out.send) {
      const v = core.voteIn(message);
      if (v !== undefined && v !== own) badVotes.push(`${id} sent a vote for ${v}`);
      for (const dest of to === 'all' ? ids.filter((x) => x !== id) : [to]) net.push({ from: id, to: dest, message });
    }
    for (const d of out.decide) {
      const before = decided.get(id);
      if (before !== undefined && before !== d.value) badVotes.push(`${id} decided twice`);
      decided.set(id, d.value);
    }
  };
  // The round's value goes to the proposer (the judge puts the most common output to the replicas).
  step(ids[proposer]!, { kind: 'propose', value: roundValue });
  // A hostile phase: pick, drop, duplicate, tick.
  for (const r of schedule) {
    if (net.length && r % 5 !== 4) {
      const i = r % net.length;
      const env = net[i]!;
      if (r % 7 === 0) net.splice(i, 1); // dropped
      else if (r % 11 !== 0) net.splice(i, 1); // else duplicated: delivered and kept
      if (r % 7 !== 0) step(env.to, { kind: 'receive', from: env.from, message: env.message });
    } else step(ids[r % ids.length]!, { kind: 'tick' });
  }
  // Then a healed network. The runtime's driver proposes at the next participant while a round is undecided: here, at every node.
  for (const id of ids) step(id, { kind: 'propose', value: roundValue });
  // Deliver everything, tick everyone, long enough for retries.
  for (let round = 0; round < 400; round++) {
    const batch = net;
    net = [];
    for (const env of batch) step(env.to, { kind: 'receive', from: env.from, message: env.message });
    for (const id of ids) step(id, { kind: 'tick' });
    if (decided.size === ids.length) break;
  }
  return { decided, badVotes, ids };
}

function mostCommon(accepts: readonly (Value | null)[]): Value {
  const counts = new Map<Value, number>();
  for (const a of accepts) if (a !== null) counts.set(a, (counts.get(a) ?? 0) + 1);
  return [...counts].sort((x, y) => y[1] - x[1])[0]?.[0] ?? 'nothing';
}

const value = fc.constantFrom('A', 'B', 'C', 'D');

describe.each(Object.keys(CORES))('%s acceptance (replicated tasks)', (name) => {
  const core = CORES[name]!;
  it('a node never votes for a value it does not accept, and only a value a quorum accepts is decided', () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(value, { nil: null, freq: 8 }), { minLength: 2, maxLength: 9 }),
        fc.nat(),
        fc.array(fc.nat({ max: 10_000 }), { maxLength: 200 }),
        fc.integer(),
        fc.option(value, { nil: undefined }),
        (accepts, p, schedule, seed, put) => {
          // The round's value: the most common output (what the judge puts), or any value at all.
          const roundValue = put ?? mostCommon(accepts);
          const { decided, badVotes } = run(core, accepts, p % accepts.length, schedule, seed, roundValue);
          expect(badVotes).toEqual([]);
          const q = core.need(accepts.length);
          const winner = accepts.filter((a) => a === roundValue).length >= q ? roundValue : undefined;
          const values = new Set(decided.values());
          if (winner === undefined) expect(values.size).toBe(0); // a split: nothing is decided, ever
          else {
            // The majority's value, at every node, even those that dissented and whoever proposed first.
            expect([...values]).toEqual([winner]);
            expect(decided.size).toBe(accepts.length);
          }
        },
      ),
      { numRuns: core.runs },
    );
  }, 60_000);

  it('3 replicas, one dissenting: the majority value is decided even when the dissenter proposes first', () => {
    const { decided } = run(core, ['X', 'X', 'Y'], 2, [], 7);
    expect([...decided.values()]).toEqual(['X', 'X', 'X']);
  });

  it('an even split (2 vs 2) or all different decides nothing', () => {
    expect(run(core, ['X', 'X', 'Y', 'Y'], 0, [], 3).decided.size).toBe(0);
    expect(run(core, ['X', 'Y', 'Z'], 0, [], 3).decided.size).toBe(0);
  });

  it('a replica that failed (accepts nothing) still counts in n: 2 of 3 agreeing decide, 1 of 3 does not', () => {
    expect([...new Set(run(core, ['X', null, 'X'], 1, [], 5).decided.values())]).toEqual(['X']);
    expect(run(core, ['X', null, null], 0, [], 5).decided.size).toBe(0);
  });

  it('without accept a node votes for whatever is proposed, as before', () => {
    const ids = ['a', 'b', 'c'];
    const s = core.protocol.init('b', ids, { seed: 1 });
    const message =
      name === 'quorum'
        ? { type: 'accept', ballot: 0, value: 'anything' }
        : name === 'pbft'
          ? { type: 'pre-prepare', view: 0, seq: 1, digest: pbftDigest('anything'), value: 'anything' }
          : { type: 'propose', value: 'anything' };
    if (name === 'pbft') {
      // A backup answers a pre-prepare with its prepare (no value in it): it has accepted the value.
      const out = core.protocol.step(s, { kind: 'receive', from: 'a', message });
      expect(core.votedFor(out.state)).toEqual(['anything']);
      return;
    }
    const out = core.protocol.step(s, { kind: 'receive', from: 'a', message });
    expect(out.send.map((e: { message: unknown }) => core.voteIn(e.message))).toContain('anything');
  });
});
