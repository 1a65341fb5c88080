// The quorum protocol core: its quorum rules (majority, threshold, weights),
// vote counting (once per voter and ballot, participants only), durability of
// the vote across a restart, and agreement among rival proposers under any
// interleaving of deliveries, drops, duplicates, crashes and restarts.
// The core is single-decree Paxos; each test states the rule it checks and cites
// the numbered rules of src/consensus/quorum/core.ts, the quorum rules of
// src/consensus/quorum/rules.ts, or Lamport's "Paxos Made Simple" (2001).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Input, NodeId, ProtocolOptions, Value } from '../../../src/consensus/protocol.ts';
import { majority, quorum, quorumMessageSchema, quorumRule, reachesDecide, reachesPrepare, type QuorumMessage, type QuorumState } from '../../../src/consensus/quorum/index.ts';
import { TestNet } from '../../support/testNet.ts';

const ids = (n: number): NodeId[] => Array.from({ length: n }, (_, i) => `a${i}`);
const init = (self: NodeId, peers: readonly NodeId[], opts: Partial<ProtocolOptions> = {}): QuorumState => quorum.init(self, peers, { seed: 1, ...opts });
const receive = (from: NodeId, message: QuorumMessage): Input<QuorumMessage> => ({ kind: 'receive', from, message });
const vote = (from: NodeId, ballot: number, value: Value): Input<QuorumMessage> => receive(from, { type: 'vote', ballot, value });

/** Steps one node through inputs; returns its final state and every value it decided. */
function feed(state: QuorumState, inputs: readonly Input<QuorumMessage>[]): { state: QuorumState; decided: Value[] } {
  const decided: Value[] = [];
  for (const input of inputs) {
    const out = quorum.step(state, input);
    state = out.state;
    decided.push(...out.decide.map((d) => d.value));
  }
  return { state, decided };
}

/** Feeds votes one by one from the given voters; returns how many it took to decide (undefined: never). */
function votesToDecide(peers: readonly NodeId[], voters: readonly NodeId[], opts: Partial<ProtocolOptions> = {}, learner = peers[peers.length - 1] as NodeId): number | undefined {
  let state = init(learner, peers, opts);
  for (let i = 0; i < voters.length; i++) {
    const out = quorum.step(state, vote(voters[i] as NodeId, 0, 'x'));
    state = out.state;
    if (out.decide.length > 0) return i + 1;
  }
  return undefined;
}

