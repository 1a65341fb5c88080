// The contract every consensus protocol core meets, the way etcd's raft is
// built: a pure `step(state, input) → output`, no I/O, no clock of its own
// (time arrives as `tick` inputs), no randomness except from a seed kept in
// its state. The same core runs in the seeded simulator (src/consensus/sim/)
// and inside real agents, which exchange its messages through Redis
// (src/consensus/runtime/).
import type { z } from 'zod';

export type ProtocolName = 'quorum' | 'raft' | 'pbft' | 'fast-paxos';

/** An agent taking part, by its agent id. */
export type NodeId = string;

/** Values are opaque strings (JSON of the user's value); cores compare them with ===. */
export type Value = string;

export interface ProtocolOptions {
  /** Seeds any randomness the core needs (Raft's election timeouts). */
  seed: number;
  /** Ticks after which a timeout fires, where the protocol has one. One tick is `tickMs` of real time. */
  electionTicks?: number;
  heartbeatTicks?: number;
  /** Quorum only: votes needed (default ⌊n/2⌋+1), or per-participant weights. */
  threshold?: number;
  weights?: Readonly<Record<NodeId, number>>;
  /**
   * Replicated tasks: the only value this node may vote for (its own output of
   * the task), or null for none (its replica failed). Undefined: any value.
   * Restricting votes never endangers safety (a refusing voter is just a slow
   * one); it means a value is decided only if a quorum of nodes accepts it.
   * Cores that cannot honour it say so in the runtime (protocols.ts).
   */
  accept?: Value | null;
  /**
   * The round's value as every participant already holds it before any
   * message (the runtime reads it from the proposal's job in Redis). Cores
   * that can use it save the message delay that carries it: quorum votes for
   * it in ballot 0 (whose owner proposes exactly it), Fast Paxos accepts it in
   * the fast round. Each node must then also get `propose` with it. Undefined:
   * the value travels in messages as usual.
   */
  proposal?: Value;
}

export type Input<M> =
  /** A client asks this node to get `value` decided (a leader/primary/proposer acts on it; others may forward or ignore). */
  | { kind: 'propose'; value: Value }
  /** A message from a participant, already authenticated and schema-checked by the shell. */
  | { kind: 'receive'; from: NodeId; message: M }
  /** Time passes by one tick. */
  | { kind: 'tick' };

export interface Output<S, M> {
  state: S;
  /** To one participant, or to every other participant. */
  send: readonly { to: NodeId | 'all'; message: M }[];
  /** Newly decided values, in order; `slot` is the log index / sequence number (0 for single-shot protocols). */
  decide: readonly { slot: number; value: Value }[];
  /**
   * What must be on durable storage before any message of this output is sent
   * (Raft: term, vote, log). Undefined: nothing changed. The shell persists it,
   * then sends.
   */
  persist?: unknown;
}

export interface Protocol<S, M> {
  name: ProtocolName;
  /** A fresh node. `peers` includes `self`, in a fixed order every node agrees on. */
  init(self: NodeId, peers: readonly NodeId[], opts: ProtocolOptions): S;
  /** A node restarting from what it last persisted (undefined: it never persisted anything). */
  recover(self: NodeId, peers: readonly NodeId[], opts: ProtocolOptions, persisted: unknown): S;
  step(state: S, input: Input<M>): Output<S, M>;
  /** Validates a message from the wire; a message failing it is dropped and counted, never stepped. */
  messageSchema: z.ZodType<M>;
  /** The largest number of faulty participants the protocol tolerates among n (crash for most, Byzantine for PBFT). */
  faultTolerance(n: number): number;
}
