// Figures of the recovery benchmark per contender: recovery-time percentiles
// over the kill trials and false recoveries over the stop trials, as printed
// and as written to bench/results/recovery.json.
import { latencyHistogram, round, summarize } from './measure.ts';

export type ContenderName = 'swarmq' | 'rawDefault' | 'rawTuned';

export interface ContenderFigures {
  /** kill trials that gave a sample (recovered, or timed out) */
  trials: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** kill trials whose tasks had not all restarted by the timeout (counted at the timeout in the percentiles) */
  unrecovered: number;
  /** tasks started a second time while their host/worker was only paused, over all stop trials */
  falseRecoveries: number;
  stopTrials: number;
  /** tasks held by the paused process, over all stop trials */
  stopTasks: number;
  /** stop trials with at least one false recovery */
  stopTrialsWithFalseRecovery: number;
  samplesMs: number[];
  settings: string;
}

/**
 * Percentiles from measure.ts's histogram (µs, 3 significant digits); a trial
 * that never recovered counts as its timeout, so it can only push p99 up.
 */
export function figures(o: {
  recoveryMs: (number | null)[];
  timeoutMs: number;
  restartedPerStopTrial: number[];
  tasksPerStopTrial: number;
  settings: string;
}): ContenderFigures {
  const h = latencyHistogram();
  const samples = o.recoveryMs.map((x) => x ?? o.timeoutMs);
  for (const ms of samples) h.recordValue(Math.max(1, Math.round(ms * 1000)));
  const s = samples.length ? summarize(h) : undefined;
  // The histogram reports a bucket's upper edge, a hair over the largest sample; never past it.
  const pct = (x: number) => round(Math.min(x, Math.max(...samples)), 1);
  return {
    trials: samples.length,
    p50Ms: s ? pct(s.p50Ms) : null,
    p99Ms: s ? pct(s.p99Ms) : null,
    maxMs: s ? round(s.maxMs, 1) : null,
    unrecovered: o.recoveryMs.filter((x) => x === null).length,
    falseRecoveries: o.restartedPerStopTrial.reduce((a, b) => a + b, 0),
    stopTrials: o.restartedPerStopTrial.length,
    stopTasks: o.restartedPerStopTrial.length * o.tasksPerStopTrial,
    stopTrialsWithFalseRecovery: o.restartedPerStopTrial.filter((x) => x > 0).length,
    samplesMs: samples.map((x) => Math.round(x)),
    settings: o.settings,
  };
}

export function median(xs: readonly number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const ms = (x: number | null) => (x === null ? '-' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`);
