// Fast Paxos core (Lamport 2006), single decree: quorum sizes, the fast path,
// collision and recovery (coordinated and by Phase 1), the recovery rule,
// persistence across restarts, duplicates and reordering, the wire schema,
// the invariant checker and the simulator spec. Deterministic, no Redis: the
// nodes run on the test network (tests/support/testNet.ts), driven message by message.
// Each test states the rule it checks; sections are those of Lamport, "Fast Paxos"
// (Distributed Computing 19(2), 2006), numbered as in its technical report MSR-TR-2005-112.
import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../../src/consensus/protocol.ts';
import type { SimNode, SimRandom } from '../../../src/consensus/sim/spec.ts';
import { fastPaxos, pickValue } from '../../../src/consensus/fast-paxos/index.ts';
import { chosenValues, fastPaxosInvariants } from '../../../src/consensus/fast-paxos/invariants.ts';
import { fastPaxosMessageSchema, type FastPaxosMessage } from '../../../src/consensus/fast-paxos/messages.ts';
import { classicQuorum, fastQuorum, faultTolerance, nextOwnedRound, ownerOf } from '../../../src/consensus/fast-paxos/quorums.ts';
import { fastPaxosSimSpec } from '../../../src/consensus/fast-paxos/sim.ts';
import type { FastPaxosState, Report } from '../../../src/consensus/fast-paxos/state.ts';
import { TestNet, type Envelope } from '../../support/testNet.ts';

const ids = (n: number): NodeId[] => Array.from({ length: n }, (_, i) => `n${i}`);
const net = (n: number, freeze = true) => new TestNet(fastPaxos, ids(n), { freeze });
type Net = ReturnType<typeof net>;

function expectSafe(x: Net): void {
  expect(fastPaxosInvariants(x.simNodes())).toEqual([]);
  const decided = new Set(x.decidedValues().filter((v) => v !== undefined));
  expect(decided.size).toBeLessThanOrEqual(1);
}

/** Delivers one layer at a time, ticking every node between layers, until every up node decided. Returns the ticks it took. */
function runUntilDecided(x: Net, maxTicks = 2000): number {
  for (let t = 0; t < maxTicks; t++) {
    x.deliverLayer();
    expectSafe(x);
    if (x.peers.every((id) => !x.node(id).up || x.node(id).decided.length > 0)) return t;
    x.tickAll();
  }
  throw new Error('not decided');
}

const isType =
  (...types: FastPaxosMessage['type'][]) =>
  (m: Envelope<FastPaxosMessage>): boolean =>
    types.includes(m.message.type);

