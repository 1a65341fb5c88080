// Property: over random schedules (message drops, duplicates, reordering,
// ticks, crashes that keep only what was persisted, restarts, concurrent
// proposals of different values), at most one value is ever chosen and every
// decision is that value, checked after every single step; and once the faults
// heal (everyone restarted, every message delivered within a few ticks)
// every node decides within the simulator's liveness bound.
//
// Each schedule draws its own mix of operations (some drop a lot, some crash a
// lot, some lose every message of one kind at once, e.g. all 2b messages, so
// that values get chosen without anyone seeing it), which is what drives runs
// into concurrent classic rounds and recoveries rather than the happy path.
// Sections are those of Lamport, "Fast Paxos" (2006).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastPaxos, type FastPaxosMessage, type FastPaxosState } from '../../../src/consensus/fast-paxos/index.ts';
import { fastPaxosInvariants } from '../../../src/consensus/fast-paxos/invariants.ts';
import { fastPaxosSimSpec } from '../../../src/consensus/fast-paxos/sim.ts';
import { createRandom } from '../../../src/routing/random.ts';
import { TestNet } from '../../support/testNet.ts';

const NUM_RUNS = Number(process.env.FAST_PAXOS_RUNS ?? 500);
const MESSAGE_TYPES = ['propose', '1a', '1b', '2a', '2b', 'nack', 'query', 'decided'] as const;

type Cmd =
  | { op: 'deliver'; pick: number; count: number }
  | { op: 'drop' | 'dup'; pick: number }
  | { op: 'dropType'; type: FastPaxosMessage['type'] }
  | { op: 'tick'; node: number; times: number }
  | { op: 'tickAll'; times: number }
  | { op: 'propose'; node: number; value: string }
  | { op: 'crash' | 'restart'; node: number };

const weightsArb = fc.record({
  deliver: fc.integer({ min: 4, max: 16 }),
  drop: fc.integer({ min: 0, max: 6 }),
  dup: fc.integer({ min: 0, max: 4 }),
  dropType: fc.integer({ min: 0, max: 2 }),
  tick: fc.integer({ min: 0, max: 6 }),
  tickAll: fc.integer({ min: 0, max: 3 }),
  propose: fc.integer({ min: 1, max: 5 }),
  crash: fc.integer({ min: 0, max: 3 }),
  restart: fc.integer({ min: 0, max: 3 }),
});

const node = fc.nat({ max: 1000 });
type Weights = typeof weightsArb extends fc.Arbitrary<infer W> ? W : never;
const cmdArb = (w: Weights): fc.Arbitrary<Cmd> =>
  fc.oneof(
    { weight: w.deliver, arbitrary: fc.record({ op: fc.constant('deliver' as const), pick: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }) },
    { weight: w.drop, arbitrary: fc.record({ op: fc.constant('drop' as const), pick: fc.nat() }) },
    { weight: w.dup, arbitrary: fc.record({ op: fc.constant('dup' as const), pick: fc.nat() }) },
    { weight: w.dropType, arbitrary: fc.record({ op: fc.constant('dropType' as const), type: fc.constantFrom(...MESSAGE_TYPES) }) },
    { weight: w.tick, arbitrary: fc.record({ op: fc.constant('tick' as const), node, times: fc.integer({ min: 1, max: 25 }) }) },
    { weight: w.tickAll, arbitrary: fc.record({ op: fc.constant('tickAll' as const), times: fc.integer({ min: 1, max: 25 }) }) },
    { weight: w.propose, arbitrary: fc.record({ op: fc.constant('propose' as const), node, value: fc.constantFrom('a', 'b', 'c', 'd') }) },
    { weight: w.crash, arbitrary: fc.record({ op: fc.constant('crash' as const), node }) },
    { weight: w.restart, arbitrary: fc.record({ op: fc.constant('restart' as const), node }) },
  );

const scenarioArb = fc.record({
  n: fc.oneof({ weight: 1, arbitrary: fc.constantFrom(1, 2) }, { weight: 6, arbitrary: fc.constantFrom(3, 4, 5, 7) }),
  electionTicks: fc.constantFrom(1, 2, 3, 10),
  maxDelay: fc.constantFrom(1, 2, 4),
  healSeed: fc.integer(),
  cmds: weightsArb.chain((w) => fc.array(cmdArb(w), { minLength: 20, maxLength: 300, size: 'max' })),
});

