// The leading coordinator's running count of every node's queue, kept at a cost
// that follows what changes, not the size of the swarm. Each read asks Redis,
// in one XREAD over the nodes' BullMQ event streams, which queues have had any
// event since it last counted them (BullMQ writes one in the same atomic step as
// every add, start, finish, retry and stall, and so do swarmq's own scripts that
// move jobs), and re-counts only those. A slow rolling pass re-counts every node
// once per resyncMs all the same, as a net for whatever writes a queue without
// an event (a user's script, a key deleted by hand).
import { isCluster, type RedisClient } from '../../queues/redisTarget.ts';
import { bullKey } from '../../queues/keys.ts';
import { countsAt, queueCounts, type QueueCounts } from '../../queues/queueCounts.ts';
import type { SwarmConfig } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { NodeView } from '../routing/loads.ts';
import type { Lease } from './lease.ts';
import { LoadsReader, liveHostsOf, nodeViews, type Roster } from './loadsReader.ts';
import { sameCounts, sameHosts } from './loadsSnapshot.ts';
import { readStreams, slotPipeline, type StreamReply } from '../../queues/slotPipeline.ts';
import { addressOf, clocksOf, timeMs } from '../../queues/serverOf.ts';

export interface TrackedLoads {
  /** The leader's clock at the read. */
  at: number;
  roster: Roster;
  rosterVersion: string | null;
  hostBeats: ReadonlyMap<string, number>;
  liveHosts: ReadonlySet<string>;
  counts: ReadonlyMap<string, QueueCounts>;
  /** Moves whenever the roster version, the live hosts or any count moves: what a publisher compares. */
  generation: number;
}

/** What a leader's duty that reads the tracked loads is given (the balancer, the summary). */
export interface TrackedLoadsDuty {
  redis: RedisClient;
  config: SwarmConfig;
  lease: Lease;
  logger: Logger;
  /** The leader's node loads, read now: what moved since the last read, not every queue. */
  loads: (now: number) => Promise<TrackedLoads>;
}

export interface LoadsTrackerOptions {
  redis: RedisClient;
  prefix: string;
  failedAfterMs: number;
  /** Every node is re-counted at least this often, events or not. */
  resyncMs: number;
  onBadRecord?: (what: string, key: string, err: string) => void;
}

export class LoadsTracker {
  private readonly reader: LoadsReader;
  private counts = new Map<string, QueueCounts>();
  /** Per node: the stream id from which an event means its counts may have moved. */
  private readonly cursors = new Map<string, string>();
  private resyncNext = 0;
  /** Nodes the rolling pass owes (a fraction carries over to the next read). */
  private resyncOwed = 0;
  private last: TrackedLoads | undefined;
  private reading: Promise<TrackedLoads> | undefined;

  constructor(private readonly o: LoadsTrackerOptions) {
    this.reader = new LoadsReader(o.redis, o.prefix, o.failedAfterMs, o.onBadRecord);
  }

