// The seeded simulator: deterministic replays, and that it catches broken
// protocols (agreement, validity, stability, liveness, forgotten persistence,
// malformed messages), honours persistence and the crash budget, and that the
// quorum protocol passes hundreds of seeds with every option shape.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { NodeId, Protocol, ProtocolOptions } from '../../../src/consensus/protocol.ts';
import { quorum, quorumSimSpec } from '../../../src/consensus/quorum/sim.ts';
import type { QuorumMessage, QuorumState } from '../../../src/consensus/quorum/index.ts';
import { runSeeds, seedRange } from '../../../src/consensus/sim/batch.ts';
import { runCli } from '../../../src/consensus/sim/cli.ts';
import { knownProtocols, simSpecFor, UnknownProtocolError } from '../../../src/consensus/sim/registry.ts';
import { LIVENESS_SLACK_TICKS, runSeed } from '../../../src/consensus/sim/run.ts';
import type { SimNode, SimSpec } from '../../../src/consensus/sim/spec.ts';

type Toy = { self: NodeId; decided: boolean; ticks: number };
type ToyMessage = { type: 'hello' };

/** A protocol skeleton for broken variants: override `step` (and others) to break it the way a test wants. */
function toy(step: Protocol<Toy, ToyMessage>['step'], extra: Partial<Protocol<Toy, ToyMessage>> = {}): Protocol<Toy, ToyMessage> {
  return {
    name: 'quorum',
    init: (self) => ({ self, decided: false, ticks: 0 }),
    recover: (self) => ({ self, decided: false, ticks: 0 }),
    step,
    messageSchema: z.strictObject({ type: z.literal('hello') }),
    faultTolerance: (n) => Math.ceil(n / 2) - 1,
    ...extra,
  };
}

function toySpec(protocol: Protocol<Toy, ToyMessage>): SimSpec<Toy, ToyMessage> {
  return {
    protocol,
    invariants: () => [],
    proposeTo: (nodes, rng) => (nodes[rng.int(0, nodes.length - 1)] as SimNode<Toy>).id,
    livenessTicks: 20,
  };
}

const nothing = (state: Toy) => ({ state, send: [], decide: [] });

/** Decides whatever it is asked, at once: two clients, two values, a split. */
const eager = toy((s, input) => (input.kind === 'propose' ? { state: { ...s, decided: true }, send: [], decide: [{ slot: 0, value: input.value }] } : nothing(s)));

function firstFailure<S, M>(spec: SimSpec<S, M>, seeds: number[], nodes?: number) {
  const sum = runSeeds(spec, seeds, nodes === undefined ? {} : { nodes });
  return sum.failures[0];
}

describe('simulator determinism', () => {
  it('the same seed gives the same run, byte for byte; another seed another run', () => {
    for (const seed of [1, 42, 977]) {
      const a = runSeed(quorumSimSpec, seed, { traceLines: Infinity });
      const b = runSeed(quorumSimSpec, seed, { traceLines: Infinity });
      expect(JSON.stringify(b)).toBe(JSON.stringify(a));
      expect(a.trace.length).toBeGreaterThan(20);
    }
    expect(runSeed(quorumSimSpec, 2, { traceLines: Infinity }).trace).not.toEqual(runSeed(quorumSimSpec, 3, { traceLines: Infinity }).trace);
  });

  it('the CLI prints the same bytes for the same command', () => {
    const capture = () => {
      const out: string[] = [];
      const code = runCli(['--protocol', 'quorum', '--seed', '7', '--verbose'], { out: (l) => out.push(l), err: () => {} });
      return { code, out: out.join('\n') };
    };
    const a = capture();
    expect(a.code).toBe(0);
    expect(a.out).toContain('[t=0 #1] tick');
    expect(capture()).toEqual(a);
  });

  it('a failure replays exactly from its seed', () => {
    const failure = firstFailure(toySpec(eager), seedRange(1, 30));
    expect(failure).toBeDefined();
    const again = runSeed(toySpec(eager), failure?.seed as number);
    expect(again.violations).toEqual(failure?.violations);
    expect(again.trace).toEqual(failure?.trace);
  });
});

