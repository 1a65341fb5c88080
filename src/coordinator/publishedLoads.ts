// A reader of the loads the leading coordinator publishes (loadsPublisher.ts):
// one command a fetch, the body only when its version moved, checked before
// use. Routers, the API's views and /metrics read through it.
import type { RedisClient } from '../../queues/redisTarget.ts';
import { swarmKeys } from '../../queues/keys.ts';
import { readLoads } from '../../queues/loads.ts';
import { liveHostsOf } from './loadsReader.ts';
import { decodeLoads, type LoadsSnapshot } from './loadsSnapshot.ts';

export class PublishedLoads {
  private held: LoadsSnapshot | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly onBadRecord: (what: string, key: string, err: string) => void = () => {},
  ) {}

  /**
   * The loads as published now, and whether they differ from the last fetch's;
   * undefined when nobody publishes or the body does not parse (reported), so
   * the caller counts the queues itself.
   */
  async fetch(): Promise<{ snapshot: LoadsSnapshot; moved: boolean } | undefined> {
    const got = await readLoads(this.redis, this.prefix, this.held?.version);
    if (!got.published) {
      this.held = undefined;
      return undefined;
    }
    if (got.body === undefined && this.held?.version === got.version) return { snapshot: this.held, moved: false };
    const decoded = got.body === undefined ? undefined : decodeLoads(got.body);
    if (!decoded?.ok) {
      if (decoded) this.onBadRecord('loads', swarmKeys(this.prefix).loads, decoded.error);
      this.held = undefined;
      return undefined;
    }
    this.held = decoded.snapshot;
    return { snapshot: decoded.snapshot, moved: true };
  }
}

/**
 * Whether a host counts as live for a reader of published loads: as the leader
 * found at its last round, or beating within failedAfterMs by `beats` (the
 * reader's own roster read), so a host that joined since is live at once.
 */
export function liveForReader(snapshot: LoadsSnapshot, beats: ReadonlyMap<string, number>, now: number, failedAfterMs: number): (host: string) => boolean {
  const beating = liveHostsOf(beats, now, failedAfterMs);
  return (host) => snapshot.liveHosts.has(host) || beating.has(host);
}
