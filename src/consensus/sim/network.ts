// The simulated network: messages in flight, each due at a tick. Faults that
// happen on the way (drop, duplicate, delay) are drawn when a message is sent;
// faults at the far end (receiver down, partition) are judged at delivery,
// because that is when a real link would fail.
import type { NodeId } from '../protocol.ts';
import { MAX_DELAY_TICKS, type FaultProfile } from './faults.ts';
import type { RunRandom } from './random.ts';

export interface Envelope {
  /** Unique per run, in send order: identifies copies in the trace. */
  id: number;
  from: NodeId;
  to: NodeId;
  /** The message as it crossed the wire (JSON text), or undefined when it could not be serialized (garbage: rejected at delivery). */
  wire: string | undefined;
  sentAt: number;
  deliverAt: number;
  duplicate: boolean;
}

export type SendFate = { kind: 'dropped' } | { kind: 'queued'; copies: Envelope[] };

export class Network {
  /** In-flight messages by the tick they are due: a delivery looks at the due buckets only, not at everything in flight. */
  private readonly buckets = new Map<number, Envelope[]>();
  private count = 0;
  private nextId = 0;

  get size(): number {
    return this.count;
  }

  /**
   * Puts a message on the wire. Delays are ≥ 1 tick, so a message sent while
   * tick t's messages are being delivered is never due before t+1: each tick's
   * delivery phase ends.
   */
  send(from: NodeId, to: NodeId, wire: string | undefined, now: number, profile: FaultProfile, rng: RunRandom): SendFate {
    if (rng.chance(profile.drop)) return { kind: 'dropped' };
    const copies: Envelope[] = [];
    const copiesCount = rng.chance(profile.duplicate) ? 2 : 1;
    for (let i = 0; i < copiesCount; i++) {
      const fast = Math.max(1, profile.maxDelay);
      const delay = rng.chance(profile.slow) ? rng.int(fast, Math.max(fast, MAX_DELAY_TICKS)) : rng.int(1, fast);
      const env: Envelope = { id: this.nextId++, from, to, wire, sentAt: now, deliverAt: now + delay, duplicate: i > 0 };
      const bucket = this.buckets.get(env.deliverAt);
      if (bucket) bucket.push(env);
      else this.buckets.set(env.deliverAt, [env]);
      this.count++;
      copies.push(env);
    }
    return { kind: 'queued', copies };
  }

  /** Removes and returns one message due by `now`, chosen uniformly among them (reordering), or undefined when none is due. */
  takeDue(now: number, rng: RunRandom): Envelope | undefined {
    // Buckets in ascending tick order, so the choice does not depend on the order buckets were created in.
    const due = [...this.buckets.keys()].filter((t) => t <= now).sort((a, b) => a - b);
    let total = 0;
    for (const t of due) total += (this.buckets.get(t) as Envelope[]).length;
    if (total === 0) return undefined;
    let at = total === 1 ? 0 : rng.int(0, total - 1);
    for (const t of due) {
      const bucket = this.buckets.get(t) as Envelope[];
      if (at >= bucket.length) {
        at -= bucket.length;
        continue;
      }
      const env = bucket[at] as Envelope;
      // Swap-remove: the bucket's order carries no meaning, picks are uniform anyway.
      bucket[at] = bucket[bucket.length - 1] as Envelope;
      bucket.pop();
      if (bucket.length === 0) this.buckets.delete(t);
      this.count--;
      return env;
    }
    return undefined;
  }
}

/** A split of the nodes in two; messages across it are lost until `until`. */
export interface Partition {
  side: ReadonlySet<NodeId>;
  until: number;
}

/** True when a and b are on different sides. Pure. */
export function separated(p: Partition | null, a: NodeId, b: NodeId): boolean {
  return p !== null && p.side.has(a) !== p.side.has(b);
}
