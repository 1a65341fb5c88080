// A PBFT replica's state: the durable part (what an honest replica must never
// forget, persisted before any message that depends on it leaves) and the
// volatile part (vote tallies, timers, what it heard from others), rebuilt
// empty after a restart and refilled by retransmission.
import type { Tally } from '../tally.ts';
import { z } from 'zod';
import { describeIssues } from '../../validation.ts';
import type { NodeId, ProtocolOptions, Value } from '../protocol.ts';
import { makeConfig, type PbftConfig, type PbftTuning } from './config.ts';
import { GENESIS_DIGEST, type Digest } from './digest.ts';
import { checkpointRefSchema, viewChangeBodySchema, type CheckpointRef, type Install, type MessageOf, type ViewChangeBody } from './messages.ts';

/** A pre-prepare as a replica holds it: value null is the null request. */
export interface Ordering {
  readonly view: number;
  readonly digest: Digest;
  readonly value: Value | null;
}

/** What this replica did for one sequence number above its stable checkpoint. */
export interface LogEntry {
  /** The latest pre-prepare it accepted (as primary: sent; as backup: answered with PREPARE). */
  readonly accepted?: Ordering;
  /** P: the latest view in which it prepared the number (and sent COMMIT), with what. */
  readonly prepared?: Ordering;
  /** Q: digest → the latest view in which it pre-prepared that digest for this number. */
  readonly prePrepared: Readonly<Record<Digest, number>>;
}

export interface Durable {
  /** The current view; while `active` is false, the view this replica is changing to. */
  readonly view: number;
  readonly active: boolean;
  /** Last sequence number executed, the state digest there, and how many real (non-null) requests were executed: the next decision's slot. */
  readonly lastExec: number;
  readonly execDigest: Digest;
  readonly executedCount: number;
  /** The stable checkpoint: the low watermark. */
  readonly stable: CheckpointRef;
  /** Its own checkpoints above the stable one (seq → state digest). */
  readonly checkpoints: Readonly<Record<string, Digest>>;
  /** seq → LogEntry, for stable.seq < seq ≤ stable.seq + L. */
  readonly log: Readonly<Record<string, LogEntry>>;
  /** The new view it installed for `view` (null in view 0), kept to echo to replicas that missed it. */
  readonly newView: Install | null;
  /** The VIEW-CHANGE it sent for `view` while not active. */
  readonly viewChange: ViewChangeBody | null;
  /** The last executed requests (the service state's recent past), to bring lagging replicas up to date, even after a restart. */
  readonly history: History;
}

export interface SlotVotes {
  /** First PREPARE / COMMIT digest from each replica, for the tallies' view. */
  readonly prepares: Tally;
  readonly commits: Tally;
  /** Committed-local in the tallies' view: executable once everything before it has executed. */
  readonly committed?: Ordering;
}

export interface Timers {
  /** Ticks spent waiting for a known request to execute (backups). */
  readonly request: number;
  /** Ticks spent in the current view change since a quorum joined it. */
  readonly viewChange: number;
  readonly retransmit: number;
  /** View changes since the last execution: the view-change timeout is multiplied by 2^backoff. */
  readonly backoff: number;
}

export interface HistoryEntry {
  readonly value: Value | null;
  /** The request digest, and the state digest and count of real requests after executing it. */
  readonly digest: Digest;
  readonly state: Digest;
  readonly count: number;
}

/** Recently executed requests: entries[i] is sequence number base + 1 + i. */
export interface History {
  readonly base: number;
  readonly baseDigest: Digest;
  readonly baseCount: number;
  readonly entries: readonly HistoryEntry[];
}

export interface StoredViewChange {
  readonly digest: Digest;
  readonly body: ViewChangeBody;
}

export type StateMessage = MessageOf<'state'>;
export type NewViewMessage = MessageOf<'new-view'>;

export interface PbftState {
  readonly self: NodeId;
  readonly peers: readonly NodeId[];
  readonly config: PbftConfig;
  readonly durable: Durable;
  /** Votes for the view `talliesView` (also gathered while changing to it). */
  readonly talliesView: number;
  readonly slots: Readonly<Record<string, SlotVotes>>;
  /** Client requests this replica knows of and has not executed, by digest, in arrival order. */
  readonly requests: Readonly<Record<Digest, Value>>;
  readonly timers: Timers;
  /** The latest valid view change from each replica. */
  readonly viewChanges: Readonly<Record<NodeId, StoredViewChange>>;
  /** acker → view → (replica whose view change it holds → digest): a few views per acker. */
  readonly acks: Readonly<Record<NodeId, Readonly<Record<string, Readonly<Record<NodeId, Digest>>>>>>;
  /** A NEW-VIEW waiting for the view changes (or acknowledgements) that let this replica check it. */
  readonly pendingNewView: NewViewMessage | null;
  /** The latest new-view echo from each replica, with its digest. */
  readonly echoes: Readonly<Record<NodeId, { readonly digest: Digest; readonly install: Install }>>;
  /** seq → (replica → state digest) from CHECKPOINT messages (and STATUS), above the stable checkpoint. */
  readonly checkpointVotes: Readonly<Record<string, Readonly<Record<NodeId, Digest>>>>;
  /** Each replica's latest claim of where it executed to. */
  readonly execClaims: Readonly<Record<NodeId, CheckpointRef>>;
  /** The latest STATE answer from each replica, until it is used or stale. */
  readonly transfers: Readonly<Record<NodeId, StateMessage>>;
  /** Something said this replica is behind (a higher view, sequence number or checkpoint): ask for a status exchange. */
  readonly behind: boolean;
}

