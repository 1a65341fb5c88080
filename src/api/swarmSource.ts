// Where the API's views read the swarm from: the roster with host heartbeats,
// and node loads. A seam, so the reader behind it can change without touching
// the routes: node loads are those the leading coordinator publishes (one
// command), counted queue by queue only while nobody publishes; the roster is a
// LoadsReader of the API's own, kept for the life of the app so its cache
// (re-read only when the roster version moves) lasts across requests.
import type { RedisClient } from '../../queues/redisTarget.ts';
import { LoadsReader, nodeViews, type Roster } from '../coordinator/loadsReader.ts';
import { liveForReader, PublishedLoads } from '../coordinator/publishedLoads.ts';
import type { NodeView } from '../routing/loads.ts';

export interface RosterRead {
  /** Opaque; equal versions mean the same roster object (agents and nodes unchanged). */
  version: string;
  roster: Roster;
  hostBeats: Map<string, number>;
}

export interface SwarmSource {
  /** The roster and every host's last heartbeat. */
  roster(): Promise<RosterRead>;
  /** Each node's agents (with liveness at `now`), waiting and active counts, with the roster they came from. */
  loads(now: number): Promise<RosterRead & { nodes: NodeView[] }>;
}

/**
 * A SwarmSource on a LoadsReader. The reader replaces its roster object only
 * when the roster version in Redis moves, so a new object is a new version:
 * the version is read off the object rather than asked of Redis a second time
 * (which could name a roster other than the one returned).
 */
export function loadsReaderSource(redis: RedisClient, prefix: string, failedAfterMs: number, onBadRecord?: (what: string, key: string, err: string) => void): SwarmSource {
  const reader = new LoadsReader(redis, prefix, failedAfterMs, onBadRecord);
  const published = new PublishedLoads(redis, prefix, onBadRecord);
  const versions = new WeakMap<Roster, string>();
  let next = 0;
  const versionOf = (r: Roster): string => {
    let v = versions.get(r);
    if (v === undefined) versions.set(r, (v = String(++next)));
    return v;
  };
  return {
    async roster() {
      const { roster, hostBeats } = await reader.readRoster();
      return { version: versionOf(roster), roster, hostBeats };
    },
    async loads(now) {
      const got = await published.fetch();
      if (!got) {
        const { roster, hostBeats, nodes } = await reader.read(now);
        return { version: versionOf(roster), roster, hostBeats, nodes };
      }
      const { roster, hostBeats } = await reader.readRoster();
      const live = liveForReader(got.snapshot, hostBeats, now, failedAfterMs);
      const nodes = nodeViews(roster, (id) => got.snapshot.counts.get(id), (a) => live(a.hostId));
      return { version: versionOf(roster), roster, hostBeats, nodes };
    },
  };
}
