// Wakes hibernating nodes: one connection per host blocks on the BullMQ markers
// of every hibernating node's queue at once (the key BullMQ's own workers block
// on), so a node whose Worker is closed still starts work as soon as it arrives.
import { connectRedis, type RedisClient, type RedisTarget } from '../../queues/redisTarget.ts';
import { bullKey, nodeQueueName } from '../../queues/keys.ts';
import { StopSignal } from '../../queues/connection.ts';
import type { Logger } from '../log.ts';
import { slotPipeline } from '../../queues/slotPipeline.ts';

// A safety net under the marker: pending work is re-checked at least this often.
const RECHECK_S = 5;

export class Waker {
  private conn: RedisClient | undefined;
  private clientId: number | undefined;
  private readonly watching = new Set<string>();
  private loop: Promise<void> | undefined;
  private stopped = false;
  private readonly halt = new StopSignal();

  constructor(
    private readonly o: {
      target: RedisTarget;
      /** The host's command connection, used to interrupt the blocking wait. */
      control: RedisClient;
      prefix: string;
      hostId: string;
      onWake: (nodeId: string) => Promise<void>;
      logger: Logger;
    },
  ) {}

  get active(): boolean {
    return this.conn !== undefined;
  }

  watch(nodeId: string): void {
    this.watching.add(nodeId);
    this.interrupt();
    this.loop ??= this.run().finally(() => {
      this.loop = undefined;
    });
  }

  private key(nodeId: string, suffix: string): string {
    return bullKey(this.o.prefix, nodeQueueName(nodeId), suffix);
  }

  /** The set of markers changed: end the current wait so the next one covers it. */
  private interrupt(): void {
    if (this.clientId !== undefined) this.o.control.client('UNBLOCK', this.clientId).catch(() => {});
  }

  private async wake(nodeId: string): Promise<void> {
    this.watching.delete(nodeId);
    try {
      await this.o.onWake(nodeId);
    } catch (err) {
      this.o.logger.error({ node: nodeId, err: (err as Error).message }, 'could not wake node');
    }
  }

  private async run(): Promise<void> {
    this.conn = connectRedis(this.o.target, { maxRetriesPerRequest: null, connectionName: `swarmq:waker:${this.o.hostId}` });
    this.conn.on('error', () => {});
    try {
      this.clientId = Number(await this.halt.race(this.conn.client('ID')));
      while (!this.stopped && this.watching.size) {
        const nodes = [...this.watching];
        // Work that arrived while the node was closing: its marker may be gone already.
        const p = slotPipeline(this.conn);
        for (const n of nodes) p.llen(this.key(n, 'wait')).zcard(this.key(n, 'prioritized'));
        const counts = (await this.halt.race(p.exec())) ?? [];
        if (this.stopped) break;
        const busy = nodes.filter((_, i) => Number(counts[2 * i]?.[1] ?? 0) + Number(counts[2 * i + 1]?.[1] ?? 0) > 0);
        if (busy.length) {
          await Promise.all(busy.map((n) => this.wake(n)));
          continue;
        }
        const markers = nodes.map((n) => this.key(n, 'marker'));
        const hit = await this.halt.race(this.conn.bzpopmin(...markers, RECHECK_S));
        if (!hit || this.stopped) continue;
        const [key, member, score] = hit;
        // Put the marker back for the Worker we are about to start.
        await this.halt.race(this.conn.zadd(key, score, member));
        const node = nodes[markers.indexOf(key)];
        if (node) await this.wake(node);
      }
    } catch (err) {
      if (!this.stopped) this.o.logger.error({ err: (err as Error).message }, 'waker stopped on an error; hibernating nodes are woken by the periodic check');
    } finally {
      this.clientId = undefined;
      this.conn.disconnect();
      this.conn = undefined;
    }
  }

  unwatch(nodeId: string): void {
    if (this.watching.delete(nodeId)) this.interrupt();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.interrupt();
    this.halt.stop();
    await this.loop;
  }
}
