// A keyed task's limits at its start and end, swarm-wide (admitKeyed-6.lua,
// releaseKeyed-3.lua, renewKeyed-1.lua, holdKey-1.lua, readKey-6.lua): the
// typed wrappers, one a script. The key's state is in its own slot (keys.ts keyStateKeys).
import type { Cluster, Redis } from 'ioredis';
import { keyStateKeyList, keyStateKeys } from './keys.ts';
import { scripts } from './scripts.ts';

export type AdmitVerdict = 'ok' | 'hold' | 'active' | 'rate';

export interface AdmitRequest {
  prefix: string;
  key: string;
  taskId: string;
  /** Attempts made before this one (BullMQ's attemptsMade): a retry is a new start for the rate. */
  attempt: number;
  leaseMs: number;
  /** The node whose queue the task is in, so a held task can be brought back. */
  node: string;
}

/** ok; hold and rate: come back in delayMs; active: held, with `held` tasks of the key held now (this one included). */
export type Admitted = { verdict: 'ok' | 'hold' | 'rate'; delayMs: number } | { verdict: 'active'; held: number };

export async function admitKeyed(redis: Redis | Cluster, r: AdmitRequest): Promise<Admitted> {
  const reply = (await scripts.admitKeyed.run(redis, keyStateKeyList(r.prefix, r.key), [r.taskId, r.attempt, r.leaseMs, r.node])) as [string, number];
  const verdict = reply[0];
  if (verdict === 'active') return { verdict, held: Number(reply[1]) };
  if (verdict !== 'ok' && verdict !== 'hold' && verdict !== 'rate') throw new Error(`admitKeyed answered ${String(verdict)}`);
  return { verdict, delayMs: Number(reply[1]) };
}

/** A held task handed a slot: its node and id. */
export interface HeldTask {
  node: string;
  id: string;
}

export function parseHeld(entry: string): HeldTask | undefined {
  const bar = entry.indexOf('|');
  return bar > 0 ? { node: entry.slice(0, bar), id: entry.slice(bar + 1) } : undefined;
}

/** Frees `taskId`'s slot ('' for none) and hands out up to `most` held tasks the key now has room for. */
export async function releaseKeyed(redis: Redis | Cluster, r: { prefix: string; key: string; taskId: string; most: number }): Promise<HeldTask[]> {
  const k = keyStateKeys(r.prefix, r.key);
  const reply = (await scripts.releaseKeyed.run(redis, [k.limits, k.active, k.held], [r.taskId, r.most])) as string[];
  return reply.map(parseHeld).filter((h): h is HeldTask => h !== undefined);
}

/** Renews the leases of these running tasks of the key; resolves with how many still held a slot. */
export async function renewKeyed(redis: Redis | Cluster, r: { prefix: string; key: string; taskIds: readonly string[]; leaseMs: number }): Promise<number> {
  if (!r.taskIds.length) return 0;
  return Number(await scripts.renewKeyed.run(redis, [keyStateKeys(r.prefix, r.key).active], [r.leaseMs, ...r.taskIds]));
}

/** Holds the key's tasks for `ms` on every host; resolves with when the hold ends (ms, Redis's clock). */
export async function holdKey(redis: Redis | Cluster, r: { prefix: string; key: string; ms: number }): Promise<number> {
  return Number(await scripts.holdKey.run(redis, [keyStateKeys(r.prefix, r.key).state], [Math.max(0, Math.ceil(r.ms))]));
}

export interface KeyRead {
  /** Redis's clock at the read (ms). */
  now: number;
  limits: Record<string, string>;
  active: number;
  waiting: number;
  held: number;
  /** Starts in the rate window now (0 without a rate). */
  startsInWindow: number;
  state: Record<string, string>;
}

function pairs(flat: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(flat)) return out;
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
  return out;
}

export async function readKey(redis: Redis | Cluster, r: { prefix: string; key: string }): Promise<KeyRead> {
  const reply = (await scripts.readKey.run(redis, keyStateKeyList(r.prefix, r.key), [])) as unknown[];
  return {
    now: Number(reply[0]),
    limits: pairs(reply[1]),
    active: Number(reply[2]),
    waiting: Number(reply[3]),
    held: Number(reply[4]),
    startsInWindow: Number(reply[5]),
    state: pairs(reply[6]),
  };
}
