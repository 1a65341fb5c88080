// The working context of one step: a shallow copy of the state whose fields are
// replaced, never mutated in place (the caller's state stays as it was), plus
// the messages and decisions produced so far. Only `step` opens and closes one;
// the other modules are functions over it.
import type { NodeId, Output, Value } from '../protocol.ts';
import { primaryOf } from './config.ts';
import type { PbftMessage } from './messages.ts';
import type { Durable, LogEntry, PbftState, SlotVotes, Timers } from './state.ts';
import { EMPTY_TALLY } from '../tally.ts';

export type Draft = { -readonly [K in keyof PbftState]: PbftState[K] };

export interface Ctx {
  readonly s: Draft;
  readonly send: { to: NodeId | 'all'; message: PbftMessage }[];
  readonly decide: { slot: number; value: Value }[];
  readonly before: Durable;
  /**
   * What a new stable checkpoint sets off: the window opens and the primary may
   * order more (normal.ts's assignRequests). Handed in by `step` so that
   * checkpoints.ts, which normal.ts executes through, need not import normal.ts.
   */
  readonly orderMore: (c: Ctx) => void;
}

export function openCtx(state: PbftState, orderMore: (c: Ctx) => void): Ctx {
  return { s: { ...state }, send: [], decide: [], before: state.durable, orderMore };
}

export function closeCtx(c: Ctx): Output<PbftState, PbftMessage> {
  const state: PbftState = c.s;
  return state.durable !== c.before ? { state, send: c.send, decide: c.decide, persist: state.durable } : { state, send: c.send, decide: c.decide };
}

export function sendTo(c: Ctx, to: NodeId | 'all', message: PbftMessage): void {
  if (to === c.s.self) return;
  c.send.push({ to, message });
}

/** Own property lookup: records keyed by replica ids never fall through to Object.prototype. */
export function own<T>(rec: Readonly<Record<string, T>>, key: string | number): T | undefined {
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}

export function setDurable(c: Ctx, patch: Partial<Durable>): void {
  c.s.durable = { ...c.s.durable, ...patch };
}

export function setTimers(c: Ctx, patch: Partial<Timers>): void {
  c.s.timers = { ...c.s.timers, ...patch };
}

export function logEntry(s: PbftState, seq: number): LogEntry | undefined {
  return own(s.durable.log, seq);
}

export function setLogEntry(c: Ctx, seq: number, entry: LogEntry): void {
  setDurable(c, { log: { ...c.s.durable.log, [seq]: entry } });
}

const NO_VOTES: SlotVotes = { prepares: EMPTY_TALLY, commits: EMPTY_TALLY };

export function votesAt(s: PbftState, seq: number): SlotVotes {
  return own(s.slots, seq) ?? NO_VOTES;
}

export function setVotes(c: Ctx, seq: number, votes: SlotVotes): void {
  c.s.slots = { ...c.s.slots, [seq]: votes };
}

export function isPrimary(s: PbftState): boolean {
  return primaryOf(s.durable.view, s.peers) === s.self;
}

/** Within the watermarks: above the stable checkpoint and at most L above it. */
export function inWindow(s: PbftState, seq: number): boolean {
  return seq > s.durable.stable.seq && seq <= s.durable.stable.seq + s.config.logSize;
}

/** Drops the keys of a seq-keyed record at or below `seq`. */
export function above<T>(rec: Readonly<Record<string, T>>, seq: number): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of Object.entries(rec)) if (Number(k) > seq) out[k] = v;
  return out;
}

/** Number of replicas in `votes` whose vote is `digest`, optionally leaving one out. */
