// A host's side of keys' limits: before a keyed task starts, its key is asked
// (admitKeyed-6.lua, one round trip, atomic for the whole swarm); when it ends,
// its slot is freed and tasks held for a slot are brought back; while it runs,
// its slot's lease is renewed as BullMQ renews its lock, so a host that dies
// frees its slots (at once for a task that runs again, which keeps its slot;
// after the lease otherwise). A processor, or an HTTP agent's 429, holds its
// key for every host (holdKey-1.lua).
//
// While a key is well below its limits, the key lends this host a pool of
// slots and rate tokens (leaseKeyed-6.lua, what to ask and take decided by
// src/keys/keyPool.ts), and most starts here take from it with no round trip;
// the pool is confirmed every POOL_REFRESH_MS while in use, and a start from it
// is allowed only POOL_VALID_MS after the last confirmation was sent.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Queue } from 'bullmq';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { admitKeyed, holdKey, releaseKeyed, renewKeyed } from '../../queues/keyState.ts';
import { leaseKeyed } from '../../queues/keyLease.ts';
import { applyAnswer, emptyPool, endStart, failedAsk, newPool, nextAsk, POOL_MIN_LIMIT, POOL_REFRESH_MS, POOL_SHARE, POOL_VALID_MS, runningLow, runsFromPool, stopPool, takeStart, type AskWhen, type KeyPool } from '../keys/keyPool.ts';
import { keyStateKeys, nodeQueueName } from '../../queues/keys.ts';
import { bringBack } from '../keys/held.ts';

export type Admission = { admitted: true } | { admitted: false; reason: 'hold' | 'active' | 'rate'; delayMs: number };

/** A task held for a slot comes back after this at the latest (a freed slot brings it back sooner): a release lost with a dead host costs no more. */
export const HELD_RECHECK_MS = 5000;

/** With many held, the recheck spreads out: at most one held task of a key rechecked per this many ms (a freed slot still brings the oldest back at once). */
export const HELD_RECHECK_SPACING_MS = 20;

/** The recheck never waits longer than this. */
export const HELD_RECHECK_MAX_MS = 60_000;

/** How long a task held for a slot waits before it is checked again, with `held` tasks of its key held. */
export function heldRecheckMs(held: number, base = HELD_RECHECK_MS): number {
  return Math.min(HELD_RECHECK_MAX_MS, Math.max(base, held * HELD_RECHECK_SPACING_MS));
}

/** Most held tasks one release brings back. */
const MOST_BROUGHT_BACK = 100;

export interface KeyGateOptions {
  redis: RedisClient;
  prefix: string;
  /** The slot's lease: BullMQ's lock duration. */
  leaseMs: number;
  heldRecheckMs?: number;
  /** This host's id: the lent slots and tokens are named after it. */
  hostId: string;
  /** No pools: every start asks the key (admitKeyed-6.lua). */
  noPools?: boolean;
  onError: (err: Error) => void;
}

export class KeyGate {
  /** key → task id → runs here holding its slot (a task run twice here holds one slot). */
  private readonly running = new Map<string, Map<string, number>>();
  private readonly queues = new Map<string, Queue>();
  private readonly renewer: NodeJS.Timeout;
  /** Releases and lease calls under way, waited for by close. */
  private readonly releasing = new Set<Promise<void>>();
  /** key → what it lent this host. */
  private readonly pools = new Map<string, KeyPool>();
  private readonly pooler: NodeJS.Timeout;
  /** Names of lent slots and tokens: unique to this host's run, so a restart under the same id never takes a slot of its last run for its own. */
  private readonly stem: string;
  private closing = false;

  constructor(private readonly o: KeyGateOptions) {
    this.renewer = setInterval(() => this.renew(), Math.max(50, Math.floor(o.leaseMs / 2)));
    this.renewer.unref();
    this.pooler = setInterval(() => {
      for (const key of [...this.pools.keys()]) this.ask(key, { period: true });
    }, POOL_REFRESH_MS);
    this.pooler.unref();
    this.stem = `~${o.hostId}:${randomBytes(4).toString('hex')}:`;
  }

  /** Whether the task starts from this host's pool for its key, decided at once (no Redis); if not, `admit` asks the key. */
  fromPool(key: string, taskId: string): boolean {
    const pool = this.o.noPools ? undefined : this.pools.get(key);
    if (!pool) return false;
    const now = performance.now();
    const t = takeStart(pool, taskId, now);
    this.pools.set(key, t.pool);
    // A start that found it dry or lapsed wants it: a use, so the ask is not taken for an idle pool's giving back.
    if (!t.pooled && t.pool.dry) this.ask(key, { period: false, wanted: true });
    // Running low at this pace: topped up now, before starts find it dry and each ask the key.
    else if (t.pooled && runningLow(t.pool, now)) this.ask(key, { period: false });
    return t.pooled;
  }

  /** Whether the task may start now, from the pool or asking the key; if not, why and when to ask again. */
  async admit(key: string, taskId: string, attempt: number, node: string): Promise<Admission> {
    if (this.fromPool(key, taskId)) return { admitted: true };
    return await this.admitOne(key, taskId, attempt, node);
  }

  /** Asks the key (admitKeyed-6.lua), as every start did before pools. */
  async admitOne(key: string, taskId: string, attempt: number, node: string): Promise<Admission> {
    const r = await admitKeyed(this.o.redis, { prefix: this.o.prefix, key, taskId, attempt, leaseMs: this.o.leaseMs, node });
    if (r.verdict === 'ok') {
      const ids = this.running.get(key) ?? new Map<string, number>();
      ids.set(taskId, (ids.get(taskId) ?? 0) + 1);
      this.running.set(key, ids);
      if (!this.o.noPools && !this.closing) {
        if (!this.pools.has(key)) this.pools.set(key, newPool(performance.now()));
        this.ask(key, { period: false, wanted: true });
      }
      return { admitted: true };
    }
    if (r.verdict === 'active') return { admitted: false, reason: 'active', delayMs: heldRecheckMs(r.held, this.o.heldRecheckMs) };
    return { admitted: false, reason: r.verdict, delayMs: Math.max(1, r.delayMs) };
  }