describe('quorum rules', () => {
  // Without options a value is decided by a majority of the participants, the smallest count such
  // that any two such sets share a participant.
  // Reference: src/consensus/quorum/rules.ts (the decide rule); Lamport, "Paxos Made Simple",
  // section 2.2
  it('majority is ⌊n/2⌋+1: n = 4 needs 3, n = 100 needs 51', () => {
    expect(majority(4)).toBe(3);
    expect(majority(100)).toBe(51);
    expect(majority(1)).toBe(1);
    expect(majority(5)).toBe(3);
    expect(votesToDecide(ids(4), ids(4))).toBe(3);
    expect(votesToDecide(ids(100), ids(100))).toBe(51);
  });

  // A majority must stay up to decide, so fewer than half may crash.
  // Reference: Lamport, "Paxos Made Simple", section 2.2
  it('fault tolerance is ⌈n/2⌉−1', () => {
    expect([1, 2, 3, 4, 5, 100].map(quorum.faultTolerance)).toEqual([0, 0, 1, 1, 2, 49]);
  });

  // Safety needs only that every prepare quorum meets every decide quorum: with a decide threshold
  // t, a prepare quorum is anything above n − t.
  // Reference: src/consensus/quorum/rules.ts; Howard et al., "Flexible Paxos" (2016)
  it('a threshold sets the votes needed, and the prepare quorum grows so that the two always intersect', () => {
    const peers = ids(5);
    expect(votesToDecide(peers, peers, { threshold: 4 })).toBe(4);
    expect(votesToDecide(peers, peers, { threshold: 2 })).toBe(2);
    expect(votesToDecide(peers, peers, { threshold: 5 })).toBe(5);
    const low = quorumRule(peers, { threshold: 2 });
    expect(reachesPrepare(low, 3)).toBe(false);
    expect(reachesPrepare(low, 4)).toBe(true);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), (n, t0) => {
        const t = Math.min(t0, n);
        const rule = quorumRule(ids(n), { threshold: t });
        const decide = Array.from({ length: n + 1 }, (_, k) => k).find((k) => reachesDecide(rule, k)) as number;
        const prepare = Array.from({ length: n + 1 }, (_, k) => k).find((k) => reachesPrepare(rule, k)) as number;
        expect(decide).toBe(t);
        expect(decide + prepare).toBeGreaterThan(n); // any prepare quorum meets any decide quorum
      }),
    );
  });

  // With weights, a quorum is a set holding more than half the total weight (or at least the
  // threshold); a participant without weight still votes but decides nothing.
  // Reference: src/consensus/quorum/rules.ts
  it('weights: decided when the accepted weight exceeds half the total; with a threshold, when it reaches it', () => {
    const peers = ['big', 's1', 's2', 's3'];
    const weights = { big: 3, s1: 1, s2: 1, s3: 1 }; // total 6
    expect(votesToDecide(peers, ['big'], { weights })).toBeUndefined(); // 3 is not more than 3
    expect(votesToDecide(peers, ['big', 's1'], { weights })).toBe(2); // 4 > 3
    expect(votesToDecide(peers, ['s1', 's2', 's3'], { weights })).toBeUndefined(); // 3 of 6
    expect(votesToDecide(peers, ['big'], { weights, threshold: 3 })).toBe(1);
    expect(votesToDecide(peers, ['s1', 's2', 'big'], { weights, threshold: 5 })).toBe(3);
    // A participant left out of the weights weighs 0: it still votes, but sways nothing.
    expect(votesToDecide(peers, ['s3', 'big'], { weights: { big: 2, s1: 1, s2: 1 } })).toBeUndefined();
    expect(votesToDecide(peers, ['s3', 'big', 's1'], { weights: { big: 2, s1: 1, s2: 1 } })).toBe(3);
  });

  // A threshold no set of participants can reach, or one of zero, would give a protocol that never
  // decides or decides on nothing; it is refused at init, as are duplicate participants.
  // Reference: src/consensus/quorum/rules.ts
  it('refuses options that could never decide or never be safe', () => {
    const peers = ids(3);
    expect(() => init('a0', peers, { threshold: 0 })).toThrow(RangeError);
    expect(() => init('a0', peers, { threshold: 4 })).toThrow(/threshold/);
    expect(() => init('a0', peers, { threshold: 1.5 })).toThrow(/integer/);
    expect(() => init('a0', peers, { weights: { a0: -1, a1: 1, a2: 1 } })).toThrow(/weight of a0/);
    expect(() => init('a0', peers, { weights: { a0: 0, a1: 0, a2: 0 } })).toThrow(/sum to 0/);
    expect(() => init('a0', peers, { weights: { a0: 1, a1: 1, a2: 1 }, threshold: 3.5 })).toThrow(/threshold/);
    expect(() => init('zz', peers)).toThrow(/not among the participants/);
    expect(() => init('a0', ['a0', 'a0'])).toThrow(/distinct/);
  });
});

