// A tiny deterministic in-memory network to drive PBFT replicas by hand (unit
// and property tests): the caller decides which message is delivered, dropped
// or duplicated, which replica ticks, crashes (keeping what it persisted) and
// restarts. Messages cross as JSON and are checked by the wire schema, as
// through Redis: an honest replica sending a message its schema rejects is an
// error; a Byzantine one's is dropped and counted. A Byzantine replica's state
// evolves honestly, but what it sends is whatever `byzantine` makes of its
// honest output. States are deep-frozen, so a core that mutates its input fails
// loudly. No I/O, no clock, no randomness of its own.
import type { Input, NodeId, Output, Protocol, ProtocolOptions, Value } from '../protocol.ts';
import type { SimNode } from '../sim/spec.ts';
import type { PbftMessage } from './messages.ts';
import type { PbftState } from './state.ts';

export interface Envelope {
  readonly id: number;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: PbftMessage;
}

export interface LocalReplica {
  readonly id: NodeId;
  state: PbftState;
  up: boolean;
  byzantine: boolean;
  persisted: string | undefined;
  decided: { slot: number; value: Value }[];
}

export type ByzantineBehaviour = (self: NodeId, honest: Output<PbftState, PbftMessage>, peers: readonly NodeId[]) => { to: NodeId | 'all'; message: unknown }[];

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export class PbftLocalNet {
  readonly replicas = new Map<NodeId, LocalReplica>();
  inFlight: Envelope[] = [];
  /** Messages from Byzantine replicas that failed the schema. */
  rejected = 0;
  /** Called after every step with the replica stepped (tests check invariants here). */
  onStep: ((net: PbftLocalNet) => void) | undefined;
  /** Messages for which this returns true are lost when sent. */
  dropIf: ((e: Omit<Envelope, 'id'>) => boolean) | undefined;
  private nextId = 0;

  constructor(
    readonly protocol: Protocol<PbftState, PbftMessage>,
    readonly peers: readonly NodeId[],
    readonly opts: ProtocolOptions = { seed: 1 },
    byzantine: readonly NodeId[] = [],
    readonly behaviour?: ByzantineBehaviour,
  ) {
    for (const id of peers) {
      this.replicas.set(id, { id, state: deepFreeze(protocol.init(id, peers, opts)), up: true, byzantine: byzantine.includes(id), persisted: undefined, decided: [] });
    }
  }

  replica(id: NodeId): LocalReplica {
    const r = this.replicas.get(id);
    if (!r) throw new Error(`no replica ${id}`);
    return r;
  }

  state(id: NodeId): PbftState {
    return this.replica(id).state;
  }

  honest(): LocalReplica[] {
    return [...this.replicas.values()].filter((r) => !r.byzantine);
  }

  /** Steps a replica (nothing happens to a crashed one) and queues what it sends. */
  apply(id: NodeId, input: Input<PbftMessage>): void {
    const r = this.replica(id);
    if (!r.up) return;
    const out = this.protocol.step(r.state, input);
    if (out.persist !== undefined) r.persisted = JSON.stringify(out.persist);
    r.state = deepFreeze(out.state);
    for (const d of out.decide) if (!r.decided.some((x) => x.slot === d.slot)) r.decided.push(d);
    const sends = r.byzantine && this.behaviour ? this.behaviour(id, out, this.peers) : out.send;
    for (const { to, message } of sends) {
      let wire: unknown;
      try {
        wire = JSON.parse(JSON.stringify(message) ?? 'null') as unknown;
      } catch {
        wire = undefined;
      }
      const parsed = this.protocol.messageSchema.safeParse(wire);
      for (const dest of to === 'all' ? this.peers.filter((p) => p !== id) : [to]) {
        if (!this.replicas.has(dest)) continue;
        if (!parsed.success) {
          if (!r.byzantine) throw new Error(`${id} sent a message failing the schema: ${JSON.stringify(message)}: ${parsed.error.message}`);
          this.rejected++;
          continue;
        }
        if (dest === id && !r.byzantine) throw new Error(`${id} sent a message to itself`);
        const env = { from: id, to: dest, message: parsed.data };
        if (this.dropIf?.(env)) continue;
        this.inFlight.push({ id: this.nextId++, ...env });
      }
    }
    this.onStep?.(this);
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

  /** Delivers the in-flight message at `index` (to a crashed replica: lost). */
  deliver(index: number): void {
    const [e] = this.inFlight.splice(index, 1);
    if (e) this.apply(e.to, { kind: 'receive', from: e.from, message: e.message });
  }

  drop(index: number): void {
    this.inFlight.splice(index, 1);
  }

  duplicate(index: number): void {
    const e = this.inFlight[index];
    if (e) this.inFlight.push({ ...e, id: this.nextId++ });
  }

  /** Delivers every message in flight now, oldest first (what they cause waits for the next call). Returns how many. */
  deliverLayer(filter: (e: Envelope) => boolean = () => true): number {
    const layer = this.inFlight.filter(filter);
    this.inFlight = this.inFlight.filter((e) => !filter(e));
    for (const e of layer) this.apply(e.to, { kind: 'receive', from: e.from, message: e.message });
    return layer.length;
  }

  /** Delivers until nothing is in flight (bounded). */
  settle(maxLayers = 1000): void {
    for (let i = 0; i < maxLayers && this.inFlight.length > 0; i++) this.deliverLayer();
  }

  /** `ticks` rounds of: deliver everything in flight, then tick every replica. Stops early when `until` holds. */
  run(ticks: number, until?: () => boolean): number {
    for (let t = 0; t < ticks; t++) {
      if (until?.()) return t;
      this.settle();
      this.tickAll();
    }
    this.settle();
    return ticks;
  }

  crash(id: NodeId): void {
    this.replica(id).up = false;
    this.inFlight = this.inFlight.filter((e) => e.to !== id);
  }

  restart(id: NodeId): void {
    const r = this.replica(id);
    if (r.up) return;
    const persisted = r.persisted === undefined ? undefined : (JSON.parse(r.persisted) as unknown);
    r.state = deepFreeze(this.protocol.recover(id, this.peers, this.opts, persisted));
    r.up = true;
  }

  simNodes(): SimNode<PbftState>[] {
    return [...this.replicas.values()].map((r) => ({ id: r.id, state: r.state, up: r.up, byzantine: r.byzantine, decided: [...r.decided] }));
  }
}
