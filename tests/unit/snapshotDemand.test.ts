// When a router re-reads its routing snapshot (src/coordinator/snapshotDemand.ts):
// while tasks are routed, as before; not at all once nobody has routed for a
// few intervals; and a route after a quiet spell waits for a read.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IDLE_AFTER_INTERVALS, keepsRefreshing, snapshotUse, STALE_AFTER_INTERVALS, type SnapshotTimes } from '../../src/coordinator/snapshotDemand.ts';

const INTERVAL = 100;
const at = (now: number, readAt: number | undefined, routedAt: number | undefined = undefined): SnapshotTimes => ({ now, readAt, routedAt, intervalMs: INTERVAL });

describe('the refresh timer', () => {
  it('reads while a task was routed within the idle bound, and stops past it', () => {
    expect(keepsRefreshing(at(1_000, 900, 1_000))).toBe(true);
    expect(keepsRefreshing(at(1_000, 900, 1_000 - IDLE_AFTER_INTERVALS * INTERVAL + 1))).toBe(true);
    expect(keepsRefreshing(at(1_000, 900, 1_000 - IDLE_AFTER_INTERVALS * INTERVAL))).toBe(false);
    expect(keepsRefreshing(at(60_000, 900, 1_000))).toBe(false);
  });

  it('does not read for a router nothing has been routed through yet', () => {
    expect(keepsRefreshing(at(1_000, 900, undefined))).toBe(false);
  });
});

describe('a route', () => {
  it('uses a snapshot younger than an interval as it is', () => {
    expect(snapshotUse(at(1_000, 1_000))).toBe('use');
    expect(snapshotUse(at(1_000, 1_000 - INTERVAL + 1))).toBe('use');
  });

  it('uses a snapshot due for a read and refreshes it in the background', () => {
    expect(snapshotUse(at(1_000, 1_000 - INTERVAL))).toBe('refresh');
    expect(snapshotUse(at(1_000, 1_000 - STALE_AFTER_INTERVALS * INTERVAL + 1))).toBe('refresh');
  });

  it('waits for a read when there is none yet or the snapshot is too old to route on', () => {
    expect(snapshotUse(at(1_000, undefined))).toBe('wait');
    expect(snapshotUse(at(1_000, 1_000 - STALE_AFTER_INTERVALS * INTERVAL))).toBe('wait');
    expect(snapshotUse(at(3_600_000, 0))).toBe('wait');
  });

  it('never routes on a snapshot older than the staleness bound, and never waits while the timer keeps it within an interval', () => {
    fc.assert(
      fc.property(fc.integer({ min: 5, max: 10_000 }), fc.nat(1_000_000), fc.nat(1_000_000), (intervalMs, readAt, gap) => {
        const t = { now: readAt + gap, readAt, routedAt: undefined, intervalMs };
        const use = snapshotUse(t);
        if (gap >= STALE_AFTER_INTERVALS * intervalMs) expect(use).toBe('wait');
        if (gap < intervalMs) expect(use).toBe('use');
        else expect(use).not.toBe('use');
      }),
    );
  });

  it('keeps a steady submitter refreshed: one routing every idle bound less a bit keeps the timer on', () => {
    // The timer ticks every interval; a route at most IDLE_AFTER_INTERVALS - 1 intervals before each tick keeps it reading.
    let routedAt = 0;
    for (let tick = INTERVAL; tick <= 10_000; tick += INTERVAL) {
      if (tick - routedAt >= (IDLE_AFTER_INTERVALS - 1) * INTERVAL) routedAt = tick;
      expect(keepsRefreshing(at(tick, tick - INTERVAL, routedAt))).toBe(true);
    }
  });
});