describe('quorum vote counting', () => {
  const peers = ids(5);

  // A decide quorum is a set of participants: each one's vote counts once per ballot, however often
  // it arrives.
  // Reference: src/consensus/quorum/core.ts (the tally)
  it('a duplicated or replayed vote counts once', () => {
    const { decided } = feed(init('a4', peers), [vote('a1', 0, 'x'), vote('a1', 0, 'x'), vote('a2', 0, 'x'), vote('a2', 0, 'x'), vote('a1', 0, 'x')]);
    expect(decided).toEqual([]);
    expect(feed(init('a4', peers), [vote('a1', 0, 'x'), vote('a1', 0, 'x'), vote('a2', 0, 'x'), vote('a3', 0, 'x')]).decided).toEqual(['x']);
  });

  // Only participants vote; anything else's vote is ignored.
  // Reference: src/consensus/quorum/core.ts
  it('a vote from a non-participant counts for nothing', () => {
    const { decided } = feed(init('a4', peers), [vote('a1', 0, 'x'), vote('mallory', 0, 'x'), vote('eve', 0, 'x'), vote('a2', 0, 'x')]);
    expect(decided).toEqual([]);
  });

  // A value is decided by votes for it in one ballot; votes of other ballots or for other values
  // are not added together.
  // Reference: src/consensus/quorum/core.ts; Lamport, "Paxos Made Simple", section 2.2
  it('votes of different ballots, or for different values, do not add up', () => {
    expect(feed(init('a4', peers), [vote('a1', 0, 'x'), vote('a2', 5, 'x'), vote('a3', 10, 'x')]).decided).toEqual([]);
    expect(feed(init('a4', peers), [vote('a1', 0, 'x'), vote('a2', 0, 'y'), vote('a3', 0, 'x')]).decided).toEqual([]);
  });

  // A decision is final; a node that has decided answers a query with the value instead of taking
  // part again.
  // Reference: src/consensus/quorum/core.ts; Lamport, "Paxos Made Simple", section 2.3 (learning a
  // chosen value)
  it('a node decides once, and tells later askers', () => {
    const { state, decided } = feed(init('a4', peers), [vote('a1', 0, 'x'), vote('a2', 0, 'x'), vote('a3', 0, 'x'), vote('a0', 0, 'x')]);
    expect(decided).toEqual(['x']);
    const asked = quorum.step(state, receive('a2', { type: 'query' }));
    expect(asked.send).toEqual([{ to: 'a2', message: { type: 'decided', value: 'x' } }]);
    expect(asked.decide).toEqual([]);
  });

  it('the schema is strict', () => {
    expect(quorumMessageSchema.safeParse({ type: 'vote', ballot: 1, value: 'x' }).success).toBe(true);
    expect(quorumMessageSchema.safeParse({ type: 'vote', ballot: 1, value: 'x', extra: 1 }).success).toBe(false);
    expect(quorumMessageSchema.safeParse({ type: 'vote', ballot: -1, value: 'x' }).success).toBe(false);
    expect(quorumMessageSchema.safeParse({ type: 'vote', ballot: 1.5, value: 'x' }).success).toBe(false);
    expect(quorumMessageSchema.safeParse({ type: 'vote', ballot: 1 }).success).toBe(false);
    expect(quorumMessageSchema.safeParse({ type: 'forge', ballot: 1, value: 'x' }).success).toBe(false);
    expect(quorumMessageSchema.safeParse({ type: 'promise', ballot: 2, accepted: { ballot: 1, value: 'x' } }).success).toBe(true);
  });
});

