// One blocking wait over the BullMQ markers of a set of hibernating nodes (the
// key BullMQ's own Workers block on), so a node whose Worker is closed still
// starts work as soon as it arrives. The keys of one wait must share a hash
// slot on a Redis Cluster, so the waker runs one loop per slot group there,
// and one for all on a single server. The wait also covers a "bell" key in the
// same slot: ringing it (ZADD from any connection) ends the wait, so the next
// one covers nodes that hibernated meanwhile. No CLIENT UNBLOCK: a client id is
// per master on a Cluster, and a host needs no right to unblock others.
import { bullKey, nodeQueueName } from '../../queues/keys.ts';
import { StopSignal } from '../../queues/connection.ts';
import type { RedisClient } from '../../queues/redisTarget.ts';
import type { Logger } from '../log.ts';

// A safety net under the marker: pending work is re-checked at least this often.
const RECHECK_S = 5;
// The bell outlives a host that died holding it by no more than this.
const BELL_TTL_MS = 60_000;

export interface WakerLoopOptions {
  prefix: string;
  /** The bell this loop's wait covers (a key in the slot of every marker it waits on). */
  bell: string;
  /** Opens the loop's own connection: a blocking wait holds it. */
  connect: () => RedisClient;
  /** The host's command connection, to ring the bell on. */
  control: RedisClient;
  onWake: (nodeId: string) => Promise<void>;
  logger: Logger;
}

export class WakerLoop {
  private conn: RedisClient | undefined;
  private readonly watching = new Set<string>();
  private loop: Promise<void> | undefined;
  private readonly halt = new StopSignal();

  constructor(private readonly o: WakerLoopOptions) {}

  get active(): boolean {
    return this.conn !== undefined;
  }

  watch(nodeId: string): void {
    this.watching.add(nodeId);
    this.ring();
    this.start();
  }

  private start(): void {
    this.loop ??= this.run().finally(() => {
      this.loop = undefined;
      // A node watched while the loop was leaving (it had seen none left).
      if (this.watching.size && !this.halt.stopped) this.start();
    });
  }

  unwatch(nodeId: string): void {
    if (this.watching.delete(nodeId)) this.ring();
  }

  async stop(): Promise<void> {
    this.halt.stop();
    await this.loop;
    await this.o.control.del(this.o.bell).catch(() => {});
  }

  private key(nodeId: string, suffix: string): string {
    return bullKey(this.o.prefix, nodeQueueName(nodeId), suffix);
  }

  /** The set of markers changed: end the current wait so the next one covers it. */
  private ring(): void {
    if (this.conn === undefined) return;
    this.o.control
      .multi()
      .zadd(this.o.bell, Date.now(), 'ring')
      .pexpire(this.o.bell, BELL_TTL_MS)
      .exec()
      .catch(() => {});
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
    const conn = this.o.connect();
    this.conn = conn;
    conn.on('error', () => {});
    try {
      while (!this.halt.stopped && this.watching.size) {
        const nodes = [...this.watching];
        // Work that arrived while the node was closing: its marker may be gone already. And delayed
        // jobs now due (a retry's backoff, an approval's deadline): the Worker that would have woken for
        // them consumed their marker before it closed, and only a running Worker promotes them.
        const p = conn.pipeline();
        const due = `(${(Date.now() + 1) * 0x1000}`; // BullMQ's delayed score: ms × 0x1000 + a counter
        for (const n of nodes) p.llen(this.key(n, 'wait')).zcard(this.key(n, 'prioritized')).zcount(this.key(n, 'delayed'), '-inf', due);
        const counts = (await this.halt.race(p.exec())) ?? [];
        if (this.halt.stopped) break;
        const busy = nodes.filter((_, i) => [0, 1, 2].some((j) => Number(counts[3 * i + j]?.[1] ?? 0) > 0));
        if (busy.length) {
          await Promise.all(busy.map((n) => this.wake(n)));
          continue;
        }
        const markers = nodes.map((n) => this.key(n, 'marker'));
        const hit = await this.halt.race(conn.bzpopmin(...markers, this.o.bell, RECHECK_S));
        if (!hit || this.halt.stopped) continue;
        const [key, member, score] = hit;
        const node = nodes[markers.indexOf(key)];
        if (node === undefined) continue; // the bell: watch again with the nodes as they are now
        // Put the marker back for the Worker we are about to start.
        await this.halt.race(conn.zadd(key, score, member));
        await this.wake(node);
      }
    } catch (err) {
      if (!this.halt.stopped) this.o.logger.error({ err: (err as Error).message }, 'waker stopped on an error; a node hibernating here wakes when it is watched again');
    } finally {
      this.conn = undefined;
      conn.disconnect();
    }
  }
}
