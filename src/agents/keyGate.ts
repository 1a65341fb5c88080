// A host's side of keys' limits: before a keyed task starts, its key is asked
// (admitKeyed-6.lua, one round trip, atomic for the whole swarm); when it ends,
// its slot is freed and tasks held for a slot are brought back; while it runs,
// its slot's lease is renewed as BullMQ renews its lock, so a host that dies
// frees its slots (at once for a task that runs again, which keeps its slot;
// after the lease otherwise). A processor, or an HTTP agent's 429, holds its
// key for every host (holdKey-1.lua).
import { Queue } from 'bullmq';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { admitKeyed, holdKey, releaseKeyed, renewKeyed } from '../../queues/keyState.ts';
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
  onError: (err: Error) => void;
}

export class KeyGate {
  /** key → task id → runs here holding its slot (a task run twice here holds one slot). */
  private readonly running = new Map<string, Map<string, number>>();
  private readonly queues = new Map<string, Queue>();
  private readonly renewer: NodeJS.Timeout;
  /** Releases under way, waited for by close. */
  private readonly releasing = new Set<Promise<void>>();

  constructor(private readonly o: KeyGateOptions) {
    this.renewer = setInterval(() => this.renew(), Math.max(50, Math.floor(o.leaseMs / 2)));
    this.renewer.unref();
  }

  /** Whether the task may start now; if not, why and when to ask again. */
  async admit(key: string, taskId: string, attempt: number, node: string): Promise<Admission> {
    const r = await admitKeyed(this.o.redis, { prefix: this.o.prefix, key, taskId, attempt, leaseMs: this.o.leaseMs, node });
    if (r.verdict === 'ok') {
      const ids = this.running.get(key) ?? new Map<string, number>();
      ids.set(taskId, (ids.get(taskId) ?? 0) + 1);
      this.running.set(key, ids);
      return { admitted: true };
    }
    if (r.verdict === 'active') return { admitted: false, reason: 'active', delayMs: heldRecheckMs(r.held, this.o.heldRecheckMs) };
    return { admitted: false, reason: r.verdict, delayMs: Math.max(1, r.delayMs) };
  }

  /** The task no longer runs here: its slot is freed and held tasks of the key brought back, off the caller's path. */
  release(key: string, taskId: string): void {
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
    return n;
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
    await Promise.race([Promise.all(this.releasing), new Promise((r) => setTimeout(r, 2000).unref())]);
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