describe('quorums', () => {
  // Classic rounds decide on a majority; a fast round needs a larger quorum, chosen as small as the
  // quorum requirement allows.
  // Reference: section 3.4.1 (choosing quorums)
  it('uses fast quorum ⌈3n/4⌉ and classic majority ⌊n/2⌋+1', () => {
    expect([fastQuorum(4), classicQuorum(4)]).toEqual([3, 3]);
    expect([fastQuorum(100), classicQuorum(100)]).toEqual([75, 51]);
    expect([fastQuorum(1), classicQuorum(1)]).toEqual([1, 1]);
  });

  // Quorum requirement: any two quorums intersect, and any classic quorum meets any two fast
  // quorums, so that a recovering coordinator can tell which value a fast round may have chosen.
  // With sizes M and F among n acceptors: 2M > n and M + 2F > 2n.
  // Reference: sections 3.1 and 3.4.1
  it('meets Lamport’s requirement M + 2F > 2n (two fast quorums and a classic one intersect) with the smallest such F, for every n ≤ 300', () => {
    for (let n = 1; n <= 300; n++) {
      const F = fastQuorum(n);
      const M = classicQuorum(n);
      expect(2 * M, `n=${n}`).toBeGreaterThan(n);
      expect(M + 2 * F, `n=${n}`).toBeGreaterThan(2 * n);
      expect(M + 2 * (F - 1), `n=${n}: a smaller fast quorum would do`).toBeLessThanOrEqual(2 * n);
      expect(F).toBeLessThanOrEqual(n);
    }
  });

  // Progress needs a classic quorum of acceptors that do not fail: with majorities, fewer than half
  // may crash.
  // Reference: sections 2.3 and 3.4.1
  it('tolerates the classic bound ⌈n/2⌉−1 of crashes', () => {
    expect([1, 2, 3, 4, 5, 7, 100].map(faultTolerance)).toEqual([0, 0, 1, 1, 2, 3, 49]);
    for (let n = 1; n <= 50; n++) expect(faultTolerance(n)).toBe(Math.ceil(n / 2) - 1);
  });

  // Each round belongs to one coordinator, known to all. Coordinated recovery needs the coordinator
  // of the fast round to own the classic round that follows it.
  // Reference: section 2.2.1; section 3.2
  it('gives rounds to disjoint coordinators, peers[0] owning both the fast round 0 and round 1', () => {
    const peers = ids(4);
    expect([0, 1, 2, 3, 4, 5, 6].map((r) => ownerOf(r, peers))).toEqual(['n0', 'n0', 'n1', 'n2', 'n3', 'n0', 'n1']);
    expect(nextOwnedRound(0, 0, 4)).toBe(1);
    expect(nextOwnedRound(1, 0, 4)).toBe(5);
    expect(nextOwnedRound(0, 2, 4)).toBe(3);
    expect(nextOwnedRound(7, 2, 4)).toBe(11);
    for (let after = 0; after < 30; after++) {
      for (let i = 0; i < 4; i++) {
        const r = nextOwnedRound(after, i, 4);
        expect(r).toBeGreaterThan(after);
        expect(ownerOf(r, peers)).toBe(peers[i]);
        expect(r - after).toBeLessThanOrEqual(4);
      }
    }
  });
});

