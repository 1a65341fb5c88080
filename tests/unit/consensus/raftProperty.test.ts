// Property: under any schedule of ticks, deliveries, drops, duplicates, reorders,
// crashes (restarting from the persisted state), proposals, leadership transfers
// and injected TimeoutNows, Raft's invariants hold after every step; and once the
// faults heal, a new proposal is decided by every node within the sim spec's
// liveness bound.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Input, NodeId } from '../../../src/consensus/protocol.ts';
import { raft, raftMessageSchema, type RaftMessage, type RaftPersisted, type RaftState } from '../../../src/consensus/raft/index.ts';
import { raftInvariants } from '../../../src/consensus/raft/invariants.ts';
import { makeRaftSimSpec, raftProposeTo } from '../../../src/consensus/raft/sim.ts';
import type { SimNode } from '../../../src/consensus/sim/spec.ts';

type Action =
  | { t: 'tick'; node: number }
  | { t: 'tickAll' }
  | { t: 'deliver'; pick: number }
  | { t: 'deliverMany'; count: number }
  | { t: 'duplicate'; pick: number }
  | { t: 'drop'; pick: number }
  | { t: 'crash'; node: number }
  | { t: 'crashLeader' }
  | { t: 'restart'; node: number }
  | { t: 'propose'; node: number | null }
  | { t: 'transfer'; node: number; to: number | null }
  | { t: 'timeoutNow'; node: number }
  | { t: 'partition'; side: number }
  | { t: 'heal' };

const node = fc.nat({ max: 4 });
const pick = fc.nat({ max: 1_000 });
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: node.map((n) => ({ t: 'tick' as const, node: n })) },
  { weight: 6, arbitrary: fc.constant({ t: 'tickAll' as const }) },
  { weight: 12, arbitrary: pick.map((p) => ({ t: 'deliver' as const, pick: p })) },
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 30 }).map((count) => ({ t: 'deliverMany' as const, count })) },
  { weight: 2, arbitrary: pick.map((p) => ({ t: 'duplicate' as const, pick: p })) },
  { weight: 2, arbitrary: pick.map((p) => ({ t: 'drop' as const, pick: p })) },
  { weight: 1, arbitrary: node.map((n) => ({ t: 'crash' as const, node: n })) },
  { weight: 1, arbitrary: fc.constant({ t: 'crashLeader' as const }) },
  { weight: 5, arbitrary: node.map((n) => ({ t: 'restart' as const, node: n })) },
  { weight: 3, arbitrary: fc.option(node, { nil: null }).map((n) => ({ t: 'propose' as const, node: n })) },
  { weight: 1, arbitrary: fc.record({ node, to: fc.option(node, { nil: null }) }).map((r) => ({ t: 'transfer' as const, ...r })) },
  { weight: 1, arbitrary: node.map((n) => ({ t: 'timeoutNow' as const, node: n })) },
  { weight: 1, arbitrary: fc.nat({ max: 31 }).map((side) => ({ t: 'partition' as const, side })) },
  { weight: 2, arbitrary: fc.constant({ t: 'heal' as const }) },
);

interface Env {
  from: NodeId;
  to: NodeId;
  message: RaftMessage;
}

class Cluster {
  readonly ids: NodeId[];
  readonly states: RaftState[];
  readonly up: boolean[];
  readonly persisted: unknown[];
  readonly decided: { slot: number; value: string }[][];
  queue: Env[] = [];
  values = 0;
  /** Bit i set: node i is on the other side of a partition; messages across it are lost. */
  side = 0;

  constructor(
    n: number,
    readonly opts: { seed: number; electionTicks: number; heartbeatTicks: number },
  ) {
    this.ids = Array.from({ length: n }, (_, i) => `n${i}`);
    this.states = this.ids.map((id) => raft.init(id, this.ids, opts));
    this.up = this.ids.map(() => true);
    this.persisted = this.ids.map(() => undefined);
    this.decided = this.ids.map(() => []);
  }

  simNodes(): SimNode<RaftState>[] {
    return this.ids.map((id, i) => ({ id, state: this.states[i]!, up: this.up[i]!, byzantine: false, decided: this.decided[i]! }));
  }

  step(i: number, input: Input<RaftMessage>): void {
    if (!this.up[i]) return;
    const before = this.states[i]!;
    const out = raft.step(before, input);
    const after = out.state;
    if ((after.term !== before.term || after.votedFor !== before.votedFor || after.log !== before.log) && out.persist === undefined) {
      throw new Error(`${this.ids[i]}: term, vote or log changed without persist`);
    }
    if (out.persist !== undefined) this.persisted[i] = structuredClone(out.persist); // what reaches the disk
    this.states[i] = after;
    this.decided[i]!.push(...out.decide);
    for (const { to, message } of out.send) {
      if (!raftMessageSchema.safeParse(message).success) throw new Error(`invalid message ${JSON.stringify(message)}`);
      for (const dest of to === 'all' ? this.ids.filter((x) => x !== this.ids[i]) : [to]) this.queue.push({ from: this.ids[i]!, to: dest, message });
    }
    const violations = raftInvariants(this.simNodes());
    if (violations.length > 0) throw new Error(`after ${JSON.stringify(input)} at ${this.ids[i]}: ${violations.join('; ')}`);
  }