describe('quorum rounds', () => {
  const peers = ids(3);

  // Ballot 0 is the lowest, so no value can have been decided below it: its owner, peers[0], skips
  // the prepare phase. Voters send their votes to the ballot's owner, which decides and tells
  // everyone.
  // Reference: src/consensus/quorum/core.ts, rule 3
  it('ballot 0 (peers[0]) proposes at once, decides on one round of votes sent to it, and tells everyone', () => {
    // a0's own vote is counted at once, in the same step: nothing but the accept goes out.
    const out = quorum.step(init('a0', peers), { kind: 'propose', value: 'x' });
    expect(out.send).toEqual([{ to: 'all', message: { type: 'accept', ballot: 0, value: 'x' } }]);
    expect(out.persist).toEqual({ promised: 0, accepted: { ballot: 0, value: 'x' }, maxBallot: 0, decided: null });
    // a1 votes, to the ballot's owner only; a0 and a1 make a majority of 3.
    const a1 = quorum.step(init('a1', peers), receive('a0', { type: 'accept', ballot: 0, value: 'x' }));
    expect(a1.send).toEqual([{ to: 'a0', message: { type: 'vote', ballot: 0, value: 'x' } }]);
    expect(a1.persist).toMatchObject({ accepted: { ballot: 0, value: 'x' } });
    const decided = quorum.step(out.state, vote('a1', 0, 'x'));
    expect(decided.decide).toEqual([{ slot: 0, value: 'x' }]);
    expect(decided.send).toEqual([{ to: 'all', message: { type: 'decided', value: 'x' } }]);
    // a1 learns it from a0.
    expect(quorum.step(a1.state, receive('a0', { type: 'decided', value: 'x' })).decide).toEqual([{ slot: 0, value: 'x' }]);
  });

  // When every node knows ballot 0's value from the start, a node told to propose it votes for it
  // in ballot 0 at once, as if the owner's accept had arrived; ballot 0 still carries that one
  // value only, and any other value needs a ballot of its own.
  // Reference: src/consensus/quorum/core.ts, rules 1 and 3
  it('when ballot 0\'s value is known to all (the round\'s), each node told to propose it votes at once, with no accept sent', () => {
    const opts = { proposal: 'x' };
    // The owner of ballot 0 takes it for itself and sends nothing: everyone else votes without its accept.
    const a0 = quorum.step(init('a0', peers, opts), { kind: 'propose', value: 'x' });
    expect(a0.send).toEqual([]);
    expect(a0.persist).toEqual({ promised: 0, accepted: { ballot: 0, value: 'x' }, maxBallot: 0, decided: null });
    const a2 = quorum.step(init('a2', peers, opts), { kind: 'propose', value: 'x' });
    expect(a2.send).toEqual([{ to: 'a0', message: { type: 'vote', ballot: 0, value: 'x' } }]);
    expect(a2.persist).toEqual({ promised: 0, accepted: { ballot: 0, value: 'x' }, maxBallot: -1, decided: null });
    // One message delay: a2's vote makes a majority at a0.
    expect(quorum.step(a0.state, vote('a2', 0, 'x')).decide).toEqual([{ slot: 0, value: 'x' }]);
    // Votes can come before the owner has started: they count all the same.
    const early = quorum.step(init('a0', peers, opts), vote('a1', 0, 'x'));
    expect(quorum.step(early.state, { kind: 'propose', value: 'x' }).decide).toEqual([{ slot: 0, value: 'x' }]);
    // Another value, or a second request at a node that has voted (a driver's retry), starts a ballot of its own the usual way.
    expect(quorum.step(init('a1', peers, opts), { kind: 'propose', value: 'y' }).send).toEqual([{ to: 'all', message: { type: 'prepare', ballot: 1 } }]);
    expect(quorum.step(a2.state, { kind: 'propose', value: 'x' }).send).toEqual([{ to: 'all', message: { type: 'prepare', ballot: 5 } }]);
    // The owner proposes the known value in ballot 0 whatever its own client asked: ballot 0 never carries two values.
    const rival = quorum.step(init('a0', peers, opts), { kind: 'propose', value: 'y' });
    expect(rival.state.proposer).toEqual({ phase: 'accepting', ballot: 0, value: 'x' });
  });

  // Before proposing in a ballot above 0, a proposer gathers promises from a prepare quorum, each
  // reporting its latest vote, and must propose the value of the highest-ballot vote reported (its
  // own only when none is).
  // Reference: src/consensus/quorum/core.ts, rule 2; Lamport, "Paxos Made Simple", section 2.2
  // (P2c)
  it('any other proposer first gathers promises, and proposes the value of the highest vote reported', () => {
    let a2 = quorum.step(init('a2', peers), { kind: 'propose', value: 'mine' });
    expect(a2.send).toEqual([{ to: 'all', message: { type: 'prepare', ballot: 2 } }]);
    expect(a2.persist).toMatchObject({ maxBallot: 2, promised: 2 });
    // a1 had voted 'theirs' in ballot 0: a2 must carry it forward.
    a2 = quorum.step(a2.state, receive('a1', { type: 'promise', ballot: 2, accepted: { ballot: 0, value: 'theirs' } }));
    expect(a2.send).toEqual([{ to: 'all', message: { type: 'accept', ballot: 2, value: 'theirs' } }]);
  });

  // Each ballot has one owner (ballot mod n), and only the owner may prepare or propose in it, so a
  // ballot never carries two values.
  // Reference: src/consensus/quorum/core.ts, rule 1
  it('only a ballot\'s owner may lead it', () => {
    const a1 = init('a1', peers);
    expect(quorum.step(a1, receive('a2', { type: 'accept', ballot: 0, value: 'x' })).send).toEqual([]); // ballot 0 is a0's
    expect(quorum.step(a1, receive('a0', { type: 'prepare', ballot: 5 })).send).toEqual([]); // 5 mod 3 = 2: a2's
  });

  // A participant votes at most once in a ballot, and once it has promised ballot b it votes in no
  // ballot below b (answering with a nack).
  // Reference: src/consensus/quorum/core.ts, rules 1 and 2; Lamport, "Paxos Made Simple", section
  // 2.2 (P1a)
  it('a voter votes at most once per ballot, and never below its promise', () => {
    const a1 = feed(init('a1', peers), [receive('a0', { type: 'accept', ballot: 3, value: 'x' })]).state;
    expect(quorum.step(a1, receive('a0', { type: 'accept', ballot: 3, value: 'y' })).send).toEqual([]);
    expect(quorum.step(a1, receive('a0', { type: 'accept', ballot: 0, value: 'y' })).send).toEqual([{ to: 'a0', message: { type: 'nack', ballot: 0, promised: 3 } }]);
  });

  // Promises and votes are on durable storage before they are sent, so a restarted voter neither
  // votes twice in a ballot nor forgets a promise; storage it cannot read is an error, never a
  // blank voter.
  // Reference: src/consensus/quorum/core.ts, rule 4
  it('a restarted voter keeps its promise and its vote', () => {
    let persisted: unknown;
    let a1 = init('a1', peers);
    for (const input of [receive('a0', { type: 'accept', ballot: 0, value: 'x' }), receive('a2', { type: 'prepare', ballot: 2 })]) {
      const out = quorum.step(a1, input);
      a1 = out.state;
      if (out.persist !== undefined) persisted = JSON.parse(JSON.stringify(out.persist));
    }
    const back = quorum.recover('a1', peers, { seed: 1 }, persisted);
    expect(back).toMatchObject({ promised: 2, accepted: { ballot: 0, value: 'x' } });
    // It reports its vote to a new ballot, refuses the old ballot, and does not vote twice in ballot 0.
    expect(quorum.step(back, receive('a0', { type: 'prepare', ballot: 3 })).send).toEqual([{ to: 'a0', message: { type: 'promise', ballot: 3, accepted: { ballot: 0, value: 'x' } } }]);
    expect(quorum.step(back, receive('a0', { type: 'accept', ballot: 0, value: 'y' })).send).toEqual([{ to: 'a0', message: { type: 'nack', ballot: 0, promised: 2 } }]);
    // Corrupt storage is an error, never a blank voter that could vote again.
    expect(() => quorum.recover('a1', peers, { seed: 1 }, { promised: 'x' })).toThrow();
    expect(quorum.recover('a1', peers, { seed: 1 }, undefined)).toMatchObject({ promised: -1, accepted: null });
  });

  // A proposer persists the highest ballot it used before sending, so even after a restart it never
  // proposes in a ballot twice.
  // Reference: src/consensus/quorum/core.ts, rules 1 and 4
  it('a restarted proposer never reuses a ballot', () => {
    const first = quorum.step(init('a0', peers), { kind: 'propose', value: 'x' });
    const back = quorum.recover('a0', peers, { seed: 1 }, JSON.parse(JSON.stringify(first.persist)));
    const again = quorum.step(back, { kind: 'propose', value: 'y' });
    // Its vote from ballot 0 survives as its candidate, and it must go through prepare in a higher ballot.
    expect(again.send).toEqual([{ to: 'all', message: { type: 'prepare', ballot: 3 } }]);
  });

  // A round that cannot decide times out; a node with nothing to propose asks the others whether a
  // value was decided.
  // Reference: src/consensus/quorum/core.ts (timeouts)
  it('an undecided node with nothing to propose asks around when its round times out', () => {
    let s = init('a1', peers, { electionTicks: 2 });
    const sent: QuorumMessage[] = [];
    for (let i = 0; i < 4; i++) {
      const out = quorum.step(s, { kind: 'tick' });
      s = out.state;
      sent.push(...out.send.map((x) => x.message));
    }
    expect(sent).toContainEqual({ type: 'query' });
  });

  // The contract every core meets, not a rule of the protocol.
  // Reference: src/consensus/protocol.ts
  it('step never mutates its input state', () => {
    const s0 = init('a2', peers);
    const snapshot = JSON.stringify(s0, (_k, v: unknown) => (v instanceof Map ? [...v] : v));
    const s1 = quorum.step(s0, { kind: 'propose', value: 'x' }).state;
    quorum.step(s1, receive('a1', { type: 'promise', ballot: 2, accepted: null }));
    expect(JSON.stringify(s0, (_k, v: unknown) => (v instanceof Map ? [...v] : v))).toBe(snapshot);
  });
});