describe('fast round without collision', () => {
  for (const n of [1, 4, 100]) {
    // In a fast round each acceptor votes for the first proposal it receives, with no Phase 1 or 2a
    // from a coordinator; a value is chosen when a fast quorum has voted for it, so a learner
    // learns it two message delays after it is proposed. Sending the 2b messages to the coordinator
    // alone, which tells the rest, saves messages for one more delay.
    // Reference: section 3.1; section 2.4.1 (reducing the number of messages)
    it(`n = ${n}: the coordinator decides one message delay after the acceptors get the proposal, everyone one later, with no Phase 1 or 2a`, () => {
      const x = net(n, n <= 10);
      x.propose(`n${n - 1}`, 'v');
      if (n === 1) {
        expect(x.decidedValues()).toEqual(['v']);
        return;
      }
      x.deliverLayer(); // proposer → acceptors: they vote, each sending its 2b to the coordinator of round 0 (n0)
      expect(x.decidedValues().filter((v) => v !== undefined)).toEqual([]);
      x.deliverLayer(); // 2b → n0, which counts a fast quorum and tells everyone
      expect(x.decidedValues().filter((v) => v !== undefined)).toEqual(['v']);
      expect(x.node('n0').decided).toEqual([{ slot: 0, value: 'v' }]);
      x.deliverLayer(); // decided → everyone
      expect(x.decidedValues()).toEqual(Array.from({ length: n }, () => 'v'));
      expect(x.peers.every((id) => x.node(id).decided.length === 1 && x.node(id).decided[0]?.slot === 0)).toBe(true);
      for (const t of ['1a', '1b', '2a', 'nack'] as const) expect(x.sentByType.get(t) ?? 0).toBe(0);
      // Every acceptor but n0 (whose own vote stays local) sends one 2b, and only to n0: n − 1 instead of n·(n − 1).
      expect(x.sentByType.get('2b')).toBe(n - 1);
      x.settle();
      expectSafe(x);
      const state = x.node('n0').state;
      expect(state.acceptor).toMatchObject({ rnd: 0, vrnd: 0, vval: 'v' });
    });
  }

  // Not a rule of the paper but an option of this core (`proposal`, src/consensus/protocol.ts):
  // when every acceptor already holds the proposal, its vote needs no message from the proposer;
  // the fast round is otherwise unchanged.
  // Reference: section 3.1
  it('a value every node knows from the start, proposed at all of them, is decided by n0 in one message delay and sent by nobody', () => {
    const n = 100;
    const x = new TestNet(fastPaxos, ids(n), { opts: { seed: 1, proposal: 'v' }, freeze: false });
    for (const id of x.peers) x.propose(id, 'v');
    expect(x.sentByType.get('propose') ?? 0).toBe(0);
    expect(x.decidedValues().filter((v) => v !== undefined)).toEqual([]);
    x.deliverLayer(); // each acceptor's 2b → n0
    expect(x.node('n0').decided).toEqual([{ slot: 0, value: 'v' }]);
    x.settle();
    expect(x.decidedValues()).toEqual(Array.from({ length: n }, () => 'v'));
    expectSafe(x);
  });

  // The same option does not restrict proposers: any value may still be proposed in the fast round,
  // and the first one each acceptor receives gets its vote.
  // Reference: section 3.1
  it('a known value does not stop a node from proposing another one the usual way', () => {
    const x = new TestNet(fastPaxos, ids(4), { opts: { seed: 1, proposal: 'v' } });
    x.propose('n2', 'w');
    expect(x.sentByType.get('propose')).toBe(3);
    x.settle();
    expect(x.decidedValues()).toEqual(['w', 'w', 'w', 'w']);
    expectSafe(x);
  });

  // A fast round decides as long as a fast quorum of acceptors is up.
  // Reference: sections 3.1 and 3.3
  it('decides even if up to n − ⌈3n/4⌉ acceptors are down', () => {
    const x = net(8);
    expect(fastQuorum(8)).toBe(6);
    x.crash('n6');
    x.crash('n7');
    x.propose('n3', 'v');
    x.settle();
    expect(x.decidedValues()).toEqual(['v', 'v', 'v', 'v', 'v', 'v', undefined, undefined]);
    expect(x.sentByType.get('1a') ?? 0).toBe(0);
  });
});

