// One seeded simulation run: n nodes running a protocol's real core over the
// simulated network, with faults, client proposals, and the checks after every
// step. This is the imperative shell around the pure cores, in miniature.
//
// Time model. Time is counted in ticks. Tick t goes:
//   1. fault events: partitions end or start, crashed nodes may restart, an up
//      node may crash;
//   2. client proposals scheduled for t (one step each);
//   3. delivery: every message due by t is delivered, one per step, in random
//      order (delays are ≥ 1 tick, so messages sent now arrive at t+1 or later
//      and this phase always ends);
//   4. the tick: one step in which every up node receives `tick`.
// So a step delivers one message (or one proposal), or advances time by one
// tick for all nodes. Safety is checked after every step (and after every
// crash and restart). A crashed node keeps, in `SimNode.state`, the state it
// had when it crashed (`up: false`); it restarts from `protocol.recover` with
// what it last persisted, JSON-parsed as if read from disk.
//
// Run shape. A fault phase of F ticks (drawn from the seed) with the seed's
// fault profile (faults.ts), then the heal: every node restarts, partitions
// end, no more drops or duplicates, delays of 1–2 ticks. At the heal a client
// proposes a fresh value, and re-proposes it every `retryTicks(spec)` ticks
// while no up honest node has decided it (clients retry, as real ones do).
// Liveness: within `spec.livenessTicks + LIVENESS_SLACK_TICKS` ticks of the
// heal, every up honest node must have decided
//   - the first slot any honest node decided (slot 0 for single-shot protocols),
//   - every slot some honest node had decided at the heal (catch-up), and
//   - for log protocols (those that decide slots other than 0), the value
//     proposed after the heal.
import { describeIssues } from '../../validation.ts';
import type { Input, NodeId, Output, ProtocolOptions, Value } from '../protocol.ts';
import { changedDecisions, honestSlots, livenessGaps, mergeDecisions, requiredSlots, safetyViolations } from './checks.ts';
import { describeProfile, drawFaultProfile, HEALED, type FaultProfile } from './faults.ts';
import { Network, separated, type Envelope, type Partition } from './network.ts';
import { createRunRandom, type RunRandom } from './random.ts';
import { RecordedRound, type OutcomeCheck } from './recordedRound.ts';
import type { SimNode, SimSpec } from './spec.ts';
import { describeWire, quote, Trace } from './trace.ts';

/** Ticks allowed on top of `spec.livenessTicks` for messages to cross the healed network (two 2-tick hops, plus one). */
export const LIVENESS_SLACK_TICKS = 2 * HEALED.maxDelay + 1;
/** Cluster sizes drawn when --nodes is not given. */
export const MIN_NODES = 3;
export const MAX_NODES = 7;
/** Fault phase length, in ticks. */
export const FAULT_TICKS: readonly [number, number] = [40, 150];
/** A run that takes more steps than this is stopped and reported (a message storm never ends on its own). */
export const MAX_STEPS = 1_000_000;
/** Trace lines printed with a failure by default. */
export const DEFAULT_TRACE_LINES = 40;

/** How often the heal proposal is re-sent while nobody has decided: four times per liveness window, at least every 5 ticks. */
export function retryTicks(spec: Pick<SimSpec<unknown, unknown>, 'livenessTicks'>): number {
  return Math.max(5, Math.floor(spec.livenessTicks / 4));
}

export interface RunOptions {
  /** Cluster size; default drawn from the seed in [MIN_NODES, MAX_NODES]. */
  nodes?: number;
  /** How many of the latest trace lines to keep (Infinity: all). Default DEFAULT_TRACE_LINES. */
  traceLines?: number;
  /** Which recorded decisions count toward an outcome (specs with certifiedRecords); default the runtime's decisionCheck. Tests break it on purpose. */
  outcomeCheck?: OutcomeCheck;
}

export interface RunStats {
  nodes: number;
  byzantine: number;
  faultTicks: number;
  steps: number;
  ticks: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  /** Reached a crashed node, or crossed a partition. */
  lost: number;
  /** Failed the protocol's message schema (or could not be serialized). */
  rejected: number;
  crashes: number;
  restarts: number;
  partitions: number;
  proposals: number;
  /** (honest node, slot) decisions. */
  decisions: number;
  healedAt: number;
  /** Tick after which liveness held (undefined: never). */
  liveAt: number | undefined;
  /** Byzantine hosts' writes into the round's records (certifiedRecords): decision entries, roster rekeys, spec rewrites. */
  redisForgeries: number;
}

