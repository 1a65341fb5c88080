// Per-agent baselines for task duration and heartbeat delay, and a prediction of
// degradation from them: a slow EMA is what "normal" looks like for this agent,
// a fast EMA is where it is heading. An agent whose recent trend has pulled well
// above its own normal is flagged before its heartbeats actually go stale.
// Pure: the caller owns the clock and the storage.

export interface Baseline {
  mean: number;
  samples: number;
}

export type BaselineMetric = 'duration' | 'heartbeatDelay';

export interface AgentBaselines {
  duration?: Baseline;
  heartbeatDelay?: Baseline;
  recentDuration?: Baseline;
  recentDelay?: Baseline;
}

export interface BaselineOptions {
  /** Weight of a new sample in the baseline; small so one slow task barely moves "normal". */
  slowAlpha: number;
  /** Weight of a new sample in the recent trend; large so a shift shows within a few samples. */
  fastAlpha: number;
  /** Relative rise of recent over baseline that predicts degradation: 0.5 = +50 %. */
  trendThreshold: number;
  /** Baseline samples required before predicting, so a cold start cannot alarm. */
  minSamples: number;
  /**
   * Absolute rise (ms) also required: relative change alone is meaningless near zero.
   * Both metrics carry event-loop lag: heartbeat delay is mostly scheduler jitter below
   * ~100 ms, and a busy host adds a few ms to every short task (no-op tasks under load
   * "doubled" from 0.1 to 2 ms and raised an alert every hundred tasks at a 1 ms floor).
   */
  minIncreaseMs: Record<BaselineMetric, number>;
}

export const DEFAULT_BASELINE_OPTIONS: Readonly<BaselineOptions> = Object.freeze({
  slowAlpha: 0.05,
  fastAlpha: 0.3,
  trendThreshold: 0.5,
  minSamples: 5,
  minIncreaseMs: Object.freeze({ duration: 20, heartbeatDelay: 100 }),
});

export interface DegradationPrediction {
  predicted: boolean;
  metric?: BaselineMetric;
  /** recent / baseline; Infinity when the baseline is exactly 0 (the absolute floor was still met). */
  ratio?: number;
  baseline?: number;
  recent?: number;
}

/** Throws on an alpha outside (0, 1] or a non-finite sample: either would corrupt the mean for good. */
export function updateEma(b: Baseline | undefined, sample: number, alpha: number): Baseline {
  if (!(alpha > 0 && alpha <= 1)) throw new RangeError(`EMA alpha must be in (0, 1], got ${alpha}`);
  if (!Number.isFinite(sample)) throw new RangeError(`EMA sample must be a finite number, got ${sample}`);
  // Seeding with the first sample rather than 0 avoids a long warm-up ramp that would read as a rising trend.
  if (b === undefined || b.samples <= 0) return { mean: sample, samples: 1 };
  const next = b.mean + alpha * (sample - b.mean);
  // Rounding can land an ulp outside [old mean, sample]; clamping keeps the mean provably within the samples seen.
  const lo = Math.min(b.mean, sample);
  const hi = Math.max(b.mean, sample);
  return { mean: Math.min(hi, Math.max(lo, next)), samples: b.samples + 1 };
}

const KEYS: Record<BaselineMetric, { slow: 'duration' | 'heartbeatDelay'; fast: 'recentDuration' | 'recentDelay' }> = {
  duration: { slow: 'duration', fast: 'recentDuration' },
  heartbeatDelay: { slow: 'heartbeatDelay', fast: 'recentDelay' },
};

export function observe(s: AgentBaselines, kind: BaselineMetric, sample: number, o: BaselineOptions): AgentBaselines {
  // A bad measurement (NaN from a missing timestamp) is dropped rather than allowed to poison both means forever.
  if (!Number.isFinite(sample)) return { ...s };
  // Negative durations/delays only come from clock skew; they mean "on time", not "early".
  const x = Math.max(0, sample);
  const { slow, fast } = KEYS[kind];
  const prev = s[slow];
  // The baseline takes an outlier only up to the alarm line. With plain EMAs the baseline
  // chases a sudden jump fast enough that a doubling (0.05 vs 0.3 alphas, +50 %) never
  // alarms at all; capped, a lasting shift is still absorbed, just over tens of samples.
  const fed = prev === undefined ? x : Math.min(x, alarmLine(prev.mean, kind, o));
  return { ...s, [slow]: updateEma(prev, fed, o.slowAlpha), [fast]: updateEma(s[fast], x, o.fastAlpha) };
}

// The additive term matters at a zero baseline (heartbeats always on time): a purely
// relative cap would pin the baseline at 0 and keep alarming forever after a real shift.
export function alarmLine(baseline: number, kind: BaselineMetric, o: BaselineOptions): number {
  return Math.max(baseline * (1 + o.trendThreshold), baseline + o.minIncreaseMs[kind]);
}

export function predictDegradation(s: AgentBaselines, o: BaselineOptions): DegradationPrediction {
  let best: DegradationPrediction = { predicted: false };
  for (const metric of ['duration', 'heartbeatDelay'] as const) {
    const { slow, fast } = KEYS[metric];
    const base = s[slow];
    const recent = s[fast];
    if (base === undefined || recent === undefined || base.samples < o.minSamples) continue;
    const rise = recent.mean - base.mean;
    if (!(recent.mean > base.mean * (1 + o.trendThreshold)) || rise < o.minIncreaseMs[metric]) continue;
    const ratio = base.mean > 0 ? recent.mean / base.mean : Number.POSITIVE_INFINITY;
    // Strictly greater: on a tie the first metric in the fixed order wins, so the answer is deterministic.
    if (!best.predicted || ratio > (best.ratio ?? 0)) {
      best = { predicted: true, metric, ratio, baseline: base.mean, recent: recent.mean };
    }
  }
  return best;
}
