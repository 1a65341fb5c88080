// Everything one pass over a host's pending inputs produced, written in one
// MULTI: first the cores' `persist` records, decisions and replay state,
// then the counters, then one XADD per destination inbox. Redis applies a MULTI in order and the
// AOF holds it in that order, so no message is ever visible (or survives a
// crash of Redis) without the state it was sent from: the contract's
// "persist before send". Items for this host's own agents skip Redis and are
// handed back once the MULTI has succeeded.
import type { SpecRejection } from './roundProof.ts';
import type { RedisClient } from '../../../queues/redisTarget.ts';
import type { Rejection } from '../auth.ts';
import { INBOX_MAXLEN, ROUND_KEEP_SECONDS, type ConsensusKeys } from './keys.ts';
import { BATCH_FIELD, type InboxItem } from './wire.ts';
import { tracing, wallMs } from './trace.ts';

export type DropReason = Rejection | 'not-addressed' | SpecRejection;

export class Outbox {
  private readonly persists = new Map<string, Map<string, string>>();
  private readonly decisions = new Map<string, Map<string, string>>();
  private readonly replays = new Map<string, { fields: Map<string, string>; keepUntil: number }>();
  private readonly rejections = new Map<string, Map<DropReason, number>>();
  private readonly stats = new Map<string, number>();
  private readonly items = new Map<string, InboxItem[]>();
  /** With tracing: when each round's first decision of this pass was taken. */
  readonly firstDecisionAt = new Map<string, number>();
  /** With tracing: bytes of the last flush's values (state, decisions, replay state, inbox entries). */
  bytes = 0;
  /** With tracing: items sent per round. */
  readonly sentTo = new Map<string, number>();
  /** Rounds this pass changed: if the write fails, their in-memory state ran ahead of Redis. */
  readonly touched = new Set<string>();

  constructor(
    private readonly keys: ConsensusKeys,
    private readonly selfInbox: string,
    private readonly hostId: string,
  ) {}

  persist(round: string, agent: string, record: unknown): void {
    this.touched.add(round);
    const m = this.persists.get(round) ?? new Map<string, string>();
    m.set(agent, JSON.stringify(record));
    this.persists.set(round, m);
  }

  decide(round: string, agent: string, record: unknown): void {
    this.touched.add(round);
    const m = this.decisions.get(round) ?? new Map<string, string>();
    m.set(agent, JSON.stringify(record));
    this.decisions.set(round, m);
    if (tracing && !this.firstDecisionAt.has(round)) this.firstDecisionAt.set(round, wallMs());
  }

  /**
   * A field of this host's replay state of the round (replayState.ts), kept
   * until `keepUntil` (this host's clock, ms): only as long as the host may
   * still load the round.
   */
  remember(round: string, field: string, value: string, keepUntil: number): void {
    this.touched.add(round);
    const r = this.replays.get(round) ?? { fields: new Map<string, string>(), keepUntil };
    r.fields.set(field, value);
    r.keepUntil = Math.max(r.keepUntil, keepUntil);
    this.replays.set(round, r);
  }

  reject(round: string, why: DropReason): void {
    const m = this.rejections.get(round) ?? new Map<DropReason, number>();
    m.set(why, (m.get(why) ?? 0) + 1);
    this.rejections.set(round, m);
  }

  count(stat: string, n = 1): void {
    if (n > 0) this.stats.set(stat, (this.stats.get(stat) ?? 0) + n);
  }

  send(inbox: string, item: InboxItem): void {
    const list = this.items.get(inbox) ?? [];
    list.push(item);
    if (tracing) {
      const round = 'round' in item ? item.round : (item.env as { round?: unknown } | null)?.round;
      if (typeof round === 'string') this.sentTo.set(round, (this.sentTo.get(round) ?? 0) + 1);
    }
    this.items.set(inbox, list);
  }

  /** Inboxes of other processes this pass writes to (one XADD each). */
  get destinations(): number {
    return [...this.items.keys()].filter((k) => k !== this.selfInbox).length;
  }

  get empty(): boolean {
    return !this.persists.size && !this.decisions.size && !this.replays.size && !this.rejections.size && !this.stats.size && !this.items.size;
  }

  /** Writes everything in one MULTI; returns the items for this host's own inbox, to be handled next. */
  async flush(redis: RedisClient): Promise<InboxItem[]> {
    const local = this.items.get(this.selfInbox) ?? [];
    this.items.delete(this.selfInbox);
    if (this.empty) return local;
    const m = redis.multi();
    const expire = new Set<string>();
    for (const [round, fields] of this.persists) {
      m.hset(this.keys.state(round), Object.fromEntries(fields));
      expire.add(this.keys.state(round));
    }
    for (const [round, fields] of this.decisions) {
      m.hset(this.keys.decided(round), Object.fromEntries(fields));
      expire.add(this.keys.decided(round));
    }
    for (const [round, { fields, keepUntil }] of this.replays) {
      const key = this.keys.replay(round, this.hostId);
      m.hset(key, Object.fromEntries(fields));
      // Relative, from this host's clock: the same clock that decides whether it may still load the round.
      m.pexpire(key, Math.max(1000, Math.ceil(keepUntil - Date.now())));
    }
    for (const [round, reasons] of this.rejections) {
      for (const [why, n] of reasons) m.hincrby(this.keys.rejected(round), why, n);
      expire.add(this.keys.rejected(round));
    }
    for (const [stat, n] of this.stats) m.hincrby(this.keys.stats, stat, n);
    for (const k of expire) m.expire(k, ROUND_KEEP_SECONDS);
    for (const [inbox, items] of this.items) {
      const entry = JSON.stringify(items);
      if (tracing) this.bytes += entry.length;
      m.xadd(inbox, 'MAXLEN', '~', String(INBOX_MAXLEN), '*', BATCH_FIELD, entry);
    }
    if (tracing) for (const fields of [...this.persists.values(), ...this.decisions.values(), ...[...this.replays.values()].map((r) => r.fields)]) for (const [k, v] of fields) this.bytes += k.length + v.length;
    const res = await m.exec();
    const failed = res?.find(([err]) => err);
    if (!res || failed) throw failed?.[0] ?? new Error('the consensus MULTI was discarded');
    return local;
  }
}

/** One item to several inboxes in one MULTI: the hints drivers and proposers send (start, propose, done). */
export async function sendNotice(redis: RedisClient, inboxes: Iterable<string>, item: InboxItem): Promise<void> {
  const m = redis.multi();
  for (const inbox of inboxes) m.xadd(inbox, 'MAXLEN', '~', String(INBOX_MAXLEN), '*', BATCH_FIELD, JSON.stringify([item]));
  await m.exec();
}
