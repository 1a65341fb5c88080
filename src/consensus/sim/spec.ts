// What a protocol gives the seeded simulator besides its core: the safety
// invariants only it knows (the simulator itself checks agreement and validity
// for every protocol), how a Byzantine node of it misbehaves, and how soon it
// must decide once faults heal.
import type { NodeId, Output, Protocol, Value } from '../protocol.ts';

/** One node as the simulator sees it after a step. */
export interface SimNode<S> {
  id: NodeId;
  state: S;
  /** False while crashed (its last persisted state survives). */
  up: boolean;
  /** Byzantine nodes are excluded from the invariants about honest nodes. */
  byzantine: boolean;
  /** Everything it has decided so far, in order. */
  decided: readonly { slot: number; value: Value }[];
}

/** A deterministic random source the simulator hands out (seeded per run). */
export interface SimRandom {
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
}

export interface SimSpec<S, M> {
  protocol: Protocol<S, M>;
  /** Violations of the protocol's own invariants (Raft: election safety, log matching, …), as readable sentences; empty when none. */
  invariants(nodes: readonly SimNode<S>[]): string[];
  /**
   * For protocols that tolerate Byzantine nodes (PBFT): what a Byzantine node
   * sends instead of its honest output (equivocation, forged or garbage
   * messages). `unknown` messages need not pass the schema: the receiving
   * shell drops what fails it.
   */
  byzantine?(rng: SimRandom, self: NodeId, honest: Output<S, M>, peers: readonly NodeId[]): { to: NodeId | 'all'; message: unknown }[];
  /**
   * Byzantine nodes are also Byzantine agent hosts with Redis access: the
   * round's records (roster, decided hash, spec) are kept with the real trust
   * code and forged by them (recordedRound.ts). For protocols whose outcome
   * tolerates f forged participants (PBFT: f+1 decisions needed).
   */
  certifiedRecords?: boolean;
  /** Where client proposals go: 'any' node, or the node the protocol currently routes them to (a leader or primary), found from the states. */
  proposeTo(nodes: readonly SimNode<S>[], rng: SimRandom): NodeId;
  /**
   * The core uses ProtocolOptions.proposal (a value every node holds from the
   * start). Half the runs then give it v1, and v1's first proposal goes to
   * every up node at once, as the runtime does when a round starts.
   */
  knownProposal?: boolean;
  /** Once every fault has healed, a proposal must be decided by every up honest node within this many ticks. */
  livenessTicks: number;
}
