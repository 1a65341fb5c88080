// PBFT's sizes and timeouts. Quorums follow Castro & Liskov: n ≥ 3f+1 replicas
// tolerate f = ⌊(n−1)/3⌋ Byzantine ones, and a quorum is 2f+1 when n = 3f+1
// (n = 4: 3; n = 16: 11; n = 100: 67). For other n (5, 6, 8, …) 2f+1 would let
// two quorums meet only in a faulty replica (n = 5, f = 1: two quorums of 3
// share one replica), so the quorum is the smallest size whose pairwise
// intersections hold f+1 replicas, ⌈(n+f+1)/2⌉, which is 2f+1 exactly when
// n = 3f+1.
import type { NodeId, ProtocolOptions, Value } from '../protocol.ts';

/** The largest number of Byzantine replicas n replicas tolerate: ⌊(n−1)/3⌋. */
export function faultTolerance(n: number): number {
  return n < 1 ? 0 : Math.floor((n - 1) / 3);
}

/** Replicas whose matching messages make a certificate: any two quorums share f+1 replicas, so at least one honest one. */
export function quorum(n: number): number {
  return Math.ceil((n + faultTolerance(n) + 1) / 2);
}

/** The primary of a view: peers[view mod n]. */
export function primaryOf(view: number, peers: readonly NodeId[]): NodeId {
  return peers[view % peers.length] as NodeId;
}

/** Knobs a deployment or a test may change; everything else follows from n. */
export interface PbftTuning {
  /** K: a checkpoint every K sequence numbers. Default 10. */
  checkpointInterval?: number;
  /** L: sequence numbers accepted above the low watermark (a multiple of K). Default 2K. */
  logSize?: number;
  /** Ticks a backup waits for a request it knows of to execute before it suspects the primary. Default 2 × electionTicks, 20. */
  requestTimeout?: number;
  /** Ticks a view change may take before the next one; doubled after each failed one, up to 2^maxBackoff times. Default requestTimeout. */
  viewChangeTimeout?: number;
  maxBackoff?: number;
  /** While a replica waits for something, it re-sends its own messages and a STATUS every this many ticks. */
  retransmitTicks?: number;
  /** Executed values kept to bring lagging replicas up to date. Default 256. */
  historyLimit?: number;
  /** Values per STATE message. Default 64. */
  transferLimit?: number;
}

export interface PbftConfig {
  readonly n: number;
  readonly f: number;
  readonly quorum: number;
  readonly checkpointInterval: number;
  readonly logSize: number;
  readonly requestTimeout: number;
  readonly viewChangeTimeout: number;
  readonly maxBackoff: number;
  readonly retransmitTicks: number;
  readonly historyLimit: number;
  readonly transferLimit: number;
  /** Pre-prepared digests remembered per sequence number for view changes (the latest views win). */
  readonly maxPrePrepared: number;
  /** The only value this replica pre-prepares or prepares (undefined: any; null: none; the null request always). See ProtocolOptions.accept. */
  readonly accept?: Value | null;
}

/** Whether a replica with this config may order or prepare `value` (replicated tasks: only its own output; no-ops always). */
export function acceptsValue(config: PbftConfig, value: Value | null): boolean {
  return value === null || config.accept === undefined || config.accept === value;
}

export const DEFAULT_CHECKPOINT_INTERVAL = 10;
export const DEFAULT_ELECTION_TICKS = 10;
export const MAX_BACKOFF = 3;

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`pbft: ${name} must be a positive integer, got ${v}`);
  return v;
}

export function makeConfig(n: number, opts: ProtocolOptions, tuning: PbftTuning = {}): PbftConfig {
  positiveInt('the number of participants', n);
  const K = positiveInt('checkpointInterval', tuning.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL);
  const L = positiveInt('logSize', tuning.logSize ?? 2 * K);
  if (L % K !== 0) throw new RangeError(`pbft: logSize (${L}) must be a multiple of checkpointInterval (${K})`);
  const requestTimeout = positiveInt('requestTimeout', tuning.requestTimeout ?? 2 * (opts.electionTicks ?? DEFAULT_ELECTION_TICKS));
  return {
    n,
    f: faultTolerance(n),
    quorum: quorum(n),
    checkpointInterval: K,
    logSize: L,
    requestTimeout,
    viewChangeTimeout: positiveInt('viewChangeTimeout', tuning.viewChangeTimeout ?? requestTimeout),
    maxBackoff: tuning.maxBackoff ?? MAX_BACKOFF,
    retransmitTicks: positiveInt('retransmitTicks', tuning.retransmitTicks ?? Math.max(2, Math.floor(requestTimeout / 5))),
    historyLimit: positiveInt('historyLimit', tuning.historyLimit ?? 256),
    transferLimit: positiveInt('transferLimit', tuning.transferLimit ?? 64),
    maxPrePrepared: 8,
    ...(opts.accept === undefined ? {} : { accept: opts.accept }),
  };
}
