// One read of what the swarm looks like now, from Redis alone, so every
// process (a coordinator that does not lead, a scraper's target) reports the
// same figures: the roster, heartbeats, failed hosts and each queue's counts.
// The counts are those the leading coordinator publishes (a few commands);
// only while nobody publishes is each queue counted (a cost that grows with nodes).
import type { Redis } from 'ioredis';
import { bullKey, DEAD_LETTER_QUEUE, nodeQueueName, PARKED_NODE, swarmKeys } from '../../queues/keys.ts';
import { LoadsReader, type Roster } from '../coordinator/loadsReader.ts';
import type { NodeCounts } from '../coordinator/loadsSnapshot.ts';
import { PublishedLoads } from '../coordinator/publishedLoads.ts';
import type { TrackedLoads } from '../coordinator/loadsTracker.ts';

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  /** Finished tasks BullMQ still keeps (retention: tasks.keep*Seconds). */
  completed: number;
  failed: number;
}

export interface SwarmState {
  now: number;
  roster: Roster;
  hostBeats: Map<string, number>;
  failedHosts: Set<string>;
  nodes: { id: string; queue: string; counts: QueueCounts }[];
  parked: number;
  deadLetters: number;
}

function countsOf(p: ReturnType<Redis['pipeline']>, prefix: string, queue: string): void {
  p.llen(bullKey(prefix, queue, 'wait'));
  p.zcard(bullKey(prefix, queue, 'prioritized'));
  p.llen(bullKey(prefix, queue, 'active'));
  p.zcard(bullKey(prefix, queue, 'delayed'));
  p.zcard(bullKey(prefix, queue, 'completed'));
  p.zcard(bullKey(prefix, queue, 'failed'));
}
const PER_QUEUE = 6;

/** The counts of the q-th queue countsOf put on a pipeline, from its replies. */
function countsAt(rows: [Error | null, unknown][], q: number): QueueCounts {
  const num = (i: number) => Number(rows[i]?.[1] ?? 0);
  const b = q * PER_QUEUE;
  return { waiting: num(b) + num(b + 1), active: num(b + 2), delayed: num(b + 3), completed: num(b + 4), failed: num(b + 5) };
}

export class SwarmStateReader {
  private readonly rosterReader: LoadsReader;
  private readonly published: PublishedLoads;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.rosterReader = new LoadsReader(redis, prefix, Number.POSITIVE_INFINITY);
    this.published = new PublishedLoads(redis, prefix);
  }

  /** The same from the leader's tracked loads: only the parked and dead-letter queues and the failed hosts are read. */
  async readTracked(t: TrackedLoads): Promise<SwarmState> {
    return await this.withCounts(t.at, t.roster, t.hostBeats, t.counts);
  }

  private async withCounts(now: number, roster: Roster, hostBeats: ReadonlyMap<string, number>, counts: ReadonlyMap<string, NodeCounts>): Promise<SwarmState> {
    const p = this.redis.pipeline();
    countsOf(p, this.prefix, nodeQueueName(PARKED_NODE));
    countsOf(p, this.prefix, DEAD_LETTER_QUEUE);
    p.hkeys(swarmKeys(this.prefix).failedHosts);
    const rows = (await p.exec()) ?? [];
    const parked = countsAt(rows, 0);
    const zero: QueueCounts = { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 };
    return {
      now,
      roster,
      hostBeats: new Map(hostBeats),
      failedHosts: new Set((rows[2 * PER_QUEUE]?.[1] as string[] | undefined) ?? []),
      nodes: [...roster.nodes.values()].map((n) => ({ id: n.id, queue: n.queue, counts: counts.get(n.id) ?? zero })),
      parked: parked.waiting + parked.delayed,
      deadLetters: countsAt(rows, 1).waiting,
    };
  }

  /** The published loads when a coordinator publishes them (a few commands whatever the swarm's size), else every queue counted. */
  async read(): Promise<SwarmState> {
    const now = Date.now();
    const { roster, hostBeats } = await this.rosterReader.readRoster();
    const got = await this.published.fetch();
    if (got) return await this.withCounts(now, roster, hostBeats, got.snapshot.counts);
    const nodes = [...roster.nodes.values()].map((n) => ({ id: n.id, queue: n.queue }));
    const p = this.redis.pipeline();
    for (const n of nodes) countsOf(p, this.prefix, n.queue);
    countsOf(p, this.prefix, nodeQueueName(PARKED_NODE));
    countsOf(p, this.prefix, DEAD_LETTER_QUEUE);
    p.hkeys(swarmKeys(this.prefix).failedHosts);
    const rows = (await p.exec()) ?? [];
    const counts = (q: number) => countsAt(rows, q);
    const parked = counts(nodes.length);
    const dead = counts(nodes.length + 1);
    const failed = (rows[(nodes.length + 2) * PER_QUEUE]?.[1] as string[] | undefined) ?? [];
    return {
      now,
      roster,
      hostBeats,
      failedHosts: new Set(failed),
      nodes: nodes.map((n, i) => ({ ...n, counts: counts(i) })),
      parked: parked.waiting + parked.delayed,
      deadLetters: dead.waiting,
    };
  }
}
