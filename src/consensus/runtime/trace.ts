// Opt-in timing of rounds, for `npm run bench -- consensus --trace`: where a
// round's time goes (the proposer's writes, each host's reads, loads, passes
// and flushes, the first decision), one line per round and process. Off
// unless SWARMQ_CONSENSUS_TRACE=1: then nothing is recorded and the cost is
// one branch per mark. A trace holds timings and counts, never a value or a key.
import { PerformanceObserver } from 'node:perf_hooks';

/** Lines a tracing process writes start with this (stderr, or the sink a benchmark sets). */
export const TRACE_PREFIX = 'swarmq-consensus-trace ';

export let tracing = false;

let sink: (line: string) => void = (line) => process.stderr.write(`${line}\n`);

/** Wall-clock ms with sub-ms resolution, comparable between processes of one machine. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

let gcMs = 0;

/** Traces this process's rounds from now on; lines go to `to` (a benchmark collects its own in memory) or stderr. */
export function startTracing(to?: (line: string) => void): void {
  if (to) sink = to;
  if (tracing) return;
  tracing = true;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  }).observe({ entryTypes: ['gc'] });
}

if (process.env.SWARMQ_CONSENSUS_TRACE === '1') startTracing();

/** One process's part in one round: named marks (first time each was reached) and sums. */
export class RoundTrace {
  /** Absolute wall-clock ms: relative to the proposal's creation once the spec is known. */
  private readonly marks: Record<string, number> = {};
  private readonly sums: Record<string, number> = {};
  private readonly cpu0 = process.cpuUsage();
  private readonly gc0 = gcMs;
  private written = false;

  /** When the proposal was made (the spec's createdAt); marks are written relative to it. */
  createdAt: number | undefined;

  constructor(
    readonly round: string,
    private readonly who: string,
  ) {}

  /** The first time `name` happened. */
  mark(name: string, at = wallMs()): void {
    this.marks[name] ??= at;
  }

  has(name: string): boolean {
    return this.marks[name] !== undefined;
  }

  /** The last time `name` happened. */
  markLast(name: string, at = wallMs()): void {
    this.marks[name] = at;
  }

  add(name: string, n: number): void {
    this.sums[name] = (this.sums[name] ?? 0) + n;
  }

  /** Freezes this process's CPU and GC time since the round began (at its first decision here, or its end). */
  cpuNow(): void {
    if (this.sums.cpuMs !== undefined) return;
    const c = process.cpuUsage(this.cpu0);
    this.sums.cpuMs = Math.round((c.user + c.system) / 10) / 100;
    this.sums.gcMs = Math.round((gcMs - this.gc0) * 100) / 100;
  }

  write(extra: Record<string, unknown> = {}): void {
    if (this.written) return;
    this.written = true;
    this.cpuNow();
    const r2 = (x: number) => Math.round(x * 100) / 100;
    const zero = this.createdAt ?? 0;
    const marks = Object.fromEntries(Object.entries(this.marks).map(([k, v]) => [k, r2(v - zero)]));
    const sums = Object.fromEntries(Object.entries(this.sums).map(([k, v]) => [k, r2(v)]));
    sink(`${TRACE_PREFIX}${JSON.stringify({ round: this.round, who: this.who, marks, sums, ...extra })}`);
  }
}