  deliverAt(k: number): void {
    const [e] = this.queue.splice(k, 1);
    if (!e) return;
    const bit = (id: NodeId) => (this.side >> this.ids.indexOf(id)) & 1;
    if (bit(e.from) === bit(e.to)) this.step(this.ids.indexOf(e.to), { kind: 'receive', from: e.from, message: e.message });
  }

  propose(i: number | null): string {
    const value = `v${this.values++}`;
    const target = i ?? this.ids.indexOf(raftProposeTo(this.simNodes(), { int: (min) => min }));
    this.step(target, { kind: 'propose', value });
    return value;
  }

  apply(a: Action): void {
    const n = this.ids.length;
    const q = this.queue.length;
    switch (a.t) {
      case 'tick':
        return this.step(a.node % n, { kind: 'tick' });
      case 'tickAll':
        for (let i = 0; i < n; i++) this.step(i, { kind: 'tick' });
        return;
      case 'deliver':
        if (q > 0) this.deliverAt(a.pick % q); // any queued message: arbitrary reordering
        return;
      case 'deliverMany': // the oldest messages, in order
        for (let k = 0; k < a.count && this.queue.length > 0; k++) this.deliverAt(0);
        return;
      case 'duplicate':
        if (q > 0) this.queue.push({ ...this.queue[a.pick % q]! });
        return;
      case 'drop':
        if (q > 0) this.queue.splice(a.pick % q, 1);
        return;
      case 'crash':
        this.up[a.node % n] = false;
        return;
      case 'crashLeader': {
        const leader = raftProposeTo(this.simNodes(), { int: (min) => min });
        if (this.states[this.ids.indexOf(leader)]!.role === 'leader') this.up[this.ids.indexOf(leader)] = false;
        return;
      }
      case 'restart': {
        const i = a.node % n;
        if (this.up[i]) return;
        this.states[i] = raft.recover(this.ids[i]!, this.ids, this.opts, this.persisted[i]);
        this.up[i] = true;
        return;
      }
      case 'propose':
        this.propose(a.node === null ? null : a.node % n);
        return;
      case 'transfer': {
        const to = a.to === null ? null : this.ids[a.to % n]!;
        this.step(a.node % n, { kind: 'receive', from: this.ids[a.node % n]!, message: { type: 'transferLeader', to } });
        return;
      }
      case 'partition':
        this.side = a.side;
        return;
      case 'heal':
        this.side = 0;
        return;
      case 'timeoutNow': {
        const i = a.node % n;
        this.step(i, { kind: 'receive', from: this.ids[(i + 1) % n]!, message: { type: 'timeoutNow', term: this.states[i]!.term } });
        return;
      }
    }
  }

  /** Heals every fault, proposes, and returns the rounds until every node decided it (one tick and one hop per round). */
  healAndDecide(maxRounds: number): number {
    for (let i = 0; i < this.ids.length; i++) this.apply({ t: 'restart', node: i });
    this.side = 0;
    const value = this.propose(null);
    for (let round = 1; round <= maxRounds; round++) {
      for (let i = 0; i < this.ids.length; i++) this.step(i, { kind: 'tick' });
      const inFlight = this.queue.length;
      for (let k = 0; k < inFlight; k++) this.deliverAt(0);
      if (this.decided.every((d) => d.some((x) => x.value === value))) return round;
    }
    const roles = this.states.map((s) => `${s.self}:${s.role}@${s.term}`).join(' ');
    throw new Error(`liveness: ${value} not decided by every node within ${maxRounds} rounds after healing (${roles})`);
  }
}

describe('raft: safety under arbitrary faults (fast-check)', () => {
  it('invariants hold after every step, and a proposal after healing is decided in time', () => {
    const arb = fc.record({
      n: fc.integer({ min: 1, max: 5 }),
      seed: fc.integer(),
      electionTicks: fc.constantFrom(2, 3, 4, 6, 10),
      actions: fc.array(action, { minLength: 50, maxLength: 600, size: 'max' }),
    });
    fc.assert(
      fc.property(arb, ({ n, seed, electionTicks, actions }) => {
        const cluster = new Cluster(n, { seed, electionTicks, heartbeatTicks: 1 });
        for (const a of actions) cluster.apply(a);
        // Liveness needs round trips well below the election timeout (§5.6); with one
        // tick per hop, electionTicks 2 makes a round trip as long as the timeout, so
        // there only safety is checked (its many elections are good for that).
        if (electionTicks >= 3) cluster.healAndDecide(makeRaftSimSpec(electionTicks).livenessTicks);
      }),
      { numRuns: 300 },
    );
  });

  it('persisted states are plain JSON and recover to the same durable fields', () => {
    const cluster = new Cluster(3, { seed: 9, electionTicks: 3, heartbeatTicks: 1 });
    for (let r = 0; r < 30; r++) cluster.apply({ t: 'tickAll' }), cluster.apply({ t: 'deliver', pick: 0 });
    cluster.healAndDecide(60);
    for (let i = 0; i < 3; i++) {
      const p = cluster.persisted[i] as RaftPersisted;
      expect(JSON.parse(JSON.stringify(p))).toEqual(p);
      const s = raft.recover(cluster.ids[i]!, cluster.ids, cluster.opts, p);
      expect({ term: s.term, votedFor: s.votedFor, log: s.log, applied: s.applied }).toEqual({ term: p.term, votedFor: p.votedFor, log: p.log, applied: p.applied });
    }
  });
});