  /** The task no longer runs here: its slot is freed and held tasks of the key brought back, off the caller's path. */
  release(key: string, taskId: string): void {
    const pool = this.pools.get(key);
    if (pool && runsFromPool(pool, taskId)) {
      const next = endStart(pool, taskId);
      this.pools.set(key, next);
      // A slot freed while the pool is stopped goes back at once; while it is on, the slot stays here for the next start.
      if (next.giveBack.length > 0) this.ask(key, { period: false });
      return;
    }
    const ids = this.running.get(key);
    const left = (ids?.get(taskId) ?? 1) - 1;
    if (left > 0) {
      ids!.set(taskId, left);
      return;
    }
    ids?.delete(taskId);
    if (ids?.size === 0) this.running.delete(key);
    const done: Promise<void> = releaseKeyed(this.o.redis, { prefix: this.o.prefix, key, taskId, most: MOST_BROUGHT_BACK })
      .then(async (held) => void (await bringBack(held, (node) => this.queueFor(node))))
      .catch((err: Error) => this.o.onError(new Error(`key ${key}: task ${taskId}'s slot not freed (its lease frees it): ${err.message}`)))
      .finally(() => this.releasing.delete(done));
    this.releasing.add(done);
  }

  /** Holds the key's tasks on every host for `ms`; resolves with when the hold ends (ms, Redis's clock). */
  async hold(key: string, ms: number): Promise<number> {
    // This host starts nothing more from its pool at once; the others learn it at their next lease call.
    const pool = this.pools.get(key);
    if (pool) {
      this.pools.set(key, stopPool(pool, performance.now() + ms));
      this.ask(key, { period: false });
    }
    return await holdKey(this.o.redis, { prefix: this.o.prefix, key, ms });
  }

  /** A keyed task that will never start (its type has no processor here and it failed): no longer counted as waiting. */
  forget(key: string, taskId: string): void {
    this.o.redis.zrem(keyStateKeys(this.o.prefix, key).waiting, taskId).catch((err: Error) => this.o.onError(err));
  }

  /** Keyed tasks running here, for tests and drain. */
  runningCount(): number {
    let n = 0;
    for (const ids of this.running.values()) n += ids.size;
    for (const p of this.pools.values()) n += p.busy.size;
    return n;
  }

  /** The key's pool here, for tests. */
  poolOf(key: string): KeyPool | undefined {
    return this.pools.get(key);
  }

  /** Sends the pool's next lease call if one is due (keyPool.ts nextAsk), and applies its answer. */
  private ask(key: string, when: AskWhen): void {
    const pool = this.pools.get(key);
    if (!pool) return;
    const sentAt = performance.now();
    const a = nextAsk(pool, sentAt, this.o.leaseMs, this.closing ? { ...when, closing: true } : when);
    if (!a) {
      if (emptyPool(pool, sentAt)) this.pools.delete(key);
      return;
    }
    this.pools.set(key, a.pool);
    const call: Promise<void> = leaseKeyed(this.o.redis, {
      prefix: this.o.prefix,
      key,
      leaseMs: this.o.leaseMs,
      validMs: POOL_VALID_MS,
      minLimit: POOL_MIN_LIMIT,
      share: POOL_SHARE,
      wantSlots: a.wantSlots,
      wantTokens: a.wantTokens,
      stem: this.stem,
      firstNumber: a.firstNumber,
      kept: a.kept,
      giveBack: a.giveBack,
      unusedTokens: a.unused,
      started: a.started,
    })
      .then(async (reply) => {
        const now = performance.now();
        const cur = this.pools.get(key) ?? a.pool;
        this.pools.set(key, applyAnswer(cur, reply, sentAt, now));
        // Refused, or slots came free: what is idle goes back now.
        if (!this.closing) this.ask(key, { period: false });
        await bringBack(reply.held, (node) => this.queueFor(node));
      })
      .catch((err: Error) => {
        const cur = this.pools.get(key);
        if (cur) this.pools.set(key, failedAsk(cur, a));
        this.o.onError(new Error(`key ${key}: pool not confirmed (its starts go through the key one at a time until it is): ${err.message}`));
      })
      .finally(() => this.releasing.delete(call));
    this.releasing.add(call);
  }

  private renew(): void {
    for (const [key, ids] of this.running) {
      renewKeyed(this.o.redis, { prefix: this.o.prefix, key, taskIds: [...ids.keys()], leaseMs: this.o.leaseMs }).catch((err: Error) => this.o.onError(new Error(`key ${key}: leases not renewed: ${err.message}`)));
    }
  }

  private queueFor(node: string): Queue {
    let q = this.queues.get(node);
    if (!q) {
      q = new Queue(nodeQueueName(node), { connection: this.o.redis, prefix: this.o.prefix });
      q.on('error', (err) => this.o.onError(err));
      this.queues.set(node, q);
    }
    return q;
  }

  async close(): Promise<void> {
    clearInterval(this.renewer);
    clearInterval(this.pooler);
    this.closing = true;
    const waitOut = () => Promise.race([Promise.all(this.releasing), new Promise((r) => setTimeout(r, 2000).unref())]);
    // Calls under way first, then everything lent goes back: what this host holds stops counting against the key at once, not after its lease.
    await waitOut();
    for (const key of [...this.pools.keys()]) this.ask(key, { period: false, closing: true });
    await waitOut();
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