describe('collision and recovery', () => {
  /** n = 4, F = 3: x reaches n0, n1 first and y reaches n2, n3 first, so each gets two votes. */
  function collide(x: Net): void {
    x.propose('n1', 'x');
    x.propose('n2', 'y');
    const first = (m: Envelope<FastPaxosMessage>) =>
      m.message.type === 'propose' && ((m.message.value === 'x' && m.to === 'n0') || (m.message.value === 'y' && m.to === 'n3'));
    x.deliverLayer(first);
    x.deliverLayer(isType('propose')); // the late proposals: nobody votes twice
  }

  // When proposals collide and no value gets a fast quorum, the coordinator of the next round, if
  // it coordinated the fast round too, takes the fast round's 2b messages as Phase 1b answers for
  // its own round, picks a value by the rule below and sends its 2a: coordinated recovery, with no
  // Phase 1.
  // Reference: section 3.2 (collision recovery)
  it('a collision of two values is recovered by the coordinator of rounds 0 and 1 from the 2b messages, and every node decides the same one', () => {
    const x = net(4);
    collide(x);
    expect(x.peers.map((id) => x.node(id).state.acceptor.vval)).toEqual(['x', 'x', 'y', 'y']);
    x.settle();
    expectSafe(x);
    const decided = x.decidedValues();
    expect(new Set(decided).size).toBe(1);
    expect(['x', 'y']).toContain(decided[0]);
    expect(x.sentByType.get('1a') ?? 0).toBe(0); // coordinated recovery: no Phase 1
    expect(x.sentByType.get('2a')).toBe(3);
    expect(chosenValues(x.simNodes())).toEqual([{ round: 1, value: decided[0], voters: 4 }]);
  });

  // If no round completes, some coordinator starts a higher classic round with Phase 1; it picks a
  // value the fast round may have chosen, if any, so every node decides one of the proposed values.
  // Reference: sections 3.2 and 3.3
  it('with the fast coordinator crashed, a timeout starts a classic round (Phase 1) elsewhere and every live node decides one of the values', () => {
    const x = net(4);
    collide(x);
    x.crash('n0');
    x.settle();
    expect(x.decidedValues().every((v) => v === undefined)).toBe(true);
    const ticks = runUntilDecided(x);
    expect(ticks).toBeLessThan(fastPaxosSimSpec.livenessTicks);
    const decided = x.decidedValues();
    expect(decided[0]).toBeUndefined();
    expect(new Set(decided.slice(1)).size).toBe(1);
    expect(['x', 'y']).toContain(decided[1]);
    expect(x.sentByType.get('1a')).toBeGreaterThan(0);
    // n0 comes back and learns the same value.
    x.restart('n0');
    runUntilDecided(x);
    expect(new Set(x.decidedValues()).size).toBe(1);
  });

  // Recovery works for any number of colliding values: no value could have been chosen, so the
  // coordinator may pick any proposed value, and exactly one is decided.
  // Reference: section 3.2
  it('a three-way collision at n = 100 still ends in one decision', () => {
    const x = net(100, false);
    x.propose('n10', 'a');
    x.propose('n50', 'b');
    x.propose('n90', 'c');
    // Each acceptor gets the proposal of the proposer closest below it first.
    const ownerOfFirst = (to: string) => {
      const i = Number(to.slice(1));
      return i < 40 ? 'a' : i < 70 ? 'b' : 'c';
    };
    x.deliverLayer((m) => m.message.type === 'propose' && m.message.value === ownerOfFirst(m.to));
    x.settle();
    expectSafe(x);
    const decided = x.decidedValues();
    expect(new Set(decided).size).toBe(1);
    expect(decided[0]).toBe('a'); // no value could have been chosen; the most voted one is picked
  });
});