describe('the simulator catches broken protocols', () => {
  it('agreement: a core that decides its own proposal at once', () => {
    const f = firstFailure(toySpec(eager), seedRange(1, 30));
    expect(f?.violations.join('\n')).toMatch(/^agreement: n\d+ decided slot 0 = "v\d+" but n\d+ decided "v\d+"$/m);
    expect(f?.trace.at(-1)).toMatch(/VIOLATION agreement/);
    expect(f?.seed).toBeTypeOf('number');
  });

  it('validity: a core that decides a value nobody proposed', () => {
    const bogus = toy((s, input) => (input.kind === 'propose' ? { state: s, send: [], decide: [{ slot: 0, value: 'bogus' }] } : nothing(s)));
    expect(firstFailure(toySpec(bogus), [1])?.violations[0]).toMatch(/^validity: n\d+ decided slot 0 = "bogus", which no client proposed$/);
  });

  it('stability: a node that changes its mind', () => {
    const fickle = toy((s, input) => (input.kind === 'propose' ? { state: s, send: [], decide: [{ slot: 0, value: input.value }] } : nothing(s)));
    // One node, so agreement cannot fire first: every proposal reaches it.
    expect(firstFailure(toySpec(fickle), seedRange(1, 20), 1)?.violations[0]).toMatch(/^stability: n0 changed slot 0 from "v\d+" to "v\d+"$/);
  });

  it('liveness: a core that never decides is reported after livenessTicks (+ slack) past the heal', () => {
    const f = firstFailure(toySpec(toy((s) => nothing(s))), [5]);
    expect(f?.violations[0]).toMatch(new RegExp(`^liveness: 20\\+${LIVENESS_SLACK_TICKS} ticks after the heal at t=\\d+, no honest node has decided anything$`));
    expect(f?.stats.ticks).toBe((f?.stats.healedAt as number) + 20 + LIVENESS_SLACK_TICKS);
  });

  it('liveness: every up honest node must learn the decision, not just one', () => {
    // Only n0 ever hears from clients and it never tells anyone.
    const loner = toy((s, input) => (input.kind === 'propose' && !s.decided ? { state: { ...s, decided: true }, send: [], decide: [{ slot: 0, value: input.value }] } : nothing(s)));
    const f = firstFailure({ ...toySpec(loner), proposeTo: () => 'n0' }, [3], 3);
    expect(f?.violations[0]).toMatch(/^liveness: .*n1 has not decided slot 0; n2 has not decided slot 0$/);
  });

  it('liveness: a log protocol must also decide the value proposed after the heal', () => {
    // Decides its first proposal at slot 1 everywhere (an agreed, fixed choice), then nothing more.
    const stuck = toy((s, input) => (input.kind === 'propose' && !s.decided && input.value === 'v1' ? { state: { ...s, decided: true }, send: [], decide: [{ slot: 1, value: 'v1' }] } : nothing(s)));
    const spec = { ...toySpec(stuck), proposeTo: (nodes: readonly SimNode<Toy>[]) => (nodes.find((n) => n.up && !n.state.decided) ?? nodes[0])?.id as NodeId };
    const f = firstFailure(spec, seedRange(1, 10), 1);
    expect(f?.violations[0]).toMatch(/^liveness: .*n0 has not decided the value "v\d" proposed after the heal$/);
  });

  it('a voter that forgets its vote across a restart (quorum without persist)', () => {
    const amnesiac: SimSpec<QuorumState, QuorumMessage> = {
      ...quorumSimSpec,
      protocol: { ...quorum, step: (s, i) => ({ ...quorum.step(s, i), persist: undefined }) },
    };
    // Seeds in order until the first that catches it (the simulator is deterministic, so this is seed 147 today).
    let caught: ReturnType<typeof runSeed> | undefined;
    for (let seed = 1; seed <= 400 && caught === undefined; seed++) {
      const r = runSeed(amnesiac, seed);
      if (!r.ok) caught = r;
    }
    expect(caught?.violations[0]).toMatch(/agreement|stability|invariant/);
  });

  it('an honest node sending what its own schema rejects', () => {
    const sloppy = toy((s, input) => (input.kind === 'tick' ? { state: s, send: [{ to: 'all', message: { type: 'helo' } as unknown as ToyMessage }], decide: [] } : nothing(s)));
    expect(firstFailure(toySpec(sloppy), [1])?.violations[0]).toMatch(/^schema: honest n\d+ sent a message its protocol's schema rejects/);
  });

  it('an exception inside a core is reported with where it happened', () => {
    const crashy = toy((s, input) => {
      if (input.kind === 'propose') throw new Error('boom');
      return nothing(s);
    });
    expect(firstFailure(toySpec(crashy), [1])?.violations[0]).toMatch(/^exception in step\(n\d+, propose\): boom$/);
  });
});

describe('the simulator honours the fault model', () => {
  it('a restarted node recovers from exactly what it last persisted, and messages of a step leave only after its persist', () => {
    // Each step persists a counter and sends it; a receiver checks that the sender had persisted at least that much.
    const lastPersisted = new Map<NodeId, number>();
    const problems: string[] = [];
    let restarts = 0;
    type C = { self: NodeId; n: number };
    type CM = { type: 'n'; n: number };
    const counting: Protocol<C, CM> = {
      name: 'quorum',
      init: (self) => ({ self, n: 0 }),
      recover: (self, _peers, _opts, persisted) => {
        restarts++;
        const n = persisted === undefined ? 0 : (persisted as { n: number }).n;
        if (n !== (lastPersisted.get(self) ?? 0)) problems.push(`${self} recovered ${n}, last persisted ${String(lastPersisted.get(self))}`);
        return { self, n };
      },
      step: (s, input) => {
        if (input.kind === 'receive' && (lastPersisted.get(input.from) ?? 0) < input.message.n) problems.push(`${input.from} sent ${input.message.n} before persisting it`);
        const n = s.n + 1;
        lastPersisted.set(s.self, n);
        return { state: { ...s, n }, send: input.kind === 'tick' ? [{ to: 'all', message: { type: 'n', n } }] : [], decide: input.kind === 'propose' ? [{ slot: 0, value: input.value }] : [], persist: { n } };
      },
      messageSchema: z.strictObject({ type: z.literal('n'), n: z.number() }),
      faultTolerance: (n) => Math.ceil(n / 2) - 1,
    };
    const spec: SimSpec<C, CM> = { protocol: counting, invariants: () => [], proposeTo: () => 'n0', livenessTicks: 30 };
    for (const seed of seedRange(1, 40)) {
      lastPersisted.clear(); // node ids repeat from run to run
      runSeed(spec, seed, { nodes: 5 });
    }
    expect(problems).toEqual([]);
    expect(restarts).toBeGreaterThan(10);
  });

  it('at most faultTolerance(n) nodes are down (or Byzantine) at once, and everyone is up after the heal', () => {
    let sawDown = false;
    const watched: SimSpec<QuorumState, QuorumMessage> = {
      ...quorumSimSpec,
      invariants(nodes) {
        const down = nodes.filter((x) => !x.up).length;
        if (down > 0) sawDown = true;
        const f = quorum.faultTolerance(nodes.length);
        return down + nodes.filter((x) => x.byzantine).length > f ? [`${down} down with f = ${f}`] : [];
      },
    };
    const sum = runSeeds(watched, seedRange(1, 150));
    expect(sum.failures.map((f) => f.violations)).toEqual([]);
    expect(sawDown).toBe(true);
  });

  it('Byzantine garbage is dropped and counted, never stepped', () => {
    const garbage: SimSpec<QuorumState, QuorumMessage> = {
      ...quorumSimSpec,
      // Garbage instead of each honest output that sends anything.
      byzantine: (_rng, _self, honest) =>
        honest.send.length === 0
          ? []
          : [
              { to: 'all', message: { type: 'vote', ballot: -1, value: 'x' } },
              { to: 'all', message: { type: 'vote', ballot: 0, value: 'x', forged: true } },
              { to: 'all', message: 42n },
            ],
    };
    const sum = runSeeds(garbage, seedRange(1, 100));
    expect(sum.failures.map((f) => f.violations)).toEqual([]);
    expect(sum.rejected).toBeGreaterThan(100);
    expect(sum.runs).toBe(100);
  });
});

/** Quorum with options the simulator does not pass itself (it gives `{ seed }` only): thresholds and weights. */
function withOptions(extra: (peers: readonly NodeId[]) => Partial<ProtocolOptions>): SimSpec<QuorumState, QuorumMessage> {
  return {
    ...quorumSimSpec,
    protocol: {
      ...quorum,
      init: (self, peers, opts) => quorum.init(self, peers, { ...opts, ...extra(peers) }),
      recover: (self, peers, opts, persisted) => quorum.recover(self, peers, { ...opts, ...extra(peers) }, persisted),
    },
  };
}

describe('quorum in the simulator', () => {
  it('passes 600 seeds (n = 3–7) with no violation', () => {
    const sum = runSeeds(quorumSimSpec, seedRange(1, 600));
    expect(sum.failures.map((f) => `${f.seed}: ${f.violations.join('; ')}`)).toEqual([]);
    expect(sum.decisions).toBeGreaterThanOrEqual(600 * 3);
    expect(sum.crashes).toBeGreaterThan(100);
    expect(sum.partitions).toBeGreaterThan(50);
    expect(sum.dropped).toBeGreaterThan(1000);
  });

  it('seeds that once broke liveness (votes of different ballots were tallied together) pass', () => {
    const sum = runSeeds(quorumSimSpec, [56, 511, 576]);
    expect(sum.failures.map((f) => `${f.seed}: ${f.violations.join('; ')}`)).toEqual([]);
  });

  it('passes with thresholds from 1 to n, and with weights', () => {
    const variants = [
      withOptions(() => ({ threshold: 1 })),
      withOptions((peers) => ({ threshold: peers.length })),
      withOptions((peers) => ({ threshold: peers.length - 1 })),
      withOptions((peers) => ({ weights: Object.fromEntries(peers.map((p, i) => [p, (i % 3) + 1])) })),
      withOptions((peers) => ({ weights: Object.fromEntries(peers.map((p, i) => [p, i === 0 ? peers.length : 1])), threshold: peers.length })),
    ];
    for (const spec of variants) {
      const sum = runSeeds(spec, seedRange(1000, 120));
      expect(sum.failures.map((f) => `${f.seed}: ${f.violations.join('; ')}`)).toEqual([]);
    }
  });

  it('passes with larger clusters', () => {
    const sum = runSeeds(quorumSimSpec, seedRange(1, 15), { nodes: 15 });
    expect(sum.failures.map((f) => `${f.seed}: ${f.violations.join('; ')}`)).toEqual([]);
  });
});

describe('registry and CLI', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
  };

  it('knows the four protocols, and names them when asked for another', () => {
    expect(knownProtocols()).toEqual(['fast-paxos', 'pbft', 'quorum', 'raft']);
    for (const p of knownProtocols()) expect(simSpecFor(p).protocol.name).toBe(p);
    expect(simSpecFor('quorum')).toBe(quorumSimSpec);
    expect(() => simSpecFor('paxos')).toThrow(UnknownProtocolError);
    expect(() => simSpecFor('paxos')).toThrow(/unknown protocol "paxos"; known: .*quorum/);
    expect(() => simSpecFor('toString')).toThrow(UnknownProtocolError);
    const c = io();
    expect(runCli(['--protocol', 'paxos'], c.io)).toBe(2);
    expect(c.err.join('\n')).toMatch(/unknown protocol "paxos"; known: .*quorum/);
  });

  it('refuses bad usage with exit code 2', () => {
    for (const argv of [[], ['--protocol', 'quorum', '--seeds', 'ten'], ['--protocol', 'quorum', '--seed', '1', '--seeds', '5'], ['--protocol', 'quorum', '--nodes', '0'], ['--protocol', 'quorum', '--bogus']]) {
      const c = io();
      expect(runCli(argv, c.io), argv.join(' ')).toBe(2);
      expect(c.err.join('\n')).toContain('usage: npm run sim');
    }
  });

  it('exits 0 when every seed passes, 1 with the seed, the trace and the replay command when one fails', () => {
    const ok = io();
    expect(runCli(['--protocol', 'quorum', '--seeds', '20', '--base-seed', '100'], ok.io)).toBe(0);
    expect(ok.out.join('\n')).toMatch(/^quorum: 20 run\(s\), seeds 100…119, n=\d–\d: no violation\./m);

    const bad = io();
    expect(runCli(['--protocol', 'eager', '--seeds', '10', '--trace', '5'], bad.io, { eager: toySpec(eager) })).toBe(1);
    const text = bad.out.join('\n');
    expect(text).toMatch(/^✗ eager seed \d+ \(n=\d\): 1 violation\(s\)$/m);
    expect(text).toMatch(/^ {2}agreement: /m);
    expect(text).toContain('last 5 steps:');
    expect(text).toMatch(/replay: npm run sim -- --protocol eager --seed \d+ --verbose/);
    expect(text).toMatch(/failing seed\(s\): \d+/);
  });
});
