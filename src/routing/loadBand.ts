// Which band a load falls in, as operators read it: under one task per live
// slot is fine, over two is a backlog the balancer should be acting on. The
// summary, the hierarchy's per-group counts and the dashboard's colours all
// use these bands (dashboards/client/treeSvg.ts keeps a copy for the browser;
// tests/unit/loadBand.test.ts checks the two agree).
export const LOAD_BANDS = ['idle', 'ok', 'busy', 'overloaded', 'no-capacity'] as const;
export type LoadBand = (typeof LOAD_BANDS)[number];
export type LoadBandCounts = Record<LoadBand, number>;

export function loadBand(load: number, capacity: number): LoadBand {
  if (capacity <= 0) return 'no-capacity';
  if (load === 0) return 'idle';
  if (load <= 1) return 'ok';
  if (load <= 2) return 'busy';
  return 'overloaded';
}

export function emptyBandCounts(): LoadBandCounts {
  return { idle: 0, ok: 0, busy: 0, overloaded: 0, 'no-capacity': 0 };
}