export interface RunResult {
  protocol: string;
  seed: number;
  ok: boolean;
  violations: string[];
  /** The run's setup, in words: nodes, Byzantine ones, fault profile, proposals. */
  setup: string[];
  /** The last `traceLines` steps and events. */
  trace: string[];
  stats: RunStats;
}

interface Node<S> extends SimNode<S> {
  state: S;
  up: boolean;
  decided: readonly { slot: number; value: Value }[];
  /** What it last persisted, as stored bytes (JSON), or undefined: nothing yet. */
  persisted: string | undefined;
}

/** Thrown to end a run at its first violation; caught in runSeed. */
class Stop extends Error {}

/** JSON text of a value, or undefined if it cannot be serialized (BigInt, cycles, functions…). */
function toJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

class Simulation<S, M> {
  readonly rng: RunRandom;
  readonly ids: NodeId[];
  readonly nodes: Node<S>[];
  readonly byId = new Map<NodeId, Node<S>>();
  readonly network = new Network();
  readonly trace: Trace;
  readonly setup: string[] = [];
  readonly violations: string[] = [];
  readonly proposed = new Set<Value>();
  readonly opts: ProtocolOptions;
  readonly maxDown: number;
  readonly faultTicks: number;
  readonly schedule: { tick: number; value: Value; everywhere?: boolean }[] = [];
  readonly healValue: Value;
  /** The round's records in Redis, forged by Byzantine hosts (specs with certifiedRecords). */
  readonly records: RecordedRound | undefined;
  profile: FaultProfile;
  partition: Partition | null = null;
  now = 0;
  steps = 0;
  stats: RunStats;

  constructor(
    readonly spec: SimSpec<S, M>,
    readonly seed: number,
    options: RunOptions,
  ) {
    this.rng = createRunRandom(seed);
    this.trace = new Trace(options.traceLines ?? DEFAULT_TRACE_LINES);
    const n = options.nodes ?? this.rng.int(MIN_NODES, MAX_NODES);
    this.ids = Array.from({ length: n }, (_, i) => `n${i}`);
    const f = spec.protocol.faultTolerance(n);
    const byzantine = new Set(spec.byzantine ? this.rng.shuffle(this.ids).slice(0, this.rng.int(0, f)) : []);
    // Crashed and Byzantine nodes share the fault budget, so the protocol can still make progress while faults go on:
    // decisions taken amid faults are what exercise safety. (Safety would hold with more crashes; liveness is only checked after the heal.)
    this.maxDown = Math.max(0, f - byzantine.size);
    this.profile = drawFaultProfile(this.rng);
    this.faultTicks = this.rng.int(FAULT_TICKS[0], FAULT_TICKS[1]);
    // Rival proposals are what threaten agreement, so they often come close together: within a window of 0 (all at
    // once) to the whole fault phase, starting anywhere in its first half.
    const k = this.rng.int(1, 5);
    const start = this.rng.int(0, Math.floor(this.faultTicks / 2));
    const spread = this.rng.pick([0, 0, 1, 2, 4, 10, this.faultTicks - 1 - start]);
    for (let i = 1; i <= k; i++) {
      const tick = start + this.rng.int(0, spread);
      this.schedule.push({ tick, value: `v${i}` });
      // Clients retry (to whichever node proposeTo picks then): more rival ballots over the same values.
      const retry = tick + this.rng.int(3, 25);
      if (this.rng.chance(0.5) && retry < this.faultTicks) this.schedule.push({ tick: retry, value: `v${i}` });
    }
    this.schedule.sort((a, b) => a.tick - b.tick);
    this.healValue = `v${k + 1}`;
    this.opts = { seed };
    if (spec.knownProposal && this.rng.chance(0.5)) {
      // The round's value is in every node's options from the start (its job), and v1's first proposal reaches them all.
      this.opts = { seed, proposal: 'v1' };
      this.proposed.add('v1');
      const first = this.schedule.find((p) => p.value === 'v1');
      if (first) first.everywhere = true;
    }

    this.nodes = this.ids.map((id) => ({ id, state: undefined as S, up: true, byzantine: byzantine.has(id), decided: [], persisted: undefined }));
    for (const node of this.nodes) this.byId.set(node.id, node);
    // Its own generator (derived from the seed), so the network, faults and proposals of every seed stay what they were without it.
    this.records = spec.certifiedRecords ? new RecordedRound(this.nodes, createRunRandom(seed ^ 0x5eed_4ed1), seed, (t) => this.log(t), options.outcomeCheck) : undefined;
    this.stats = {
      nodes: n,
      byzantine: byzantine.size,
      faultTicks: this.faultTicks,
      steps: 0,
      ticks: 0,
      delivered: 0,
      dropped: 0,
      duplicated: 0,
      lost: 0,
      rejected: 0,
      crashes: 0,
      restarts: 0,
      partitions: 0,
      proposals: 0,
      decisions: 0,
      healedAt: this.faultTicks,
      liveAt: undefined,
      redisForgeries: 0,
    };
    this.setup.push(
      `${spec.protocol.name}, seed ${seed}: ${n} nodes ${this.ids.join(',')}; fault tolerance ${f}; byzantine: ${byzantine.size === 0 ? 'none' : [...byzantine].join(',')}; at most ${this.maxDown} down at once`,
      `fault phase: ticks 0–${this.faultTicks - 1}: ${describeProfile(this.profile)}`,
      `proposals: ${this.schedule.map((p) => `${quote(p.value)} at t=${p.tick}${p.everywhere ? ' to every node' : ''}`).join(', ')}; after the heal ${quote(this.healValue)}${this.opts.proposal === undefined ? '' : `; every node knows ${quote(this.opts.proposal)} from the start`}`,
      ...(this.records ? [this.records.describe()] : []),
      `liveness: every up honest node decides the first slot (and catches up; a log also decides ${quote(this.healValue)}) within ${spec.livenessTicks}+${LIVENESS_SLACK_TICKS} ticks of the heal at t=${this.faultTicks}`,
    );
  }