/**
 * Quorum nodes on the test network, driven action by action: fast-check picks
 * which message is delivered, dropped or duplicated, who ticks, proposes,
 * crashes or restarts. Every step is checked: no node changes its decision,
 * and nothing unproposed is decided.
 */
class Cluster {
  readonly net: TestNet<QuorumState, QuorumMessage>;
  readonly proposed = new Set<Value>();
  readonly problems: string[] = [];

  constructor(
    readonly peers: readonly NodeId[],
    opts: ProtocolOptions,
  ) {
    this.net = new TestNet(quorum, peers, { opts });
    this.net.onStep = (net, id, _before, out) => {
      if (new Set(net.node(id).decided.map((d) => d.value)).size > 1) this.problems.push(`${id} changed its decision`);
      for (const d of out.decide) if (!this.proposed.has(d.value)) this.problems.push(`${id} decided unproposed ${d.value}`);
    };
  }

  /** Nodes that have decided. */
  decidedCount(): number {
    return this.peers.filter((p) => this.net.node(p).decided.length > 0).length;
  }

  agreement(): boolean {
    return new Set(this.peers.flatMap((p) => this.net.node(p).decided.map((d) => d.value))).size <= 1;
  }

  /**
   * Faults over: everyone restarts, the client retries its first value at one node (a proposal that lived only in a
   * crashed proposer's memory is gone, as in any system), then rounds of delivering everything pending and ticking.
   */
  settle(rounds: number): void {
    for (const p of this.peers) this.net.restart(p);
    const retry = [...this.proposed][0];
    if (retry !== undefined) this.net.propose(this.peers[this.peers.length - 1] as NodeId, retry);
    for (let round = 0; round < rounds && this.decidedCount() < this.peers.length; round++) {
      this.net.deliverLayer();
      this.net.tickAll();
    }
  }
}