function emptyDurable(): Durable {
  return {
    view: 0,
    active: true,
    lastExec: 0,
    execDigest: GENESIS_DIGEST,
    executedCount: 0,
    stable: { seq: 0, digest: GENESIS_DIGEST },
    checkpoints: {},
    log: {},
    newView: null,
    viewChange: null,
    history: { base: 0, baseDigest: GENESIS_DIGEST, baseCount: 0, entries: [] },
  };
}

function checkPeers(self: NodeId, peers: readonly NodeId[]): void {
  if (!peers.includes(self)) throw new Error(`pbft: ${self} is not among the peers`);
  if (new Set(peers).size !== peers.length) throw new Error('pbft: duplicate peer ids');
}

function fromDurable(self: NodeId, peers: readonly NodeId[], config: PbftConfig, durable: Durable, behind: boolean): PbftState {
  return {
    self,
    peers: [...peers],
    config,
    durable,
    talliesView: durable.view,
    slots: {},
    requests: {},
    timers: { request: 0, viewChange: 0, retransmit: 0, backoff: 0 },
    viewChanges: {},
    acks: {},
    pendingNewView: null,
    echoes: {},
    checkpointVotes: {},
    execClaims: {},
    transfers: {},
    behind,
  };
}

export function initPbft(self: NodeId, peers: readonly NodeId[], opts: ProtocolOptions, tuning?: PbftTuning): PbftState {
  checkPeers(self, peers);
  return fromDurable(self, peers, makeConfig(peers.length, opts, tuning), emptyDurable(), false);
}

const digest = z.string().min(1).max(128);
const nat = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const orderingSchema = z.strictObject({ view: nat, digest, value: z.string().nullable() });

/** The persisted form: exactly the Durable part, checked on recovery. */
export const pbftPersistedSchema = z.strictObject({
  view: nat,
  active: z.boolean(),
  lastExec: nat,
  execDigest: digest,
  executedCount: nat,
  stable: checkpointRefSchema,
  checkpoints: z.record(z.string(), digest),
  log: z.record(z.string(), z.strictObject({ accepted: orderingSchema.optional(), prepared: orderingSchema.optional(), prePrepared: z.record(z.string(), nat) })),
  newView: z.strictObject({ view: nat, checkpoint: checkpointRefSchema, prePrepares: z.array(z.strictObject({ seq: nat, digest, value: z.string().nullable() })) }).nullable(),
  viewChange: viewChangeBodySchema.nullable(),
  history: z.strictObject({
    base: nat,
    baseDigest: digest,
    baseCount: nat,
    entries: z.array(z.strictObject({ value: z.string().nullable(), digest, state: digest, count: nat })),
  }),
});

/**
 * A replica restarting from what it persisted. Its tallies, timers and what it
 * heard are gone; it marks itself behind, so its next retransmission asks its
 * peers where they are. Throws on a persisted form that is not one of ours: a
 * Byzantine-tolerant replica must not restart from state it cannot trust.
 */
export function recoverPbft(self: NodeId, peers: readonly NodeId[], opts: ProtocolOptions, persisted: unknown, tuning?: PbftTuning): PbftState {
  checkPeers(self, peers);
  // Even a replica that never persisted anything may have slept through requests: it asks where the others are.
  if (persisted === undefined) return { ...initPbft(self, peers, opts, tuning), behind: true };
  const parsed = pbftPersistedSchema.safeParse(persisted);
  if (!parsed.success) throw new Error(`pbft: persisted state of ${self} is malformed: ${describeIssues(parsed.error)}`);
  const d = parsed.data;
  const log: Record<string, LogEntry> = {};
  for (const [k, e] of Object.entries(d.log)) {
    log[k] = {
      ...(e.accepted ? { accepted: e.accepted } : {}),
      ...(e.prepared ? { prepared: e.prepared } : {}),
      prePrepared: e.prePrepared,
    };
  }
  const durable: Durable = { ...d, log };
  return fromDurable(self, peers, makeConfig(peers.length, opts, tuning), durable, true);
}

/** What goes to durable storage: plain JSON. */
export function persistedOf(state: PbftState): Durable {
  return state.durable;
}
