// A quorum node's state: the configuration it was started with, the durable
// part a voter must never forget (what it promised, what it voted for, the
// highest ballot it has used, what it decided), and the volatile rest, which
// a restart loses and the protocol rebuilds.
import { z } from 'zod';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { NodeId, ProtocolOptions, Value } from '../protocol.ts';
import { quorumRule, type QuorumRule } from './rules.ts';
import type { QuorumVote } from './messages.ts';
import type { Tally } from '../tally.ts';

/** Ticks without a decision before a node retries (new ballot, or a query). Overridden by `opts.electionTicks`. */
export const DEFAULT_ROUND_TIMEOUT_TICKS = 10;

export interface QuorumConfig {
  self: NodeId;
  peers: readonly NodeId[];
  /** Index of each participant in `peers`: a ballot b belongs to peers[b mod n]. */
  indexOf: ReadonlyMap<NodeId, number>;
  rule: QuorumRule;
  /** A round times out after a random number of ticks in [timeoutTicks, 2·timeoutTicks), so rival proposers rarely retry together. */
  timeoutTicks: number;
  /** The only value this node votes for (undefined: any; null: none). See ProtocolOptions.accept. */
  accept: Value | null | undefined;
  /** Ballot 0's value, known to every node from the start (ProtocolOptions.proposal); undefined: learnt from the owner's accept. */
  ballotZero: Value | undefined;
}

/** What must survive a restart; persisted before any message that depends on it is sent. */
export interface QuorumDurable {
  /** Highest ballot promised (−1: none). A voter never votes, or promises, below it. */
  promised: number;
  /** The voter's latest vote. */
  accepted: QuorumVote | null;
  /** Highest ballot this node has started as proposer (−1: none), so a restarted proposer never reuses a ballot with another value. */
  maxBallot: number;
  decided: Value | null;
}

export const quorumDurableSchema = z.strictObject({
  promised: z.int().min(-1),
  accepted: z.strictObject({ ballot: z.int().nonnegative(), value: z.string() }).nullable(),
  maxBallot: z.int().min(-1),
  decided: z.string().nullable(),
});

export type ProposerPhase =
  /** Gathering promises for `ballot`: voter → its latest vote. */
  | { phase: 'preparing'; ballot: number; promises: ReadonlyMap<NodeId, QuorumVote | null> }
  /** Promises gathered; `value` proposed in `ballot`. */
  | { phase: 'accepting'; ballot: number; value: Value };

/** One ballot's votes (a Tally, cheap to add to) and their weight per value. */
export interface BallotTally {
  votes: Tally;
  weight: ReadonlyMap<Value, number>;
}

export interface QuorumState extends QuorumDurable {
  config: QuorumConfig;
  /** The value this node tries to get decided when it leads a ballot: its client's, or one it saw proposed or voted. */
  candidate: Value | null;
  /** Highest ballot seen in any message: a new ballot goes above it. */
  highestSeen: number;
  /** The ballot this node is leading, if any. */
  proposer: ProposerPhase | null;
  /** Learner's tally per ballot. A voter counts once per ballot, however often its vote arrives. */
  votes: ReadonlyMap<number, BallotTally>;
  /** Ticks since the timer was last reset, and the randomized limit. */
  idleTicks: number;
  timeout: number;
  /** Generator state (xoroshiro128+): the only randomness, seeded from opts.seed and the node's index. */
  rng: readonly number[];
}

/**
 * The parts of a config every node over one participant list shares. A host
 * starts a state for each of its agents in a round, all over the same list:
 * building the rule and index once per list, not per agent, was most of the
 * cost of joining a round of 100 (immutable, so sharing is safe).
 */
interface Shared {
  threshold: number | undefined;
  weights: ProtocolOptions['weights'];
  peers: readonly NodeId[];
  indexOf: ReadonlyMap<NodeId, number>;
  rule: QuorumRule;
}
const sharedByPeers = new WeakMap<readonly NodeId[], Shared>();

function sharedFor(peers: readonly NodeId[], opts: ProtocolOptions): Shared {
  const known = sharedByPeers.get(peers);
  if (known && known.threshold === opts.threshold && known.weights === opts.weights) return known;
  const shared = { threshold: opts.threshold, weights: opts.weights, peers: [...peers], indexOf: new Map(peers.map((p, i) => [p, i])), rule: quorumRule(peers, opts) };
  sharedByPeers.set(peers, shared);
  return shared;
}

function config(self: NodeId, peers: readonly NodeId[], opts: ProtocolOptions): QuorumConfig {
  const { rule, indexOf, peers: list } = sharedFor(peers, opts);
  if (!rule.weights.has(self)) throw new RangeError(`quorum: ${self} is not among the participants`);
  const timeoutTicks = opts.electionTicks ?? DEFAULT_ROUND_TIMEOUT_TICKS;
  if (!Number.isInteger(timeoutTicks) || timeoutTicks < 1) throw new RangeError(`quorum: electionTicks must be an integer ≥ 1, got ${timeoutTicks}`);
  return { self, peers: list, indexOf, rule, timeoutTicks, accept: opts.accept, ballotZero: opts.proposal };
}

/** Draws the next round timeout; returns it with the advanced generator state. */
export function drawTimeout(cfg: QuorumConfig, rng: readonly number[]): { timeout: number; rng: readonly number[] } {
  const g = xoroshiro128plusFromState(rng);
  const timeout = uniformInt(g, cfg.timeoutTicks, 2 * cfg.timeoutTicks - 1);
  return { timeout, rng: g.getState() };
}

function fresh(cfg: QuorumConfig, seed: number, durable: QuorumDurable): QuorumState {
  const index = cfg.indexOf.get(cfg.self) ?? 0;
  // Distinct streams per node from one run seed: the golden-ratio step spreads neighbouring indices apart.
  const first = drawTimeout(cfg, xoroshiro128plus((seed + Math.imul(index + 1, 0x9e3779b9)) | 0).getState());
  return {
    config: cfg,
    ...durable,
    candidate: durable.decided === null ? (durable.accepted?.value ?? null) : null,
    highestSeen: Math.max(durable.promised, durable.maxBallot),
    proposer: null,
    votes: new Map(),
    idleTicks: 0,
    timeout: first.timeout,
    rng: first.rng,
  };
}

export const NOTHING_DURABLE: QuorumDurable = { promised: -1, accepted: null, maxBallot: -1, decided: null };

export function initQuorum(self: NodeId, peers: readonly NodeId[], opts: ProtocolOptions): QuorumState {
  return fresh(config(self, peers, opts), opts.seed, NOTHING_DURABLE);
}

/** Restarts from the durable part; corrupt storage is an error, never silently a fresh voter (that could vote twice). */
export function recoverQuorum(self: NodeId, peers: readonly NodeId[], opts: ProtocolOptions, persisted: unknown): QuorumState {
  const durable = persisted === undefined ? NOTHING_DURABLE : quorumDurableSchema.parse(persisted);
  return fresh(config(self, peers, opts), opts.seed, durable);
}

export function durableOf(s: QuorumDurable): QuorumDurable {
  return { promised: s.promised, accepted: s.accepted, maxBallot: s.maxBallot, decided: s.decided };
}
