// The state of one Fast Paxos node (acceptor + learner + possible coordinator
// + possible proposer), plain JSON and never mutated: every step returns a new
// object. Only the durable part (`persistedOf`) survives a crash.
import { z } from 'zod';
import type { NodeId, ProtocolOptions, Value } from '../protocol.ts';
import { classicQuorum, fastQuorum } from './quorums.ts';
import type { Tally } from '../tally.ts';

/** Default ticks before a node that has seen no progress starts a higher round. */
export const DEFAULT_TIMEOUT_TICKS = 10;
/** Timeouts grow with the rounds already tried (a backoff), up to this many times the base. */
export const MAX_BACKOFF = 8;

export interface FastPaxosConfig {
  readonly n: number;
  readonly index: number;
  readonly fastQuorum: number;
  readonly classicQuorum: number;
  /** Base timeout in ticks (`electionTicks`, default 10). */
  readonly timeoutTicks: number;
  /** Extra ticks per position a node stands after the next round's owner, so that owners take turns instead of duelling. */
  readonly staggerTicks: number;
  /** The only value this acceptor votes for (undefined: any; null: none). See ProtocolOptions.accept. */
  readonly accept?: Value | null;
  /** The fast round's value as every node knows it from the start (ProtocolOptions.proposal); undefined: none. */
  readonly proposal?: Value;
}

/** A vote: the acceptor accepted `value` in `round`. */
export interface Vote {
  readonly round: number;
  readonly value: Value;
}

export interface AcceptorState {
  /** Highest round joined (promised): no vote in any lower round from now on. */
  readonly rnd: number;
  /** Round of the last vote, −1 if none. */
  readonly vrnd: number;
  /** Value of the last vote, null if none. */
  readonly vval: Value | null;
  /** Every vote cast, in round order (at most one per round). Persisted; the invariants derive "chosen" from it. */
  readonly history: readonly Vote[];
}

/** What an acceptor told the coordinator in Phase 1 (or, in coordinated recovery, its fast-round 2b). */
export interface Report {
  readonly vrnd: number;
  readonly vval: Value | null;
  readonly proposal: Value | null;
}

export interface CoordinatorState {
  /** The round this node coordinates now, −1 if none. */
  readonly round: number;
  /** idle: coordinating nothing (or gave up); p1: collecting reports; p2: its 2a is sent. */
  readonly phase: 'idle' | 'p1' | 'p2';
  readonly reports: Readonly<Record<NodeId, Report>>;
  /** The value sent in this round's 2a (never a second one for the same round). */
  readonly value: Value | null;
  /** True when round 1's reports are the fast round's 2b messages (coordinated recovery). */
  readonly coordinated: boolean;
}

export interface LearnerState {
  /** round → who voted what in that round, as learnt from 2b messages (an acceptor votes once a round). Cleared once decided. */
  readonly votes: Readonly<Record<string, Tally>>;
}

export interface FastPaxosState {
  readonly self: NodeId;
  readonly peers: readonly NodeId[];
  readonly config: FastPaxosConfig;
  readonly acceptor: AcceptorState;
  readonly coordinator: CoordinatorState;
  readonly learner: LearnerState;
  /** The value this node was asked to propose (the first one; persisted so a restarted proposer keeps trying). */
  readonly proposal: Value | null;
  /** Some proposed value this node has heard of (its own, a proposal, a vote): a candidate when no vote constrains a coordinator. */
  readonly known: Value | null;
  /** Highest round this node has seen anywhere (≥ acceptor.rnd). */
  readonly maxRound: number;
  /** The decided value (slot 0), null until decided. Persisted so a restart does not decide twice. */
  readonly decided: Value | null;
  /** Ticks since the last sign of progress (a higher round, a message from the current coordinator). */
  readonly idleTicks: number;
  /** Ticks since this node last (re)sent its proposal or a query. */
  readonly retryTicks: number;
  /** Queries sent so far: a node that has heard of nothing asks ever less often (T, 2T, 4T, then every 8T ticks). */
  readonly queries: number;
}

/** The durable part: written before any message of the step that changed it is sent. */
export interface FastPaxosPersisted {
  readonly version: 1;
  readonly rnd: number;
  readonly vrnd: number;
  readonly vval: Value | null;
  readonly history: readonly Vote[];
  readonly proposal: Value | null;
  readonly decided: Value | null;
}