function violations(x: TestNet<FastPaxosState, FastPaxosMessage>): string[] {
  const v = fastPaxosInvariants(x.simNodes());
  const decided = new Set(x.decidedValues().filter((d) => d !== undefined));
  if (decided.size > 1) v.push(`nodes decided different values: ${[...decided].join(', ')}`);
  return v;
}

function run(x: TestNet<FastPaxosState, FastPaxosMessage>, peers: readonly string[], cmd: Cmd): boolean {
  const n = peers.length;
  const at = (i: number) => peers[i % n] as string;
  switch (cmd.op) {
    case 'deliver':
      for (let i = 0; i < cmd.count && x.inFlight.length > 0; i++) x.deliver((cmd.pick + i * 7919) % x.inFlight.length);
      return false;
    case 'drop':
      if (x.inFlight.length > 0) x.drop(cmd.pick % x.inFlight.length);
      return false;
    case 'dup':
      if (x.inFlight.length > 0) x.duplicate(cmd.pick % x.inFlight.length);
      return false;
    case 'dropType':
      x.inFlight = x.inFlight.filter((m) => m.message.type !== cmd.type);
      return false;
    case 'tick':
      for (let i = 0; i < cmd.times; i++) x.tick(at(cmd.node));
      return false;
    case 'tickAll':
      for (let i = 0; i < cmd.times; i++) x.tickAll();
      return false;
    case 'propose': {
      const proposed = x.node(at(cmd.node)).up;
      x.propose(at(cmd.node), cmd.value);
      return proposed;
    }
    case 'crash':
      x.crash(at(cmd.node));
      return false;
    case 'restart':
      x.restart(at(cmd.node));
      return false;
  }
}

describe('Fast Paxos under random schedules', () => {
  // Safety: at most one value is chosen, and a node learns only the value chosen, whatever the
  // schedule. Progress: once a quorum of nodes and the network behave, some value is chosen and
  // learned.
  // Reference: section 2.1 (consistency); section 3.3 (progress)
  it('never chooses two values, and decides everywhere once faults heal', () => {
    fc.assert(
      fc.property(scenarioArb, ({ n, electionTicks, maxDelay, healSeed, cmds }) => {
        const peers = Array.from({ length: n }, (_, i) => `n${i}`);
        const x = new TestNet(fastPaxos, peers, { opts: { seed: 7, electionTicks } });
        let proposed = false;
        for (const cmd of cmds) {
          if (run(x, peers, cmd)) proposed = true;
          const v = violations(x);
          if (v.length > 0) throw new Error(`after ${JSON.stringify(cmd)}: ${v.join('; ')}`);
        }

        // Faults heal: every node is up, and every message arrives, 1 to maxDelay ticks after it is sent, in any order.
        for (const id of peers) x.restart(id);
        const rng = createRandom(healSeed);
        const due = new Map<number, number>();
        let ticks = 0;
        for (; ticks <= fastPaxosSimSpec.livenessTicks; ticks++) {
          for (const m of x.inFlight) if (!due.has(m.seq)) due.set(m.seq, ticks + 1 + rng.int(maxDelay));
          const ready = x.inFlight.filter((m) => (due.get(m.seq) ?? 0) <= ticks);
          x.inFlight = x.inFlight.filter((m) => (due.get(m.seq) ?? 0) > ticks);
          for (let i = ready.length - 1; i > 0; i--) {
            const j = rng.int(i + 1);
            [ready[i], ready[j]] = [ready[j] as (typeof ready)[number], ready[i] as (typeof ready)[number]];
          }
          for (const m of ready) x.apply(m.to, { kind: 'receive', from: m.from, message: m.message });
          const v = violations(x);
          if (v.length > 0) throw new Error(`while healing: ${v.join('; ')}`);
          if (peers.every((id) => x.node(id).decided.length > 0)) break;
          x.tickAll();
        }
        const decided = x.decidedValues();
        if (proposed) {
          expect(ticks, `undecided after ${ticks} ticks: ${JSON.stringify(decided)}`).toBeLessThanOrEqual(fastPaxosSimSpec.livenessTicks);
          expect(new Set(decided).size).toBe(1);
          expect(peers.every((id) => x.node(id).decided.length === 1)).toBe(true);
        } else {
          expect(decided.every((d) => d === undefined)).toBe(true);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
