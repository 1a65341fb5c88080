// When a router's routing snapshot is read again: only while someone routes.
// A producer that submits nothing does no Redis reads for its snapshot; the
// first submit after a quiet spell wakes the refresh, and waits for one fresh
// read rather than route on loads older than the staleness the docs promise
// (docs/architecture.md, "Routing state at scale"). Pure: times in, verdict out.

/**
 * Routing stops re-reading once nobody has routed for this many intervals: long
 * enough that a steady submitter (one every few intervals) keeps a snapshot
 * refreshed in the background and never waits, short enough that an idle
 * producer stops reading within half a second at the default 100 ms.
 */
export const IDLE_AFTER_INTERVALS = 5;

/**
 * A snapshot this many intervals old is not routed on: the route waits for one
 * read. Two intervals is what a route may already lag behind the queues while
 * the refresh runs (the leader's round, then the router's fetch), so waking up
 * never routes on older loads than a busy router does. A router that is being
 * used refreshes every interval, so only a submit after a quiet spell (or one
 * whose Redis answers slower than an interval) waits; the wait is one command
 * when a coordinator publishes the loads, the round trip the submit costs anyway.
 */
export const STALE_AFTER_INTERVALS = 2;

/** Monotonic times (ms) of the last completed read's start and of the last route; undefined before the first. */
export interface SnapshotTimes {
  now: number;
  readAt: number | undefined;
  routedAt: number | undefined;
  intervalMs: number;
}

/** Whether the refresh timer reads at this tick: only while someone routed within the idle bound. */
export function keepsRefreshing(t: SnapshotTimes): boolean {
  return t.routedAt !== undefined && t.now - t.routedAt < IDLE_AFTER_INTERVALS * t.intervalMs;
}

/**
 * What a route does with the snapshot it holds: `use` it; use it and `refresh`
 * in the background (due, as the timer would: it is not running while idle);
 * or `wait` for a read first (none yet, or too old to route on).
 */
export type SnapshotUse = 'use' | 'refresh' | 'wait';

export function snapshotUse(t: SnapshotTimes): SnapshotUse {
  if (t.readAt === undefined) return 'wait';
  const age = t.now - t.readAt;
  if (age >= STALE_AFTER_INTERVALS * t.intervalMs) return 'wait';
  return age >= t.intervalMs ? 'refresh' : 'use';
}
