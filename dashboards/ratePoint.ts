// One point of the throughput and latency plots, from what BullMQ recorded of
// the tasks that finished in an interval: a pure function, unit-tested.

/** BullMQ's own timestamps of a finished job (ms), as src/metrics/finishedTail.ts reads them. */
export interface JobTimes {
  /** When it was added (submitted). */
  createdAt: number;
  /** When its last attempt started. */
  startedAt: number;
  finishedAt: number;
}

export interface Quantiles {
  p50: number;
  p95: number;
}

export interface RatePoint {
  /** End of the interval (ms). */
  at: number;
  intervalMs: number;
  completed: number;
  failed: number;
  /** Submit → start of the last attempt, over a sample of the completed tasks; null when none finished. */
  waitMs: Quantiles | null;
  /** Start → finish of the last attempt. */
  runMs: Quantiles | null;
}

/** Nearest-rank quantile of a sorted list. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

function quantiles(values: number[]): Quantiles | null {
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  return { p50: quantile(values, 0.5), p95: quantile(values, 0.95) };
}

export function ratePoint(at: number, intervalMs: number, completed: number, failed: number, sample: readonly JobTimes[]): RatePoint {
  // Clocks of different hosts differ a little: a negative span is clamped, not plotted below zero.
  const ok = sample.filter((t) => Number.isFinite(t.createdAt) && Number.isFinite(t.startedAt) && Number.isFinite(t.finishedAt));
  return {
    at,
    intervalMs,
    completed,
    failed,
    waitMs: quantiles(ok.map((t) => Math.max(0, t.startedAt - t.createdAt))),
    runMs: quantiles(ok.map((t) => Math.max(0, t.finishedAt - t.startedAt))),
  };
}

/** At most `max` of the items, evenly spread over the list (deterministic: the same list gives the same sample). */
export function spreadSample<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  if (max <= 0) return [];
  const step = items.length / max;
  return Array.from({ length: max }, (_, i) => items[Math.floor(i * step)]!);
}
