// Many seeds in a row, and the totals a batch reports.
import { runSeed, type RunOptions, type RunResult } from './run.ts';
import type { SimSpec } from './spec.ts';

export interface BatchSummary {
  runs: number;
  failures: RunResult[];
  steps: number;
  ticks: number;
  decisions: number;
  crashes: number;
  partitions: number;
  dropped: number;
  rejected: number;
  /** Byzantine hosts' writes into the round's records (see RunStats). */
  redisForgeries: number;
  /** Smallest and largest cluster size run. */
  nodes: [number, number];
  /** Longest time, in ticks after the heal, any run took to become live (see run.ts). */
  slowestLiveness: number;
}

export function seedRange(base: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => base + i);
}

/** Runs every seed (a failure does not stop the batch); `onResult` sees each result as it comes. */
export function runSeeds<S, M>(spec: SimSpec<S, M>, seeds: readonly number[], options: RunOptions = {}, onResult?: (r: RunResult) => void): BatchSummary {
  const sum: BatchSummary = { runs: 0, failures: [], steps: 0, ticks: 0, decisions: 0, crashes: 0, partitions: 0, dropped: 0, rejected: 0, redisForgeries: 0, nodes: [Infinity, 0], slowestLiveness: 0 };
  for (const seed of seeds) {
    const r = runSeed(spec, seed, options);
    sum.runs++;
    if (!r.ok) sum.failures.push(r);
    sum.steps += r.stats.steps;
    sum.ticks += r.stats.ticks;
    sum.decisions += r.stats.decisions;
    sum.crashes += r.stats.crashes;
    sum.partitions += r.stats.partitions;
    sum.dropped += r.stats.dropped;
    sum.rejected += r.stats.rejected;
    sum.redisForgeries += r.stats.redisForgeries;
    sum.nodes = [Math.min(sum.nodes[0], r.stats.nodes), Math.max(sum.nodes[1], r.stats.nodes)];
    if (r.stats.liveAt !== undefined) sum.slowestLiveness = Math.max(sum.slowestLiveness, r.stats.liveAt - r.stats.healedAt + 1);
    onResult?.(r);
  }
  return sum;
}