  log(text: string): void {
    this.trace.add(this.now, this.steps, text);
  }

  fail(violations: readonly string[]): never {
    for (const v of violations) {
      this.violations.push(v);
      this.log(`VIOLATION ${v}`);
    }
    throw new Stop();
  }

  /** Calls into the protocol or its spec; an exception is a violation, reported with where it happened. */
  guard<T>(where: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof Stop) throw err;
      return this.fail([`exception in ${where}: ${errorText(err)}`]);
    }
  }

  nextStep(): void {
    this.steps++;
    if (this.steps > MAX_STEPS) this.fail([`step budget: more than ${MAX_STEPS} steps (a message storm?)`]);
  }

  run(): void {
    for (const node of this.nodes) node.state = this.guard(`init(${node.id})`, () => this.spec.protocol.init(node.id, this.ids, this.opts));
    this.checkInvariants();
    let next = 0;
    for (; this.now < this.faultTicks; this.now++) {
      this.faultEvents();
      while (next < this.schedule.length && this.schedule[next]!.tick === this.now) {
        const p = this.schedule[next++]!;
        if (p.everywhere) this.proposeEverywhere(p.value);
        else this.propose(p.value);
      }
      this.deliverDue();
      this.tickAll();
    }
    this.heal();
    const deadline = this.now + this.spec.livenessTicks + LIVENESS_SLACK_TICKS;
    const retry = retryTicks(this.spec);
    const atHeal = honestSlots(this.nodes);
    let gaps: string[] = [];
    this.propose(this.healValue);
    for (; this.now < deadline; this.now++) {
      const elapsed = this.now - this.stats.healedAt;
      if (elapsed > 0 && elapsed % retry === 0 && !this.nodes.some((n) => n.up && !n.byzantine && n.decided.some((d) => d.value === this.healValue))) {
        this.log(`client retries ${quote(this.healValue)}: no up honest node has decided it yet`);
        this.propose(this.healValue);
      }
      this.deliverDue();
      this.tickAll();
      const slots = honestSlots(this.nodes);
      // A log protocol (one that decides slots other than 0) must also get the new proposal through; a single-shot one
      // may have decided its only slot before the heal.
      const isLog = [...slots].some((s) => s !== 0);
      gaps = livenessGaps(this.nodes, requiredSlots(atHeal, slots), isLog ? this.healValue : undefined);
      if (gaps.length === 0) {
        this.stats.liveAt = this.now;
        this.log(`live: every up honest node has decided what it must, ${this.now - this.stats.healedAt + 1} ticks after the heal`);
        return;
      }
    }
    this.fail([`liveness: ${this.spec.livenessTicks}+${LIVENESS_SLACK_TICKS} ticks after the heal at t=${this.stats.healedAt}, ${gaps.join('; ')}`]);
  }

  faultEvents(): void {
    if (this.partition !== null && this.now >= this.partition.until) {
      this.partition = null;
      this.log('partition ends');
    }
    for (const node of this.nodes) if (!node.up && this.rng.chance(this.profile.restart)) this.restart(node);
    const upHonest = this.nodes.filter((n) => n.up && !n.byzantine);
    if (this.downCount() < this.maxDown && upHonest.length > 0 && this.rng.chance(this.profile.crash)) {
      const victim = this.rng.pick(upHonest);
      victim.up = false;
      this.stats.crashes++;
      this.log(`crash ${victim.id} (volatile state lost; it keeps what it persisted)`);
      this.checkInvariants();
    }
    if (this.partition === null && this.ids.length > 1 && this.rng.chance(this.profile.partition)) {
      const order = this.rng.shuffle(this.ids);
      const cut = this.rng.int(1, this.ids.length - 1);
      const side = new Set(order.slice(0, cut));
      this.partition = { side, until: this.now + this.rng.int(this.profile.partitionTicks[0], this.profile.partitionTicks[1]) };
      this.stats.partitions++;
      this.log(`partition ${[...side].sort().join(',')} | ${this.ids.filter((id) => !side.has(id)).join(',')} until t=${this.partition.until}`);
    }
  }

  downCount(): number {
    return this.nodes.filter((n) => !n.up).length;
  }

  restart(node: Node<S>): void {
    const persisted: unknown = node.persisted === undefined ? undefined : JSON.parse(node.persisted);
    node.state = this.guard(`recover(${node.id})`, () => this.spec.protocol.recover(node.id, this.ids, this.opts, persisted));
    node.up = true;
    this.stats.restarts++;
    this.log(`restart ${node.id} from ${node.persisted === undefined ? 'nothing persisted' : `persisted ${describeWire(node.persisted)}`}`);
    if (this.records && !node.byzantine) this.checkRecords(this.records.honestRestart(node.id));
    this.checkInvariants();
  }

  heal(): void {
    this.profile = HEALED;
    this.partition = null;
    this.stats.healedAt = this.now;
    this.log('HEAL: partitions end, every node restarts, no more drops or duplicates, delays 1–2 ticks');
    for (const node of this.nodes) if (!node.up) this.restart(node);
  }

  propose(value: Value): void {
    const target = this.guard('proposeTo', () => this.spec.proposeTo(this.nodes, this.rng));
    const node = this.byId.get(target);
    if (node === undefined) this.fail([`proposeTo returned ${quote(String(target))}, not a participant`]);
    this.stats.proposals++;
    if (!node.up) {
      this.log(`propose ${quote(value)} → ${target}: lost, ${target} is down`);
      return;
    }
    this.nextStep();
    this.proposed.add(value);
    this.log(`propose ${quote(value)} → ${target}`);
    this.apply(node, { kind: 'propose', value }, false);
  }

  /** A round's start as the runtime does it: every up node is told to propose the known value, one step each, in random order. */
  proposeEverywhere(value: Value): void {
    this.proposed.add(value);
    this.stats.proposals++;
    for (const node of this.rng.shuffle(this.nodes)) {
      if (!node.up) continue;
      this.nextStep();
      this.log(`propose ${quote(value)} → ${node.id} (round start)`);
      this.apply(node, { kind: 'propose', value }, false);
    }
  }

  deliverDue(): void {
    for (let env = this.network.takeDue(this.now, this.rng); env !== undefined; env = this.network.takeDue(this.now, this.rng)) this.deliver(env);
  }

  deliver(env: Envelope): void {
    this.nextStep();
    const to = this.byId.get(env.to) as Node<S>;
    const from = this.byId.get(env.from) as Node<S>;
    const what = `${env.from} → ${env.to} ${describeWire(env.wire)}${env.duplicate ? ' (duplicate)' : ''}`;
    if (!to.up || separated(this.partition, env.from, env.to)) {
      this.stats.lost++;
      this.log(`lost ${what}: ${to.up ? 'partition' : `${env.to} is down`}`);
      return;
    }
    // What crosses the wire is JSON, checked by the schema like any message from the network.
    const parsed = env.wire === undefined ? undefined : this.spec.protocol.messageSchema.safeParse(JSON.parse(env.wire));
    if (parsed === undefined || !parsed.success) {
      this.stats.rejected++;
      const why = parsed === undefined ? 'not serializable' : describeIssues(parsed.error);
      this.log(`rejected ${what}: ${why}`);
      if (!from.byzantine) this.fail([`schema: honest ${env.from} sent a message its protocol's schema rejects (${why}): ${describeWire(env.wire)}`]);
      return;
    }
    this.stats.delivered++;
    this.log(what);
    this.apply(to, { kind: 'receive', from: env.from, message: parsed.data }, true);
  }

  tickAll(): void {
    this.nextStep();
    this.stats.ticks++;
    this.log('tick');
    for (const node of this.nodes) if (node.up) this.apply(node, { kind: 'tick' }, false);
    if (this.records) this.checkRecords(this.records.byzantineMoves(this.now));
  }

  /** Violations of the recorded round's checks (recordedRound.ts) end the run like any other. */
  checkRecords(violations: readonly string[]): void {
    if (this.records) {
      const s = this.records.stats;
      this.stats.redisForgeries = s.decisionWrites + s.rekeyAttempts + s.specRewrites;
    }
    if (violations.length > 0) this.fail(violations);
  }

  /** Steps one node, then honours its output in order: persist, decisions, (maybe a crash), sends. Then checks. */
  apply(node: Node<S>, input: Input<M>, mayCrash: boolean): void {
    const out: Output<S, M> = this.guard(`step(${node.id}, ${input.kind})`, () => this.spec.protocol.step(node.state, input));
    node.state = out.state;
    if (out.persist !== undefined) {
      const text = toJson(out.persist);
      if (text === undefined) this.fail([`persist: ${node.id}'s persist output is not JSON-serializable`]);
      node.persisted = text;
    }
    if (out.decide.length > 0) {
      if (!node.byzantine) {
        const changed = changedDecisions(node.id, node.decided, out.decide);
        if (changed.length > 0) this.fail(changed);
      }
      const before = node.decided.length;
      node.decided = mergeDecisions(node.decided, out.decide);
      for (const d of node.decided.slice(before)) {
        if (!node.byzantine) this.stats.decisions++;
        this.log(`${node.id}${node.byzantine ? ' (byzantine)' : ''} decides slot ${d.slot} = ${quote(d.value)}`);
      }
      // Its host records its first decision, signed, as the runtime's round does (once per agent).
      if (this.records && !node.byzantine && before === 0 && node.decided.length > 0) this.checkRecords(this.records.honestDecided(node.id, node.decided[0]!.value, this.now));
      const safety = safetyViolations(this.nodes, this.proposed);
      if (safety.length > 0) this.fail(safety);
    }
    // A crash between persisting and sending: the shell stored the output's state, and died before any message left.
    if (mayCrash && !node.byzantine && this.profile.crashMidStep > 0 && this.downCount() < this.maxDown && this.rng.chance(this.profile.crashMidStep)) {
      node.up = false;
      this.stats.crashes++;
      this.log(`crash ${node.id} after persisting, before sending ${out.send.length} message(s)`);
      this.checkInvariants();
      return;
    }
    const sends = node.byzantine && this.spec.byzantine ? this.guard(`byzantine(${node.id})`, () => this.spec.byzantine?.(this.rng, node.id, out, this.ids) ?? []) : out.send;
    for (const s of sends) {
      const targets = s.to === 'all' ? this.ids.filter((id) => id !== node.id) : [s.to];
      const wire = toJson(s.message);
      if (wire === undefined && !node.byzantine) this.fail([`send: ${node.id} sent a message that is not JSON-serializable`]);
      for (const to of targets) {
        if (!this.byId.has(to)) {
          if (!node.byzantine) this.fail([`send: ${node.id} sent to ${quote(String(to))}, not a participant`]);
          continue;
        }
        if (to === node.id && !node.byzantine) this.fail([`send: ${node.id} sent a message to itself (handle it in the step instead)`]);
        const fate = this.network.send(node.id, to, wire, this.now, this.profile, this.rng);
        if (fate.kind === 'dropped') {
          this.stats.dropped++;
          this.log(`drop ${node.id} → ${to} ${describeWire(wire)}`);
        } else if (fate.copies.length > 1) {
          this.stats.duplicated++;
          this.log(`duplicate ${node.id} → ${to} ${describeWire(wire)} (arrives at t=${fate.copies.map((c) => c.deliverAt).join(' and t=')})`);
        }
      }
    }
    this.checkInvariants();
  }

  checkInvariants(): void {
    const broken = this.guard('invariants', () => this.spec.invariants(this.nodes));
    if (broken.length > 0) this.fail(broken.map((b) => `invariant: ${b}`));
  }
}

/** Runs one seed. Deterministic: the same spec, seed and options give the same result and trace, byte for byte. */
export function runSeed<S, M>(spec: SimSpec<S, M>, seed: number, options: RunOptions = {}): RunResult {
  const sim = new Simulation(spec, seed, options);
  try {
    sim.run();
  } catch (err) {
    if (!(err instanceof Stop)) {
      sim.violations.push(`simulator error: ${errorText(err)}`);
      sim.log(`SIMULATOR ERROR ${errorText(err)}`);
    }
  }
  sim.stats.steps = sim.steps;
  return {
    protocol: spec.protocol.name,
    seed,
    ok: sim.violations.length === 0,
    violations: sim.violations,
    setup: sim.setup,
    trace: sim.trace.lines(),
    stats: sim.stats,
  };
}
