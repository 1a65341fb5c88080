// The one in-memory network the protocol unit tests drive their cores on, for
// any core that meets the Protocol contract (src/consensus/protocol.ts). The
// test decides every fault: which message is delivered, dropped or duplicated,
// which node ticks, crashes (keeping only what it persisted, losing its inbox)
// and restarts. What crosses it crosses as it would through Redis: messages
// and persisted state go through JSON, messages through the wire schema; an
// honest node sending a message its schema refuses, or to itself, or to a
// stranger, is a bug in the core and throws. States are deep-frozen, so a core
// that mutates its input fails loudly.
//
// Byzantine nodes step honestly (their state stays meaningful), but what they
// send is whatever `behaviour` makes of their honest output: drop, alter or
// forge any message. What they send that fails the schema is refused and
// counted, as the runtime does. `dropIf` loses messages on the way, whoever
// sends them. No I/O, no clock, no randomness of its own.
//
// The seeded simulator (src/consensus/sim/) has its own network, with random
// delays and fault profiles; this one is for tests that script every step.
import type { Input, NodeId, Output, Protocol, ProtocolOptions, Value } from '../../src/consensus/protocol.ts';
import type { SimNode } from '../../src/consensus/sim/spec.ts';

export interface Envelope<M> {
  /** Unique per network, in send order (a duplicate gets a new one). */
  readonly seq: number;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: M;
}

export interface NetNode<S> {
  readonly id: NodeId;
  state: S;
  up: boolean;
  byzantine: boolean;
  /** The last `persist` of its outputs, as read back from storage; undefined: never persisted. */
  persisted: unknown;
  /** Every decision of its outputs, in order. */
  decided: { slot: number; value: Value }[];
}

/** What a Byzantine node sends instead of its honest output: drop, alter or forge anything. */
export type ByzantineBehaviour<S, M> = (self: NodeId, honest: Output<S, M>, peers: readonly NodeId[]) => { to: NodeId | 'all'; message: unknown }[];

export interface TestNetOptions<S, M> {
  opts?: ProtocolOptions;
  /** Deep-freeze every state (default true); a 100-node network is faster without. */
  freeze?: boolean;
  byzantine?: readonly NodeId[];
  behaviour?: ByzantineBehaviour<S, M>;
  /** Nodes that start from storage (recover) instead of fresh (init). */
  persisted?: Readonly<Record<NodeId, unknown>>;
}

/** Called after every step, with the output; tests check invariants here. */
export type StepHook<S, M> = (net: TestNet<S, M>, id: NodeId, before: S, out: Output<S, M>) => void;