  /**
   * Reads what moved since the last read; concurrent callers share one read. With
   * `maxAgeMs`, a read that recent is answered as it was, without asking Redis.
   */
  read(now = Date.now(), maxAgeMs = 0): Promise<TrackedLoads> {
    if (this.last && !this.reading && now - this.last.at <= maxAgeMs) return Promise.resolve(this.last);
    this.reading ??= this.tick(now).finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private viewsOf: { generation: number; views: readonly NodeView[] } | undefined;

  /** The nodes as a router sees them, from a read of this tracker: built once per generation (an idle swarm's leader walks no agents). */
  views(t: TrackedLoads): readonly NodeView[] {
    if (this.viewsOf?.generation !== t.generation) this.viewsOf = { generation: t.generation, views: nodeViews(t.roster, (id) => t.counts.get(id), (a) => t.liveHosts.has(a.hostId)) };
    return this.viewsOf.views;
  }

  /**
   * Each server's clock and the first event after each cursor: one pipeline on
   * one server; on a Cluster, where an XREAD's streams must share a slot, every
   * master's TIME beside one XREAD per slot group.
   */
  private async clocksAndEvents(streams: readonly (readonly [string, string])[]): Promise<[Map<string, number>, StreamReply[]]> {
    if (isCluster(this.o.redis)) return await Promise.all([clocksOf(this.o.redis), readStreams(this.o.redis, 1, streams)]);
    const p = this.o.redis.pipeline().time();
    if (streams.length) p.xread('COUNT', 1, 'STREAMS', ...streams.map(([k]) => k), ...streams.map(([, id]) => id));
    const [[, time], read] = failOnError(await p.exec()) as [[unknown, readonly unknown[]], [unknown, StreamReply[] | null]?];
    return [new Map([['', timeMs(time)]]), read?.[1] ?? []];
  }

  private async tick(now: number): Promise<TrackedLoads> {
    const { roster, hostBeats, version } = await this.reader.readRoster();
    const nodeIds = [...roster.nodes.keys()];
    const queueOf = (id: string) => roster.nodes.get(id)!.queue;
    for (const id of this.cursors.keys()) if (!roster.nodes.has(id)) this.cursors.delete(id);

    const watched = nodeIds.filter((id) => this.cursors.has(id));
    const streams = watched.map((id) => bullKey(this.o.prefix, queueOf(id), 'events'));
    const [clocks, read] = await this.clocksAndEvents(streams.map((key, i) => [key, this.cursors.get(watched[i]!)!] as const));

    const recount = new Set(nodeIds.filter((id) => !this.cursors.has(id)));
    const byStream = new Map(streams.map((key, i) => [key, watched[i]!]));
    for (const [stream] of read) {
      const id = byStream.get(stream);
      if (id !== undefined) recount.add(id);
    }
    if (nodeIds.length) {
      // Time-based, so the pass costs the same however often callers read.
      const elapsed = this.last ? Math.max(0, now - this.last.at) : 0;
      this.resyncOwed = Math.min(nodeIds.length, this.resyncOwed + (nodeIds.length * elapsed) / this.o.resyncMs);
      const due = Math.floor(this.resyncOwed);
      this.resyncOwed -= due;
      for (let k = 0; k < due; k++) recount.add(nodeIds[(this.resyncNext + k) % nodeIds.length]!);
      this.resyncNext = (this.resyncNext + due) % nodeIds.length;
    }

    const next = new Map<string, QueueCounts>();
    for (const id of nodeIds) {
      const c = this.counts.get(id);
      if (c) next.set(id, c);
    }
    if (recount.size) {
      const ids = [...recount];
      const q = slotPipeline(this.o.redis);
      for (const id of ids) queueCounts(q, this.o.prefix, queueOf(id));
      const rows = failOnError(await q.exec());
      ids.forEach((id, i) => {
        next.set(id, countsAt(rows, i));
        // The clock of the server holding the node's stream, read before the count: a stream id is never
        // below it, so an event after the count is after the cursor. No clock (a failover under way): no
        // cursor, so the next round counts the node again.
        const clock = clocks.get(addressOf(this.o.redis, bullKey(this.o.prefix, queueOf(id), 'events')) ?? '-');
        if (clock === undefined) this.cursors.delete(id);
        else this.cursors.set(id, `${clock}-0`);
      });
    }

    const liveHosts = liveHostsOf(hostBeats, now, this.o.failedAfterMs);
    const prev = this.last;
    const moved = !prev || prev.rosterVersion !== version || !sameHosts(prev.liveHosts, liveHosts) || !sameCounts(prev.counts, next);
    this.counts = next;
    this.last = {
      at: now,
      roster,
      rosterVersion: version,
      hostBeats,
      liveHosts: moved ? liveHosts : prev.liveHosts,
      counts: moved ? next : prev.counts,
      generation: (prev?.generation ?? 0) + (moved ? 1 : 0),
    };
    return this.last;
  }
}

/** A pipeline's replies, or its first error: a count that failed must not read as zero. */
function failOnError(rows: [Error | null, unknown][] | null): [Error | null, unknown][] {
  if (!rows) throw new Error('pipeline discarded');
  const failed = rows.find(([err]) => err);
  if (failed) throw failed[0]!;
  return rows;
}