// The rule by which a coordinator picks the value of a classic round from the Phase 1b answers of a
// quorum Q, where k is the highest round any of them voted in.
describe('the recovery rule', () => {
  const voted = (value: string, count: number): Report[] => Array.from({ length: count }, () => ({ vrnd: 0, vval: value, proposal: value }));

  // If k is a fast round, a value v could have been chosen in it only if some fast quorum R has
  // every acceptor of Q ∩ R voting v in k; the quorum requirement makes such a v unique, and the
  // coordinator must pick it.
  // Reference: section 3.1
  it('must pick a value that could have been chosen in the fast round', () => {
    // n = 4, F = 3, |Q| = 3: x could have been chosen iff ≥ 3 − (4 − 3) = 2 of Q voted it.
    expect(pickValue([...voted('y', 1), ...voted('x', 2)], 4, 'y')).toEqual({ kind: 'value', value: 'x', forced: true });
    // n = 100, F = 75, |Q| = 51: needs ≥ 26.
    expect(pickValue([...voted('y', 25), ...voted('x', 26)], 100, 'y')).toEqual({ kind: 'value', value: 'x', forced: true });
    expect(pickValue([...voted('y', 25), ...voted('x', 25), { vrnd: -1, vval: null, proposal: 'z' }], 100, 'z')).toEqual({
      kind: 'value',
      value: 'x',
      forced: false,
    });
  });

  // If k is a classic round, its coordinator sent one value only, and that value is the one to
  // pick, whatever was voted in earlier rounds.
  // Reference: section 2.2.2 (picking a value in Phase 2a)
  it('takes the value of the highest classic round over anything voted in the fast round', () => {
    const reports: Report[] = [...voted('x', 2), { vrnd: 3, vval: 'y', proposal: 'x' }];
    expect(pickValue(reports, 4, 'x')).toEqual({ kind: 'value', value: 'y', forced: true });
  });

  // If nobody in Q voted, no value can have been chosen in an earlier round, and the coordinator
  // may pick any proposed value (it waits while it knows none).
  // Reference: section 2.2.2
  it('picks a proposed value when nobody voted, and waits when it knows none', () => {
    const none: Report = { vrnd: -1, vval: null, proposal: null };
    expect(pickValue([none, none, none], 4, null)).toEqual({ kind: 'none' });
    expect(pickValue([none, none, { ...none, proposal: 'p' }], 4, null)).toEqual({ kind: 'value', value: 'p', forced: false });
    expect(pickValue([none, none, none], 4, 'q')).toEqual({ kind: 'value', value: 'q', forced: false });
  });

  // A value chosen in the fast round may be unknown to everyone, its 2b messages lost; Phase 1 of
  // the next classic round finds it by the rule above and picks it again.
  // Reference: sections 3.1 and 3.2
  it('in a run: x chosen in the fast round but unseen (its 2b messages lost) is the value Phase 1 recovery picks', () => {
    const x = net(4);
    x.propose('n0', 'y'); // the coordinator itself votes y
    x.propose('n3', 'x');
    x.deliverLayer((m) => m.message.type === 'propose' && m.message.value === 'x' && m.to !== 'n0');
    x.inFlight = x.inFlight.filter((m) => m.message.type !== '2b'); // every 2b lost
    x.settle();
    expect(x.peers.map((id) => x.node(id).state.acceptor.vval)).toEqual(['y', 'x', 'x', 'x']);
    expect(chosenValues(x.simNodes())).toEqual([{ round: 0, value: 'x', voters: 3 }]);
    expect(x.decidedValues().every((v) => v === undefined)).toBe(true);
    // n0 times out (it holds only its own round-0 vote, so it runs Phase 1 for round 1);
    // its own 1b (y) counts first, then two of the x voters answer.
    for (let t = 0; t < 100 && (x.sentByType.get('1a') ?? 0) === 0; t++) x.tickAll();
    x.deliverLayer(isType('1a'));
    const oneBs = x.inFlight.filter(isType('1b'));
    expect(oneBs.length).toBe(3);
    x.inFlight = x.inFlight.filter((m) => !(m.message.type === '1b' && m.from === 'n3'));
    x.deliverLayer(isType('1b'));
    const twoAs = x.inFlight.filter(isType('2a'));
    expect(twoAs.map((m) => m.message)).toEqual(Array.from({ length: 3 }, () => ({ type: '2a', round: 1, value: 'x' })));
    x.settle();
    expect(x.decidedValues()).toEqual(['x', 'x', 'x', 'x']);
    expectSafe(x);
  });
});

