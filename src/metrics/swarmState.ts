// One read of what the swarm looks like now, from Redis alone, so every
// process (a coordinator that does not lead, a scraper's target) reports the
// same figures: the roster, heartbeats, failed hosts and each queue's counts.
// The counts are those the leading coordinator publishes (a few commands);
// only while nobody publishes is each queue counted (a cost that grows with nodes).
import type { RedisClient } from '../../queues/redisTarget.ts';
import { DEAD_LETTER_QUEUE, nodeQueueName, PARKED_NODE, swarmKeys } from '../../queues/keys.ts';
import { afterCounts, countsAt, queueCounts, type QueueCounts } from '../../queues/queueCounts.ts';
import { LoadsReader, type Roster } from '../coordinator/loadsReader.ts';
import { PublishedLoads } from '../coordinator/publishedLoads.ts';
import type { TrackedLoads } from '../coordinator/loadsTracker.ts';
import { slotPipeline } from '../../queues/slotPipeline.ts';

export interface SwarmState {
  now: number;
  roster: Roster;
  hostBeats: Map<string, number>;
  failedHosts: Set<string>;
  nodes: { id: string; queue: string; counts: QueueCounts }[];
  parked: number;
  deadLetters: number;
}

export class SwarmStateReader {
  private readonly rosterReader: LoadsReader;
  private readonly published: PublishedLoads;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {
    this.rosterReader = new LoadsReader(redis, prefix, Number.POSITIVE_INFINITY);
    this.published = new PublishedLoads(redis, prefix);
  }

  /** The same from the leader's tracked loads: only the parked and dead-letter queues and the failed hosts are read. */
  async readTracked(t: TrackedLoads): Promise<SwarmState> {
    return await this.withCounts(t.at, t.roster, t.hostBeats, t.counts);
  }

  private async withCounts(now: number, roster: Roster, hostBeats: ReadonlyMap<string, number>, counts: ReadonlyMap<string, QueueCounts>): Promise<SwarmState> {
    const p = slotPipeline(this.redis);
    queueCounts(p, this.prefix, nodeQueueName(PARKED_NODE));
    queueCounts(p, this.prefix, DEAD_LETTER_QUEUE);
    p.hkeys(swarmKeys(this.prefix).failedHosts);
    const rows = (await p.exec()) ?? [];
    const parked = countsAt(rows, 0);
    const zero: QueueCounts = { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 };
    return {
      now,
      roster,
      hostBeats: new Map(hostBeats),
      failedHosts: new Set((rows[afterCounts(2)]?.[1] as string[] | undefined) ?? []),
      nodes: [...roster.nodes.values()].map((n) => ({ id: n.id, queue: n.queue, counts: counts.get(n.id) ?? zero })),
      parked: parked.waiting + parked.delayed,
      deadLetters: countsAt(rows, 1).waiting,
    };
  }

  /** The published loads when a coordinator publishes them (a few commands whatever the swarm's size), else every queue counted. */
  async read(): Promise<SwarmState> {
    const now = Date.now();
    const [{ roster, hostBeats }, got] = await Promise.all([this.rosterReader.readRoster(), this.published.fetch()]);
    return await this.withCounts(now, roster, hostBeats, got?.snapshot.counts ?? (await this.countEvery(roster)));
  }

  private async countEvery(roster: Roster): Promise<Map<string, QueueCounts>> {
    const nodes = [...roster.nodes.values()];
    const p = slotPipeline(this.redis);
    for (const n of nodes) queueCounts(p, this.prefix, n.queue);
    const rows = nodes.length ? ((await p.exec()) ?? []) : [];
    return new Map(nodes.map((n, i) => [n.id, countsAt(rows, i)]));
  }
}
