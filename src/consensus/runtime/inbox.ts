// Reads one inbox stream on a dedicated connection (XREAD BLOCK holds it), and
// hands each batch of entries to a handler, in order. Starts at the current
// end of the stream: items from a previous life of the reader are stale.
import { connectRedis, type RedisClient, type RedisTarget } from '../../../queues/redisTarget.ts';
import { StopSignal } from '../../../queues/connection.ts';
import type { Logger } from '../../log.ts';
import { parseBatch, type InboxItem } from './wire.ts';
import { wallMs } from './trace.ts';

export interface InboxReaderOptions {
  target: RedisTarget;
  key: string;
  name: string;
  logger: Logger;
  /**
   * Items of one XREAD, in stream order; `bad` counts entries or items that
   * failed the schema; `read`: when the XREAD returned and when Redis added
   * its first entry (the entry id's milliseconds), for tracing.
   */
  onItems(items: InboxItem[], bad: number, read: { at: number; firstAddedAt: number }): void;
}

export class InboxReader {
  private readonly conn: RedisClient;
  private running = false;
  private readonly halt = new StopSignal();
  private loop: Promise<void> | undefined;

  constructor(private readonly o: InboxReaderOptions) {
    this.conn = connectRedis(o.target, { maxRetriesPerRequest: null, connectionName: o.name, retryStrategy: (t) => Math.min(50 * 2 ** Math.min(t, 6), 2000) });
    this.conn.on('error', () => {});
  }

  /** Resolves once the reader's position is fixed: anything added from now on will be read. */
  async start(): Promise<void> {
    const [secs, micros] = await this.conn.time();
    // The server's clock, not ours: stream ids are the server's milliseconds.
    let last = `${Number(secs) * 1000 + Math.floor(Number(micros) / 1000) - 1}-0`;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        try {
          const res = (await this.halt.race(this.conn.xread('COUNT', 200, 'BLOCK', 1000, 'STREAMS', this.o.key, last))) as [string, [string, string[]][]][] | null | undefined;
          if (!this.running) break;
          const entries = res?.[0]?.[1] ?? [];
          if (!entries.length) continue;
          const at = wallMs();
          last = entries[entries.length - 1]![0];
          const items: InboxItem[] = [];
          let bad = 0;
          for (const [, fields] of entries) {
            const b = parseBatch(fields);
            items.push(...b.items);
            bad += b.bad;
          }
          this.o.onItems(items, bad, { at, firstAddedAt: Number.parseInt(entries[0]![0], 10) });
        } catch (err) {
          if (!this.running) break;
          this.o.logger.warn({ err: (err as Error).message, inbox: this.o.key }, 'consensus inbox read failed; retrying');
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.halt.stop();
    this.conn.disconnect();
    await this.loop;
  }
}
