// While this coordinator leads: every snapshotIntervalMs, the node loads its
// tracker keeps (loadsTracker.ts) are published for every router to fetch in one
// command (loadsSnapshot.ts, queues/loads.ts). A quiet round only refreshes the
// version's expiry (keepLoads-1.lua), and only while the version there is still
// this leader's: one written by anyone else is published over at once. The
// version expires when nobody publishes, and routers then read the loads themselves.
import type { RedisClient } from '../../queues/redisTarget.ts';
import { keepLoadsFresh, publishLoads } from '../../queues/loads.ts';
import type { SwarmConfig } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { Lease } from './lease.ts';
import { LeaderLoop } from './leaderLoop.ts';
import { encodeLoads } from './loadsSnapshot.ts';
import { LoadsTracker, type TrackedLoads } from './loadsTracker.ts';

/** How long a published version outlives its last round: a few missed rounds do not send every router to read the loads itself. */
export function loadsTtlMs(intervalMs: number): number {
  return Math.max(1000, 10 * intervalMs);
}

export class LoadsPublisher {
  readonly tracker: LoadsTracker;
  private readonly loop: LeaderLoop;
  private publishes = 0;
  private published: { token: number; generation: number; version: string } | undefined;

  constructor(private readonly o: { redis: RedisClient; config: SwarmConfig; lease: Lease; logger: Logger; onBadRecord?: (what: string, key: string, err: string) => void }) {
    const { coordinator, agents, prefix } = o.config;
    this.tracker = new LoadsTracker({
      redis: o.redis,
      prefix,
      failedAfterMs: agents.failedAfterMs,
      resyncMs: coordinator.loadsResyncMs,
      ...(o.onBadRecord ? { onBadRecord: o.onBadRecord } : {}),
    });
    // This loop renews the swarm lease (the summary rides on it): balancing and health run per partition.
    this.loop = new LeaderLoop({
      lease: o.lease,
      renewsLease: true,
      intervalMs: coordinator.snapshotIntervalMs,
      onError: (err) => o.logger.debug({ err: err.message }, 'publishing node loads failed; next interval retries'),
    });
  }

  start(): void {
    this.loop.start(() => this.tick());
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** One round: returns what was read (undefined when not leading). */
  async tick(now = Date.now()): Promise<TrackedLoads | undefined> {
    const lead = await this.loop.leadership();
    if (!lead) {
      this.published = undefined;
      return undefined;
    }
    const t = await this.tracker.read(now);
    const { prefix, coordinator } = this.o.config;
    const ttl = loadsTtlMs(coordinator.snapshotIntervalMs);
    const current = this.published?.token === lead.token && this.published.generation === t.generation;
    if (current && (await keepLoadsFresh(this.o.redis, prefix, this.published!.version, ttl))) return t;
    // A fresh version each publish, so routers holding one written by anyone else fetch this body.
    const version = `${lead.token}.${t.generation}.${++this.publishes}`;
    await publishLoads(this.o.redis, prefix, version, encodeLoads({ version, at: t.at, rosterVersion: t.rosterVersion, liveHosts: t.liveHosts, counts: t.counts }), ttl);
    this.published = { token: lead.token, generation: t.generation, version };
    return t;
  }
}