// An acceptor must not forget, across a crash, the highest round it joined (rnd) and its vote
// (vrnd, vval), and a coordinator must not start a round it has started before; so they are on
// stable storage before any message leaves.
// Reference: section 2.2.1
describe('persistence', () => {
  it('a restarted acceptor keeps its promise: no vote in a lower round, a nack instead', () => {
    const x = net(4);
    x.propose('n3', 'v'); // n3 votes v in round 0 itself
    x.deliverLayer((m) => m.message.type === 'propose' && m.to === 'n1'); // so does n1
    x.inFlight = [];
    // n1 starts round 2 (its round): everyone joins it.
    for (let t = 0; t < 200 && (x.sentByType.get('1a') ?? 0) === 0; t++) x.tick('n1');
    expect(x.node('n1').state.coordinator.round).toBe(2);
    x.deliverLayer(isType('1a'));
    expect(x.node('n2').state.acceptor.rnd).toBe(2);
    x.crash('n2');
    x.restart('n2');
    expect(x.node('n2').state.acceptor).toMatchObject({ rnd: 2, vrnd: -1 });
    expect(x.node('n2').state.maxRound).toBe(2);
    // A late fast-round proposal and a round-1 2a are both refused.
    x.inFlight = [];
    x.apply('n2', { kind: 'receive', from: 'n0', message: { type: 'propose', value: 'w' } });
    expect(x.node('n2').state.acceptor.vrnd).toBe(-1);
    expect(x.inFlight).toEqual([]);
    x.apply('n2', { kind: 'receive', from: 'n0', message: { type: '2a', round: 1, value: 'w' } });
    expect(x.node('n2').state.acceptor.vrnd).toBe(-1);
    expect(x.inFlight.map((m) => m.message)).toEqual([{ type: 'nack', round: 1, promised: 2 }]);
  });

  it('a restarted acceptor keeps its vote, and a restarted coordinator never reuses a round', () => {
    const x = net(4);
    x.propose('n3', 'v');
    x.deliverLayer((m) => m.message.type === 'propose' && m.to === 'n1');
    x.inFlight = [];
    for (let t = 0; t < 200 && (x.sentByType.get('1a') ?? 0) === 0; t++) x.tick('n1');
    expect(x.node('n1').state.coordinator.round).toBe(2);
    x.inFlight = [];
    x.crash('n1');
    x.crash('n3');
    x.restart('n1');
    x.restart('n3');
    expect(x.node('n3').state.acceptor).toMatchObject({ rnd: 0, vrnd: 0, vval: 'v', history: [{ round: 0, value: 'v' }] });
    expect(x.node('n3').state.proposal).toBe('v');
    expect(x.node('n1').state.maxRound).toBe(2);
    for (let t = 0; t < 500 && x.inFlight.length === 0; t++) x.tick('n1');
    expect(x.inFlight[0]?.message).toEqual({ type: '1a', round: 6 });
  });

  it('a decided node that restarts does not decide again, and tells a node that missed everything', () => {
    const x = net(4);
    x.crash('n3');
    x.propose('n0', 'v');
    x.settle();
    expect(x.decidedValues()).toEqual(['v', 'v', 'v', undefined]);
    x.crash('n1');
    x.restart('n1');
    expect(x.node('n1').state.decided).toBe('v');
    x.restart('n3'); // it never heard anything: it asks
    const ticks = runUntilDecided(x);
    expect(ticks).toBeLessThanOrEqual(fastPaxosSimSpec.livenessTicks);
    expect(x.decidedValues()).toEqual(['v', 'v', 'v', 'v']);
    expect(x.peers.map((id) => x.node(id).decided.length)).toEqual([1, 1, 1, 1]);
    expect(x.sentByType.get('query')).toBeGreaterThan(0);
  });

  it('recover rejects a malformed record instead of forgetting promises', () => {
    const peers = ids(3);
    expect(() => fastPaxos.recover('n0', peers, { seed: 1 }, { version: 1, rnd: 'x' })).toThrow(/cannot recover/);
    expect(() =>
      fastPaxos.recover('n0', peers, { seed: 1 }, { version: 1, rnd: 1, vrnd: 2, vval: 'a', history: [{ round: 2, value: 'a' }], proposal: null, decided: null }),
    ).toThrow(/cannot recover/);
    expect(fastPaxos.recover('n0', peers, { seed: 1 }, undefined)).toEqual(fastPaxos.init('n0', peers, { seed: 1 }));
  });

  it('every output that changes durable state carries it, and the persisted record restores it exactly', () => {
    const peers = ids(3);
    const s = fastPaxos.init('n1', peers, { seed: 1 });
    const out = fastPaxos.step(s, { kind: 'propose', value: 'v' });
    expect(out.persist).toEqual({ version: 1, rnd: 0, vrnd: 0, vval: 'v', history: [{ round: 0, value: 'v' }], proposal: 'v', decided: null });
    expect(out.send.map((e) => e.message.type)).toEqual(['propose', '2b']);
    expect(fastPaxos.step(out.state, { kind: 'tick' }).persist).toBeUndefined();
    const back = fastPaxos.recover('n1', peers, { seed: 1 }, JSON.parse(JSON.stringify(out.persist)));
    expect(back.acceptor).toEqual(out.state.acceptor);
  });
});

