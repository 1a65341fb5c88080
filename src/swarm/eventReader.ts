// Reads the swarm's event stream on a connection of its own (XREAD BLOCK holds
// a connection for as long as it waits), in order, from a resume point, and
// hands each parsed event on. Used by SwarmClient.on and GET /api/events.
import { duplicateClient, type RedisClient } from '../../queues/redisTarget.ts';
import { swarmKeys } from '../../queues/keys.ts';
import { StopSignal } from '../../queues/connection.ts';
import type { SwarmEvent, SwarmEventType } from './eventSchemas.ts';
import { parseEventEntry, type StreamEntry } from './events.ts';

export interface EventReaderOptions {
  /** Any connection to the swarm's Redis: the reader opens a duplicate of it, and closes that. */
  redis: RedisClient;
  prefix: string;
  /** `$`: only events written after the reader starts (default); `0`: every retained event; an entry id: the events after it. */
  from?: string;
  /** Only these types (default: all). */
  types?: ReadonlySet<SwarmEventType>;
  onEvent(event: SwarmEvent): void;
  /** An entry no schema accepts (written by another version, or by hand): skipped. */
  onInvalid?(id: string, reason: string): void;
  /** Redis errors while reading; the reader keeps trying until closed. */
  onError?(err: Error): void;
  /** How long one XREAD blocks; bounds how late close() is noticed by a server that ignores the disconnect. */
  blockMs?: number;
}

const BATCH = 500;

export class EventReader {
  /** Resolves once the resume point is fixed: an event published after it is delivered. */
  readonly ready: Promise<void>;
  private readonly conn: RedisClient;
  private readonly key: string;
  private cursor = '$';
  private closed = false;
  private readonly halt = new StopSignal();
  private readonly loop: Promise<void>;

  constructor(private readonly o: EventReaderOptions) {
    this.key = swarmKeys(o.prefix).events;
    this.conn = duplicateClient(o.redis, { lazyConnect: false, maxRetriesPerRequest: null, enableOfflineQueue: true, connectionName: 'swarmq:events' });
    this.conn.on('error', (err: Error) => o.onError?.(err));
    this.ready = this.resolveStart(o.from ?? '$');
    this.loop = this.ready.then(() => this.run()).catch((err: Error) => {
      if (!this.closed) o.onError?.(err);
    });
  }

  /** The id of the last event delivered (or the start point): where a reconnecting reader resumes. */
  get position(): string {
    return this.cursor;
  }

  // `$` is turned into the current last id once, so no event falls between two blocking reads.
  private async resolveStart(from: string): Promise<void> {
    if (from !== '$') {
      this.cursor = from;
      return;
    }
    const last = ((await this.halt.race(this.conn.xrevrange(this.key, '+', '-', 'COUNT', 1))) ?? []) as StreamEntry[];
    this.cursor = last[0]?.[0] ?? '0-0';
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      let res: [string, StreamEntry[]][] | null | undefined;
      try {
        res = (await this.halt.race(this.conn.xread('COUNT', BATCH, 'BLOCK', this.o.blockMs ?? 5000, 'STREAMS', this.key, this.cursor))) as [string, StreamEntry[]][] | null | undefined;
        if (this.closed) return;
      } catch (err) {
        if (this.closed) return;
        this.o.onError?.(err as Error);
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      for (const entry of res?.[0]?.[1] ?? []) {
        if (this.closed) return;
        this.cursor = entry[0];
        const parsed = parseEventEntry(entry);
        if (!parsed.ok) this.o.onInvalid?.(parsed.id, parsed.reason);
        else if (!this.o.types || this.o.types.has(parsed.event.type)) this.o.onEvent(parsed.event);
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.halt.stop();
    this.conn.disconnect();
    await this.loop;
  }
}
