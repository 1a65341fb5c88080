// Replay protection for authenticated consensus messages (auth.ts): which
// sequence numbers a receiver has already accepted from a sender.
//
// A window per sender *key*, not per sender id: a participant that comes back
// with a new key pair (its host restarted) numbers its messages afresh, and
// those are new messages, never replays of the old key's. Messages sealed
// under the old key can no longer pass the MAC check, so the old key's window
// guards nothing and is replaced: one window per sender, however many times
// it restarts.
//
// A window is the highest number accepted plus a bitmap of the WINDOW numbers
// below it (as IPsec's anti-replay window), so its size is fixed whatever the
// round's length: a message more than WINDOW behind the newest is refused (its
// sender's messages reach a host in order, one stream, so that only happens to
// a replay). It is small enough to persist with the round's state, so a
// receiver that reloads the round refuses what it accepted before.
import type { NodeId } from './protocol.ts';

/** How far behind the newest accepted number a message may still be accepted (once). */
export const WINDOW = 32;

export interface SeqWindow {
  /** The highest number accepted (−1: none yet). */
  readonly top: number;
  /** Bit i set: number top − i was accepted (bit 0 is top itself). */
  readonly mask: number;
}

export const EMPTY_WINDOW: SeqWindow = Object.freeze({ top: -1, mask: 0 });

/** The window with `seq` accepted, or undefined when `seq` was accepted before or is too old to tell. */
export function admit(w: SeqWindow, seq: number): SeqWindow | undefined {
  if (!Number.isSafeInteger(seq) || seq < 0) return undefined;
  if (seq > w.top) {
    const shift = seq - w.top;
    return { top: seq, mask: shift >= WINDOW ? 1 : ((w.mask << shift) | 1) >>> 0 };
  }
  const behind = w.top - seq;
  if (behind >= WINDOW) return undefined;
  const bit = (1 << behind) >>> 0;
  if ((w.mask & bit) !== 0) return undefined;
  return { top: w.top, mask: (w.mask | bit) >>> 0 };
}

/** One sender's window, with the public key it holds for. */
export interface KeyedWindow {
  readonly key: string;
  readonly window: SeqWindow;
}

/** `admit` for a message sealed under `key`: a key other than the window's starts a new window. */
export function admitKeyed(prev: KeyedWindow | undefined, key: string, seq: number): KeyedWindow | undefined {
  const window = admit(prev !== undefined && prev.key === key ? prev.window : EMPTY_WINDOW, seq);
  return window === undefined ? undefined : { key, window };
}

/** `top mask key`: what is persisted per sender (a base64 key has no spaces). */
export function encodeWindow(w: KeyedWindow): string {
  return `${w.window.top} ${w.window.mask} ${w.key}`;
}

/** Undefined when the text is not a window `encodeWindow` wrote. */
export function decodeWindow(text: string): KeyedWindow | undefined {
  const m = /^(-1|0|[1-9]\d{0,15}) (0|[1-9]\d{0,9}) (\S{1,200})$/.exec(text);
  if (!m) return undefined;
  const top = Number(m[1]);
  const mask = Number(m[2]);
  if (!Number.isSafeInteger(top) || mask > 0xffffffff || (top < 0 && mask !== 0)) return undefined;
  return { key: m[3]!, window: { top, mask } };
}

/**
 * The windows of every sender one receiver hears (a host's seats of a round
 * share one: a sender's messages to that host form one sequence, whichever
 * seat checks their MAC). At most one window per sender.
 */
export class ReplayGuard {
  private readonly windows = new Map<NodeId, KeyedWindow>();

  constructor(restored: Iterable<[NodeId, KeyedWindow]> = []) {
    for (const [from, w] of restored) this.windows.set(from, w);
  }

  /** Accepts message `seq` of `from` sealed under `key`, once; false: a replay. */
  admit(from: NodeId, key: string, seq: number): boolean {
    const next = admitKeyed(this.windows.get(from), key, seq);
    if (next === undefined) return false;
    this.windows.set(from, next);
    return true;
  }

  /** The sender's window as it is now (to persist after a message was admitted). */
  windowOf(from: NodeId): KeyedWindow | undefined {
    return this.windows.get(from);
  }

  get size(): number {
    return this.windows.size;
  }
}