describe('duplicates and reordering', () => {
  // A value is chosen when every acceptor of a quorum has voted for it: a quorum is a set of
  // acceptors, so the same acceptor's vote counts once however often it arrives.
  // Reference: section 2.2.1
  it('a duplicated 2b counts once', () => {
    const x = net(4);
    x.propose('n1', 'v');
    // n1 voted for its own proposal; its 2b goes to the coordinator n0 (F = 3 of 4).
    const twoB = x.inFlight.findIndex((m) => m.message.type === '2b' && m.to === 'n0');
    x.duplicate(twoB);
    x.duplicate(twoB);
    x.inFlight = x.inFlight.filter((m) => m.message.type === '2b' && m.to === 'n0');
    expect(x.inFlight.length).toBe(3);
    x.settle();
    expect(x.node('n0').decided).toEqual([]);
  });

  // Messages may be lost, duplicated and delivered in any order; safety does not depend on
  // delivery.
  // Reference: section 2.1 (the problem)
  it('every message delivered twice and newest first still decides one value everywhere', () => {
    for (const scenario of ['fast', 'collision'] as const) {
      const x = net(5);
      x.propose('n1', 'x');
      if (scenario === 'collision') {
        x.propose('n3', 'y');
        x.propose('n4', 'z');
      }
      for (let i = 0; i < 200 && x.inFlight.length > 0; i++) {
        const last = x.inFlight.length - 1;
        x.duplicate(last);
        x.deliver(last + 1);
        x.deliver(last);
        expectSafe(x);
      }
      runUntilDecided(x);
      expect(new Set(x.decidedValues()).size).toBe(1);
      expect(x.peers.every((id) => x.node(id).decided.length === 1)).toBe(true);
    }
  });

  // Only the coordinator of a round sends its 1a and 2a messages; a classic round has a single
  // value because only its coordinator picks it.
  // Reference: section 2.2.1
  it('ignores messages from non-participants and 1a/2a not from the round’s owner', () => {
    const s = fastPaxos.init('n1', ids(4), { seed: 1 });
    expect(fastPaxos.step(s, { kind: 'receive', from: 'intruder', message: { type: 'decided', value: 'v' } }).state).toBe(s);
    const forged = fastPaxos.step(s, { kind: 'receive', from: 'n3', message: { type: '2a', round: 1, value: 'v' } });
    expect(forged.state).toBe(s);
    expect(forged.send).toEqual([]);
  });
});

// The wire schema, the invariant checker and the simulator spec are the contract every core meets
// (src/consensus/protocol.ts), not rules of the paper.
describe('wire schema', () => {
  it('accepts the protocol’s messages and rejects malformed ones', () => {
    const ok: unknown[] = [
      { type: 'propose', value: 'v' },
      { type: '1a', round: 1 },
      { type: '1b', round: 2, vrnd: -1, vval: null, proposal: null },
      { type: '1b', round: 2, vrnd: 0, vval: 'v', proposal: 'w' },
      { type: '2a', round: 3, value: 'v' },
      { type: '2b', round: 0, value: 'v' },
      { type: 'nack', round: 1, promised: 5 },
      { type: 'query' },
      { type: 'decided', value: 'v' },
    ];
    for (const m of ok) expect(fastPaxosMessageSchema.safeParse(m).success, JSON.stringify(m)).toBe(true);
    const bad: unknown[] = [
      null,
      'propose',
      { type: 'propose' },
      { type: 'propose', value: 1 },
      { type: 'propose', value: 'v', extra: true },
      { type: '1a', round: 0 }, // round 0 has no Phase 1
      { type: '2a', round: 0, value: 'v' }, // nor a 2a with a value
      { type: '2b', round: -1, value: 'v' },
      { type: '2b', round: 1.5, value: 'v' },
      { type: '1b', round: 2, vrnd: 0, vval: null, proposal: null },
      { type: '1b', round: 2, vrnd: -1, vval: 'v', proposal: null },
      { type: '1b', round: 2, vrnd: 2, vval: 'v', proposal: null },
      { type: 'any', round: 0 },
    ];
    for (const m of bad) expect(fastPaxosMessageSchema.safeParse(m).success, JSON.stringify(m)).toBe(false);
    expect(fastPaxos.messageSchema).toBe(fastPaxosMessageSchema);
  });
});