const action = fc.record({
  kind: fc.constantFrom('deliver', 'deliver', 'deliver', 'deliver', 'drop', 'duplicate', 'tick', 'propose', 'crash', 'restart'),
  a: fc.nat(1000),
  b: fc.nat(1000),
});

describe('quorum agreement under rival proposals', () => {
  // Agreement: with rival proposers, lost, repeated and reordered messages, crashes and restarts,
  // no two nodes decide different values, and only proposed values are decided; once the faults
  // stop, every node decides.
  // Reference: src/consensus/quorum/core.ts, rules 1-4; Lamport, "Paxos Made Simple", sections 2.2
  // and 2.4
  it('concurrent proposals never split, whatever the schedule (drops, duplicates, reordering, crashes, restarts)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.constantFrom<Partial<ProtocolOptions>>({}, { threshold: 1 }, { threshold: 2 }, { weights: { a0: 2, a1: 1, a2: 1, a3: 3 } }),
        fc.array(action, { maxLength: 300 }),
        (n, extra, actions) => {
          const peers = ids(n);
          const opts = { seed: 7, electionTicks: 2, ...extra };
          if (opts.threshold !== undefined && opts.threshold > n) return;
          const c = new Cluster(peers, opts);
          const x = c.net;
          let values = 0;
          for (const act of actions) {
            const node = peers[act.a % n] as NodeId;
            const i = x.inFlight.length === 0 ? -1 : act.b % x.inFlight.length;
            switch (act.kind) {
              case 'deliver':
                if (i >= 0) x.deliver(i);
                break;
              case 'drop':
                if (i >= 0) x.drop(i);
                break;
              case 'duplicate': {
                // Delivered and kept: it may come again.
                const m = x.inFlight[i];
                if (m) x.inject(m.to, m.from, m.message);
                break;
              }
              case 'tick':
                x.tick(node);
                break;
              case 'propose': {
                if (!x.node(node).up) break; // a proposal to a down node is lost
                const value = `v${values++ % 4}`;
                c.proposed.add(value);
                x.propose(node, value);
                break;
              }
              case 'crash':
                x.crash(node);
                break;
              case 'restart':
                x.restart(node);
                break;
            }
          }
          expect(c.problems).toEqual([]);
          expect(c.agreement()).toBe(true);
          // Then let it finish: every node decides (if anything was proposed), still in agreement.
          c.settle(200);
          expect(c.problems).toEqual([]);
          expect(c.agreement()).toBe(true);
          if (values > 0) expect(c.decidedCount()).toBe(n);
        },
      ),
      { numRuns: 400 },
    );
  });

  // Two proposers at once: ballots and promises make one of the two values win everywhere.
  // Reference: src/consensus/quorum/core.ts, rule 2
  it('two rivals on a clean network: both values proposed, one decided by everyone', () => {
    const peers = ids(5);
    const c = new Cluster(peers, { seed: 3 });
    c.proposed.add('x').add('y');
    c.net.propose('a3', 'x');
    c.net.propose('a4', 'y');
    c.settle(200);
    expect(c.decidedCount()).toBe(peers.length);
    expect(c.agreement()).toBe(true);
    expect(c.problems).toEqual([]);
  });
});