const roundNum = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const fastPaxosPersistedSchema = z
  .strictObject({
    version: z.literal(1),
    rnd: roundNum,
    vrnd: z.number().int().min(-1).max(Number.MAX_SAFE_INTEGER),
    vval: z.string().nullable(),
    history: z.array(z.strictObject({ round: roundNum, value: z.string() })),
    proposal: z.string().nullable(),
    decided: z.string().nullable(),
  })
  .refine((p) => (p.vrnd === -1) === (p.vval === null), { message: 'vval must be null exactly when vrnd is -1' })
  .refine((p) => p.vrnd <= p.rnd, { message: 'voted in a round above the promised one' })
  .refine(
    (p) => {
      const last = p.history[p.history.length - 1];
      return last === undefined ? p.vrnd === -1 : last.round === p.vrnd && last.value === p.vval;
    },
    { message: 'the last vote in history must be (vrnd, vval)' },
  );

export function configFor(self: NodeId, peers: readonly NodeId[], opts: ProtocolOptions): FastPaxosConfig {
  const n = peers.length;
  if (n < 1) throw new Error('fast-paxos: peers must not be empty');
  if (new Set(peers).size !== n) throw new Error('fast-paxos: peers must be distinct');
  const index = peers.indexOf(self);
  if (index < 0) throw new Error(`fast-paxos: ${self} is not among its peers`);
  const timeoutTicks = opts.electionTicks ?? DEFAULT_TIMEOUT_TICKS;
  if (!Number.isSafeInteger(timeoutTicks) || timeoutTicks < 1) throw new Error(`fast-paxos: electionTicks must be a positive integer, got ${timeoutTicks}`);
  return {
    n,
    index,
    fastQuorum: fastQuorum(n),
    classicQuorum: classicQuorum(n),
    timeoutTicks,
    staggerTicks: Math.max(1, Math.ceil(timeoutTicks / 2)),
    ...(opts.accept === undefined ? {} : { accept: opts.accept }),
    ...(opts.proposal === undefined ? {} : { proposal: opts.proposal }),
  };
}

/** Whether this acceptor may vote for `value` (replicated tasks: only for its own output). */
export function accepts(s: FastPaxosState, value: Value): boolean {
  return s.config.accept === undefined || s.config.accept === value;
}

export const IDLE_COORDINATOR: CoordinatorState = { round: -1, phase: 'idle', reports: {}, value: null, coordinated: false };

export function initState(self: NodeId, peers: readonly NodeId[], opts: ProtocolOptions): FastPaxosState {
  return {
    self,
    peers: [...peers],
    config: configFor(self, peers, opts),
    acceptor: { rnd: 0, vrnd: -1, vval: null, history: [] },
    coordinator: IDLE_COORDINATOR,
    learner: { votes: {} },
    proposal: null,
    known: null,
    maxRound: 0,
    decided: null,
    idleTicks: 0,
    retryTicks: 0,
    queries: 0,
  };
}

/** Rebuilds a node from what it persisted. A malformed record throws: silently forgetting promises would be unsafe. */
export function recoverState(self: NodeId, peers: readonly NodeId[], opts: ProtocolOptions, persisted: unknown): FastPaxosState {
  const fresh = initState(self, peers, opts);
  if (persisted === undefined) return fresh;
  const parsed = fastPaxosPersistedSchema.safeParse(persisted);
  if (!parsed.success) throw new Error(`fast-paxos: cannot recover ${self}: ${parsed.error.message}`);
  const p = parsed.data;
  return {
    ...fresh,
    acceptor: { rnd: p.rnd, vrnd: p.vrnd, vval: p.vval, history: p.history.map((v) => ({ round: v.round, value: v.value })) },
    proposal: p.proposal,
    known: p.proposal ?? p.vval,
    // The coordinator state is not persisted: a node never restarts a round it may have
    // started, because starting round r first promises r in its own acceptor (persisted),
    // and a new round is always above maxRound ≥ rnd.
    maxRound: p.rnd,
    decided: p.decided,
  };
}

export function persistedOf(s: FastPaxosState): FastPaxosPersisted {
  return {
    version: 1,
    rnd: s.acceptor.rnd,
    vrnd: s.acceptor.vrnd,
    vval: s.acceptor.vval,
    history: s.acceptor.history,
    proposal: s.proposal,
    decided: s.decided,
  };
}

/** Whether the durable part differs (history only grows, so its length tells). */
export function durableChanged(a: FastPaxosState, b: FastPaxosState): boolean {
  return (
    a.acceptor.rnd !== b.acceptor.rnd ||
    a.acceptor.vrnd !== b.acceptor.vrnd ||
    a.acceptor.vval !== b.acceptor.vval ||
    a.acceptor.history.length !== b.acceptor.history.length ||
    a.proposal !== b.proposal ||
    a.decided !== b.decided
  );
}

/** A node is busy with a decision once it has heard of a value or of a classic round. */
export function isActive(s: FastPaxosState): boolean {
  return s.known !== null || s.maxRound >= 1 || s.acceptor.vrnd >= 0;
}