describe('invariants and the simulator spec', () => {
  const nodeWith = (id: string, history: { round: number; value: string }[], decided: string | null = null): SimNode<FastPaxosState> => {
    const base = fastPaxos.init(id, ids(4), { seed: 1 });
    const last = history[history.length - 1];
    const state: FastPaxosState = {
      ...base,
      acceptor: { rnd: last?.round ?? 0, vrnd: last?.round ?? -1, vval: last?.value ?? null, history },
      decided,
    };
    return { id, state, up: true, byzantine: false, decided: decided === null ? [] : [{ slot: 0, value: decided }] };
  };

  it('finds no violation in a clean run and reports two chosen values, a bad recovery and a wrong decision', () => {
    expect(fastPaxosInvariants([nodeWith('n0', [{ round: 0, value: 'x' }], 'x'), nodeWith('n1', [{ round: 0, value: 'x' }]), nodeWith('n2', [{ round: 0, value: 'x' }]), nodeWith('n3', [])])).toEqual([]);

    // x chosen in round 0 by 3 (= F), y then chosen in classic round 1 by 3 (= M).
    const broken = [
      nodeWith('n0', [{ round: 0, value: 'x' }, { round: 1, value: 'y' }], 'x'),
      nodeWith('n1', [{ round: 0, value: 'x' }, { round: 1, value: 'y' }]),
      nodeWith('n2', [{ round: 0, value: 'x' }]),
      nodeWith('n3', [{ round: 1, value: 'y' }], 'y'),
    ];
    const v = fastPaxosInvariants(broken);
    expect(v.some((s) => s.startsWith('more than one value chosen'))).toBe(true);
    expect(v.some((s) => s.includes('after "x" was chosen in round 0'))).toBe(true);
    expect(v.some((s) => s.includes('n3 decided "y" but'))).toBe(true);

    const twoIn1 = [nodeWith('n0', [{ round: 1, value: 'x' }]), nodeWith('n1', [{ round: 1, value: 'y' }]), nodeWith('n2', []), nodeWith('n3', [])];
    expect(fastPaxosInvariants(twoIn1)).toEqual(['classic round 1 has votes for 2 different values: "x", "y"']);

    expect(fastPaxosInvariants([nodeWith('n0', [], 'x'), nodeWith('n1', []), nodeWith('n2', []), nodeWith('n3', [])])).toEqual([
      'n0 decided "x" but no value is chosen',
    ]);
  });

  it('registers the protocol, proposes to up nodes only, and allows time for a collision and a recovery', () => {
    expect(fastPaxosSimSpec.protocol).toBe(fastPaxos);
    expect(fastPaxos.name).toBe('fast-paxos');
    expect(fastPaxos.faultTolerance(100)).toBe(49);
    const x = net(4);
    x.crash('n0');
    x.crash('n2');
    let next = 0;
    const rng: SimRandom = { int: (min, max) => Math.min(max, min + next++), chance: () => false };
    const picks = [0, 1, 2, 3].map(() => fastPaxosSimSpec.proposeTo(x.simNodes(), rng));
    expect(picks.every((id) => id === 'n1' || id === 'n3')).toBe(true);
    expect(fastPaxosSimSpec.livenessTicks).toBeGreaterThanOrEqual(500);
  });
});
