// A host's pool for a key (leaseKeyed-6.lua): the typed wrapper. The key's
// state is in its own slot (keys.ts keyStateKeys), as for admitKeyed.
import type { Cluster, Redis } from 'ioredis';
import { keyStateKeyList } from './keys.ts';
import { parseHeld, type HeldTask } from './keyState.ts';
import { scripts } from './scripts.ts';

export interface LeaseRequest {
  prefix: string;
  key: string;
  /** A lent slot's lease (ms): BullMQ's lock duration, as an admitted task's. */
  leaseMs: number;
  /** How long a lent token may be used after the call is sent (ms). */
  validMs: number;
  /** No pool for a limit below this. */
  minLimit: number;
  /** Lent only while use stays within 1/share of each limit. */
  share: number;
  wantSlots: number;
  wantTokens: number;
  /** Names of new slots and tokens: `<stem><n>` and `<stem>t<n>`, n from `firstNumber`. */
  stem: string;
  firstNumber: number;
  /** Lent slots to renew (and learn whether any lapsed). */
  kept: readonly string[];
  giveBack: readonly string[];
  unusedTokens: readonly string[];
  started: readonly string[];
}

export type LeaseVerdict = 'ok' | 'hold' | 'off' | 'full';

export interface LeaseReply {
  verdict: LeaseVerdict;
  /** For 'hold': ms until it ends. */
  ms: number;
  hasMax: boolean;
  hasRate: boolean;
  slots: string[];
  tokens: string[];
  /** Kept slots whose lease had lapsed: no longer lent. */
  lost: string[];
  /** Held tasks given the room of the slots given back, for the caller to bring back. */
  held: HeldTask[];
}

export async function leaseKeyed(redis: Redis | Cluster, r: LeaseRequest): Promise<LeaseReply> {
  const args: (string | number)[] = [
    r.leaseMs,
    r.validMs,
    r.minLimit,
    r.share,
    r.wantSlots,
    r.wantTokens,
    r.stem,
    r.firstNumber,
    r.kept.length,
    r.giveBack.length,
    r.unusedTokens.length,
    r.started.length,
    ...r.kept,
    ...r.giveBack,
    ...r.unusedTokens,
    ...r.started,
  ];
  const reply = (await scripts.leaseKeyed.run(redis, keyStateKeyList(r.prefix, r.key), args)) as [string, number, number, number, number, number, string[], string[]];
  const verdict = reply[0];
  if (verdict !== 'ok' && verdict !== 'hold' && verdict !== 'off' && verdict !== 'full') throw new Error(`leaseKeyed answered ${String(verdict)}`);
  const slots = Number(reply[4]);
  const tokens = Number(reply[5]);
  return {
    verdict,
    ms: Number(reply[1]),
    hasMax: Number(reply[2]) === 1,
    hasRate: Number(reply[3]) === 1,
    slots: Array.from({ length: slots }, (_, i) => `${r.stem}${r.firstNumber + i}`),
    tokens: Array.from({ length: tokens }, (_, i) => `${r.stem}t${r.firstNumber + slots + i}`),
    lost: reply[6] ?? [],
    held: (reply[7] ?? []).map(parseHeld).filter((h): h is HeldTask => h !== undefined),
  };
}
