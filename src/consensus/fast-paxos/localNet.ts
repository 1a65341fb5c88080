// A tiny deterministic in-memory network for running any protocol core by
// hand: the caller decides which message is delivered, dropped or duplicated,
// which node ticks, crashes (keeping what it persisted) and restarts. Every
// message sent is checked against the protocol's wire schema and goes through
// a JSON round trip, as it would through Redis; persisted state too; states are
// frozen so that a core mutating its input fails loudly. Used by the Fast
// Paxos unit and property tests; no I/O, no clock, no randomness of its own.
import type { Input, NodeId, Protocol, ProtocolOptions, Value } from '../protocol.ts';
import type { SimNode } from '../sim/spec.ts';

export interface InFlight<M> {
  readonly seq: number;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: M;
}

interface LocalNode<S> {
  id: NodeId;
  state: S;
  up: boolean;
  persisted: string | undefined;
  decided: { slot: number; value: Value }[];
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export class LocalNet<S, M> {
  readonly nodes = new Map<NodeId, LocalNode<S>>();
  /** Messages sent and not yet delivered or dropped, oldest first. */
  inFlight: InFlight<M>[] = [];
  /** Every message sent, by type (`message.type` when it has one). */
  readonly sentByType = new Map<string, number>();
  private seq = 0;

  constructor(
    readonly protocol: Protocol<S, M>,
    readonly peers: readonly NodeId[],
    readonly opts: ProtocolOptions = { seed: 1 },
    readonly freeze = true,
  ) {
    for (const id of peers) {
      this.nodes.set(id, { id, state: this.frozen(protocol.init(id, peers, opts)), up: true, persisted: undefined, decided: [] });
    }
  }

  private frozen(s: S): S {
    return this.freeze ? deepFreeze(s) : s;
  }

  node(id: NodeId): LocalNode<S> {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  /** Steps node `id` with `input` (nothing happens to a crashed node) and queues what it sends. */
  apply(id: NodeId, input: Input<M>): void {
    const node = this.node(id);
    if (!node.up) return;
    const out = this.protocol.step(node.state, input);
    if (out.persist !== undefined) node.persisted = JSON.stringify(out.persist);
    node.state = this.frozen(out.state);
    node.decided.push(...out.decide);
    for (const { to, message } of out.send) {
      const wire = JSON.parse(JSON.stringify(message)) as unknown;
      const parsed = this.protocol.messageSchema.safeParse(wire);
      if (!parsed.success) throw new Error(`${id} sent a message failing the schema: ${JSON.stringify(message)}: ${parsed.error.message}`);
      const type = (message as { type?: unknown }).type;
      const key = typeof type === 'string' ? type : '?';
      for (const dest of to === 'all' ? this.peers.filter((p) => p !== id) : [to]) {
        this.inFlight.push({ seq: this.seq++, from: id, to: dest, message: parsed.data });
        this.sentByType.set(key, (this.sentByType.get(key) ?? 0) + 1);
      }
    }
  }

  propose(id: NodeId, value: Value): void {
    this.apply(id, { kind: 'propose', value });
  }

  tick(id: NodeId): void {
    this.apply(id, { kind: 'tick' });
  }

  tickAll(): void {
    for (const id of this.peers) this.tick(id);
  }

  /** Delivers the in-flight message at `index` (to a crashed node: it is lost). */
  deliver(index: number): void {
    const [m] = this.inFlight.splice(index, 1);
    if (m === undefined) return;
    this.apply(m.to, { kind: 'receive', from: m.from, message: m.message });
  }

  drop(index: number): void {
    this.inFlight.splice(index, 1);
  }

  duplicate(index: number): void {
    const m = this.inFlight[index];
    if (m !== undefined) this.inFlight.push({ ...m, seq: this.seq++ });
  }

  /** Delivers every message in flight now, oldest first (what they cause waits for the next call): one message delay. */
  deliverLayer(filter: (m: InFlight<M>) => boolean = () => true): number {
    const layer = this.inFlight.filter(filter);
    this.inFlight = this.inFlight.filter((m) => !filter(m));
    for (const m of layer) this.apply(m.to, { kind: 'receive', from: m.from, message: m.message });
    return layer.length;
  }

  /** Delivers until nothing is in flight (bounded). */
  settle(maxLayers = 1000): void {
    for (let i = 0; i < maxLayers && this.inFlight.length > 0; i++) this.deliverLayer();
  }

  crash(id: NodeId): void {
    this.node(id).up = false;
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.up) return;
    const persisted = node.persisted === undefined ? undefined : (JSON.parse(node.persisted) as unknown);
    node.state = this.frozen(this.protocol.recover(id, this.peers, this.opts, persisted));
    node.up = true;
  }

  decidedValues(): (Value | undefined)[] {
    return this.peers.map((id) => this.node(id).decided[0]?.value);
  }

  simNodes(): SimNode<S>[] {
    return this.peers.map((id) => {
      const n = this.node(id);
      return { id, state: n.state, up: n.up, byzantine: false, decided: [...n.decided] };
    });
  }
}
