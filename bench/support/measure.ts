// Measuring helpers shared by the benchmarks: a probe the processors report to,
// a fixed-window producer, latency histograms and plain-text tables.
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldLoop, setTimeout as sleep } from 'node:timers/promises';
import { build, type Histogram } from 'hdr-histogram-js';

/**
 * What every contender's no-op processor calls first thing: the start time of a
 * task (by its sequence number), and a count of starts for throughput runs.
 */
export class StartProbe {
  private readonly waiting = new Map<number, (startedAt: number) => void>();
  private started = 0;
  private target = Infinity;
  private reached: (() => void) | undefined;

  /** The processor body: record, return. */
  readonly onStart = (seq: number): void => {
    const now = performance.now();
    this.started++;
    const w = this.waiting.get(seq);
    if (w) {
      this.waiting.delete(seq);
      w(now);
    }
    if (this.started >= this.target && this.reached) {
      const r = this.reached;
      this.reached = undefined;
      r();
    }
  };

  /** Resolves with the performance.now() at which the processor for `seq` started. */
  startOf(seq: number): Promise<number> {
    return new Promise((resolve) => this.waiting.set(seq, resolve));
  }

  /** Resolves once `n` more tasks have started. */
  expect(n: number): Promise<void> {
    this.target = this.started + n;
    return new Promise((resolve) => {
      this.reached = resolve;
    });
  }

  get count(): number {
    return this.started;
  }
}

/** The sequence number a no-op processor finds in its payload. */
export function seqOf(payload: unknown): number {
  const seq = (payload as { seq?: unknown } | null)?.seq;
  if (typeof seq !== 'number') throw new Error(`bench payload without a seq: ${JSON.stringify(payload)}`);
  return seq;
}

/** Runs `submit(0..n-1)` keeping at most `window` calls in flight. */
export async function windowed(n: number, window: number, submit: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) await submit(next++);
  };
  await Promise.all(Array.from({ length: Math.min(window, n) }, lane));
}

/** Polls until `count()` reaches `target`: a tight loop that yields to the event loop, or sleeps `pauseMs`. */
export async function until(count: () => Promise<number>, target: number, { pauseMs = 0, timeoutMs = 60_000 } = {}): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const c = await count();
    if (c >= target) return;
    if (performance.now() > deadline) throw new Error(`timed out waiting: ${c} of ${target} completed after ${timeoutMs} ms`);
    if (pauseMs > 0) await sleep(pauseMs);
    else await yieldLoop();
  }
}

export function latencyHistogram(): Histogram {
  // microseconds, 1 µs to 60 s, 3 significant digits
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

export interface LatencySummary {
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  count: number;
}

export function summarize(h: Histogram): LatencySummary {
  const ms = (p: number) => round(h.getValueAtPercentile(p) / 1000, 3);
  return { p50Ms: ms(50), p95Ms: ms(95), p99Ms: ms(99), maxMs: round(h.maxValue / 1000, 3), count: h.totalCount };
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Left-aligned first column, right-aligned others. */
export function textTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** Where a run spent its time: this process's CPU, Redis's CPU, and Redis commands by name. */
export interface CostSnapshot {
  nodeCpuUs: number;
  redisCpuUs: number;
  calls: Map<string, number>;
}

export async function costSnapshot(redis: import('ioredis').Redis): Promise<CostSnapshot> {
  const [cpu, stats] = await Promise.all([redis.info('cpu'), redis.info('commandstats')]);
  const num = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(cpu)?.[1] ?? 0);
  const calls = new Map<string, number>();
  for (const m of stats.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) calls.set(m[1]!, Number(m[2]));
  const u = process.cpuUsage();
  return { nodeCpuUs: u.user + u.system, redisCpuUs: (num('used_cpu_user') + num('used_cpu_sys')) * 1e6, calls };
}

export interface CostPerTask {
  nodeCpuUs: number;
  redisCpuUs: number;
  redisCalls: number;
  /** commands by name, per task, most first */
  byCommand: [string, number][];
}

export function costPerTask(before: CostSnapshot, after: CostSnapshot, tasks: number): CostPerTask {
  const byCommand: [string, number][] = [];
  let total = 0;
  for (const [name, n] of after.calls) {
    const d = n - (before.calls.get(name) ?? 0);
    if (d > 0) {
      byCommand.push([name, d / tasks]);
      total += d;
    }
  }
  byCommand.sort((a, b) => b[1] - a[1]);
  return {
    nodeCpuUs: (after.nodeCpuUs - before.nodeCpuUs) / tasks,
    redisCpuUs: (after.redisCpuUs - before.redisCpuUs) / tasks,
    redisCalls: total / tasks,
    byCommand,
  };
}