const everything = (): boolean => true;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Through JSON and back, as through Redis; undefined when it cannot be written (garbage from a Byzantine node). */
function overTheWire(value: unknown): unknown {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

export class TestNet<S, M> {
  readonly nodes = new Map<NodeId, NetNode<S>>();
  /** Sent and not yet delivered or dropped, oldest first. Tests may filter or reorder it. */
  inFlight: Envelope<M>[] = [];
  /** Every message sent, by `message.type`, counted once per destination. */
  readonly sentByType = new Map<string, number>();
  /** Messages from Byzantine nodes that failed the schema. */
  rejected = 0;
  /** What the test's step hook found wrong; it stays empty in a good run. */
  readonly violations: string[] = [];
  onStep: StepHook<S, M> | undefined;
  /** Messages for which this returns true are lost when sent. */
  dropIf: ((e: Omit<Envelope<M>, 'seq'>) => boolean) | undefined;
  readonly opts: ProtocolOptions;
  private readonly freeze: boolean;
  private readonly behaviour: ByzantineBehaviour<S, M> | undefined;
  private seq = 0;

  constructor(
    readonly protocol: Protocol<S, M>,
    readonly peers: readonly NodeId[],
    options: TestNetOptions<S, M> = {},
  ) {
    this.opts = options.opts ?? { seed: 1 };
    this.freeze = options.freeze ?? true;
    this.behaviour = options.behaviour;
    for (const id of peers) {
      const stored = options.persisted?.[id];
      const persisted = stored === undefined ? undefined : overTheWire(stored);
      const state = persisted === undefined ? protocol.init(id, peers, this.opts) : protocol.recover(id, peers, this.opts, persisted);
      this.nodes.set(id, { id, state: this.frozen(state), up: true, byzantine: options.byzantine?.includes(id) ?? false, persisted, decided: [] });
    }
  }

  private frozen(s: S): S {
    return this.freeze ? deepFreeze(s) : s;
  }

  node(id: NodeId): NetNode<S> {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  state(id: NodeId): S {
    return this.node(id).state;
  }

  honest(): NetNode<S>[] {
    return [...this.nodes.values()].filter((n) => !n.byzantine);
  }

  /** Steps node `id` with `input` and queues what it sends; a crashed node does nothing (undefined). */
  apply(id: NodeId, input: Input<M>): Output<S, M> | undefined {
    const node = this.node(id);
    if (!node.up) return undefined;
    const before = node.state;
    const out = this.protocol.step(before, input);
    if (out.persist !== undefined) node.persisted = overTheWire(out.persist);
    node.state = this.frozen(out.state);
    node.decided.push(...out.decide);
    const sends = node.byzantine && this.behaviour ? this.behaviour(id, out, this.peers) : out.send;
    for (const { to, message } of sends) this.send(node, to, message);
    this.onStep?.(this, id, before, out);
    return out;
  }

  private send(node: NetNode<S>, to: NodeId | 'all', message: unknown): void {
    const parsed = this.protocol.messageSchema.safeParse(overTheWire(message));
    const dests = to === 'all' ? this.peers.filter((p) => p !== node.id) : [to];
    for (const dest of dests) {
      if (!parsed.success) {
        if (!node.byzantine) throw new Error(`${node.id} sent a message failing the schema: ${JSON.stringify(message)}: ${parsed.error.message}`);
        this.rejected++;
        continue;
      }
      if (!this.nodes.has(dest) || dest === node.id) {
        if (!node.byzantine) throw new Error(`${node.id} sent a message to ${dest === node.id ? 'itself' : `${dest}, not a participant`}`);
        continue;
      }
      const env = { from: node.id, to: dest, message: parsed.data };
      if (this.dropIf?.(env)) continue;
      this.inFlight.push({ seq: this.seq++, ...env });
      const type = (parsed.data as { type?: unknown }).type;
      const key = typeof type === 'string' ? type : '?';
      this.sentByType.set(key, (this.sentByType.get(key) ?? 0) + 1);
    }
  }

  propose(id: NodeId, value: Value): Output<S, M> | undefined {
    return this.apply(id, { kind: 'propose', value });
  }

  tick(id: NodeId): void {
    this.apply(id, { kind: 'tick' });
  }

  tickAll(): void {
    for (const id of this.peers) this.tick(id);
  }

  /** Hands `to` a message as if from `from`, bypassing the queue (a forged or replayed one, or the shell's own). */
  inject(to: NodeId, from: NodeId, message: M): Output<S, M> | undefined {
    return this.apply(to, { kind: 'receive', from, message });
  }

  /** Delivers the in-flight message at `index`. */
  deliver(index: number): void {
    const [e] = this.inFlight.splice(index, 1);
    if (e) this.inject(e.to, e.from, e.message);
  }

  drop(index: number): void {
    this.inFlight.splice(index, 1);
  }

  duplicate(index: number): void {
    const e = this.inFlight[index];
    if (e) this.inFlight.push({ ...e, seq: this.seq++ });
  }

  /** Loses every in-flight message that `pass` accepts; returns them. */
  dropAll(pass: (e: Envelope<M>) => boolean = everything): Envelope<M>[] {
    const lost = this.inFlight.filter(pass);
    this.inFlight = this.inFlight.filter((e) => !pass(e));
    return lost;
  }

  /** One message delay: delivers every message in flight now that `pass` accepts, oldest first (what they cause waits). Returns how many. */
  deliverLayer(pass: (e: Envelope<M>) => boolean = everything): number {
    const layer = this.dropAll(pass);
    for (const e of layer) this.inject(e.to, e.from, e.message);
    return layer.length;
  }

  /** Delivers layer after layer until no message `pass` accepts is in flight; false when still busy after `maxLayers`. */
  settle(pass: (e: Envelope<M>) => boolean = everything, maxLayers = 1000): boolean {
    for (let i = 0; i < maxLayers; i++) if (this.deliverLayer(pass) === 0) return true;
    return !this.inFlight.some(pass);
  }

  /** `settle`, for tests where a network that never goes quiet is itself a failure. */
  deliverAll(pass: (e: Envelope<M>) => boolean = everything): void {
    if (!this.settle(pass)) throw new Error('deliverAll: the network never went quiet');
  }

  /** `ticks` times: settle, then every node ticks; stops early when `until` holds. Returns the ticks it took. */
  run(ticks: number, until?: () => boolean): number {
    for (let t = 0; t < ticks; t++) {
      if (until?.()) return t;
      this.settle();
      this.tickAll();
    }
    this.settle();
    return ticks;
  }

  /** `count` rounds of: the nodes in `only` tick, messages `pass` accepts are delivered until quiet, the rest are lost. */
  rounds(count: number, only: readonly NodeId[] = this.peers, pass: (e: Envelope<M>) => boolean = everything): void {
    for (let r = 0; r < count; r++) {
      for (const id of only) this.tick(id);
      this.deliverAll(pass);
      this.dropAll();
    }
  }

  /** Rounds until `done`, at most `max`; returns the rounds it took, throws if never done. */
  roundsUntil(done: () => boolean, max: number, only: readonly NodeId[] = this.peers, pass: (e: Envelope<M>) => boolean = everything): number {
    for (let r = 0; r < max; r++) {
      if (done()) return r;
      this.rounds(1, only, pass);
    }
    if (done()) return max;
    throw new Error(`roundsUntil: not done after ${max} rounds`);
  }

  /** The node stops; messages on their way to it are lost. */
  crash(id: NodeId): void {
    this.node(id).up = false;
    this.inFlight = this.inFlight.filter((e) => e.to !== id);
  }

  /** A crashed node comes back from what it persisted (an up node is left alone). */
  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.up) return;
    node.state = this.frozen(this.protocol.recover(id, this.peers, this.opts, node.persisted));
    node.up = true;
  }

  /** Each node's first decision, in peer order. */
  decidedValues(): (Value | undefined)[] {
    return this.peers.map((id) => this.node(id).decided[0]?.value);
  }

  simNodes(): SimNode<S>[] {
    return this.peers.map((id) => {
      const n = this.node(id);
      return { id, state: n.state, up: n.up, byzantine: n.byzantine, decided: [...n.decided] };
    });
  }
}
