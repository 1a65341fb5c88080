// Unit and property tests for heartbeat classification (src/health/classify.ts)
// and the EMA baselines behind predicted degradation (src/health/baseline.ts).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  classifyHeartbeat,
  DEFAULT_THRESHOLDS,
  SEVERITY,
  validateThresholds,
  worse,
  type HealthState,
  type HealthThresholds,
} from '../../src/health/classify.ts';
import {
  DEFAULT_BASELINE_OPTIONS,
  observe,
  predictDegradation,
  updateEma,
  type AgentBaselines,
  type BaselineMetric,
  type BaselineOptions,
} from '../../src/health/baseline.ts';

const NUM_RUNS = 300;
const STATES: HealthState[] = ['healthy', 'degraded', 'critical', 'failed'];
const METRICS: BaselineMetric[] = ['duration', 'heartbeatDelay'];

/** Strictly increasing positive thresholds, built from positive gaps. */
const thresholdsArb: fc.Arbitrary<HealthThresholds> = fc
  .tuple(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 100_000 }))
  .map(([a, b, c]) => ({ degradedAfterMs: a, criticalAfterMs: a + b, failedAfterMs: a + b + c }));

/** Ages including clock skew (negative), fractions and the far past. */
const ageArb = fc.oneof(fc.integer({ min: -10_000, max: 400_000 }), fc.double({ min: -1e6, max: 1e9, noNaN: true }));

/** Options where a doubling can be detected at all: trendThreshold < 1 (a 2x jump must clear 1 + threshold). */
const optionsArb: fc.Arbitrary<BaselineOptions> = fc.record({
  slowAlpha: fc.double({ min: 0.001, max: 0.1, noNaN: true }),
  fastAlpha: fc.double({ min: 0.1, max: 1, noNaN: true }),
  trendThreshold: fc.double({ min: 0.1, max: 0.9, noNaN: true }),
  minSamples: fc.integer({ min: 1, max: 20 }),
  minIncreaseMs: fc.record({
    duration: fc.double({ min: 0, max: 50, noNaN: true }),
    heartbeatDelay: fc.double({ min: 0, max: 200, noNaN: true }),
  }),
});

function feed(s: AgentBaselines, kind: BaselineMetric, samples: readonly number[], o: BaselineOptions): AgentBaselines {
  return samples.reduce((acc, x) => observe(acc, kind, x, o), s);
}

/**
 * Samples after a jump to >= 2x a settled value v within which a prediction is guaranteed.
 * The recent EMA has closed all but (1 - fastAlpha)^k of the gap, so it is at least
 * v * (2 - (1 - fastAlpha)^k). The baseline is fed at most its alarm line, so while
 * v * trendThreshold >= the absolute floor it grows by at most slowAlpha * trendThreshold
 * per sample: at most v * (1 + slowAlpha * trendThreshold)^k. The first k where the
 * first exceeds (1 + trendThreshold) times the second is the bound. Undefined when
 * the baseline would catch up first (only with a slowAlpha near fastAlpha).
 */
function jumpBound(o: BaselineOptions): number | undefined {
  for (let k = 1; k <= 1000; k++) {
    const recent = 2 - (1 - o.fastAlpha) ** k;
    const baseline = (1 + o.slowAlpha * o.trendThreshold) ** k;
    // A relative margin keeps the bound valid against rounding in the EMAs themselves.
    if (recent > (1 + o.trendThreshold) * baseline * (1 + 1e-9)) return k;
  }
  return undefined;
}

describe('classifyHeartbeat', () => {
  it.each([
    [0, 'healthy'],
    [1999, 'healthy'],
    [1999.999, 'healthy'],
    [2000, 'degraded'],
    [4999, 'degraded'],
    [5000, 'critical'],
    [9999, 'critical'],
    [10_000, 'failed'],
    [86_400_000, 'failed'],
    [Number.POSITIVE_INFINITY, 'failed'],
  ] as const)('age %s ms with the default thresholds is %s', (age, state) => {
    expect(classifyHeartbeat(age, DEFAULT_THRESHOLDS)).toBe(state);
  });

  it('uses the default thresholds when none are given', () => {
    expect(classifyHeartbeat(2000)).toBe('degraded');
  });

  it('counts a negative age (clock skew) as a fresh beat', () => {
    expect(classifyHeartbeat(-1, DEFAULT_THRESHOLDS)).toBe('healthy');
    expect(classifyHeartbeat(-60_000, DEFAULT_THRESHOLDS)).toBe('healthy');
  });

  it('treats a host that never beat (NaN, undefined, null) as failed', () => {
    expect(classifyHeartbeat(Number.NaN, DEFAULT_THRESHOLDS)).toBe('failed');
    expect(classifyHeartbeat(undefined, DEFAULT_THRESHOLDS)).toBe('failed');
    expect(classifyHeartbeat(null, DEFAULT_THRESHOLDS)).toBe('failed');
  });

  it('honours custom thresholds at each boundary', () => {
    const t = { degradedAfterMs: 100, criticalAfterMs: 200, failedAfterMs: 300 };
    expect([99, 100, 199, 200, 299, 300].map((a) => classifyHeartbeat(a, t))).toEqual([
      'healthy',
      'degraded',
      'degraded',
      'critical',
      'critical',
      'failed',
    ]);
  });

  it('is monotone in age: an older heartbeat is never healthier', () => {
    fc.assert(
      fc.property(thresholdsArb, ageArb, ageArb, (t, x, y) => {
        const [younger, older] = x <= y ? [x, y] : [y, x];
        expect(SEVERITY[classifyHeartbeat(older, t)]).toBeGreaterThanOrEqual(SEVERITY[classifyHeartbeat(younger, t)]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('agrees with the thresholds it was given', () => {
    fc.assert(
      fc.property(thresholdsArb, ageArb, (t, age) => {
        const state = classifyHeartbeat(age, t);
        const a = Math.max(0, age);
        const expected: HealthState =
          a >= t.failedAfterMs ? 'failed' : a >= t.criticalAfterMs ? 'critical' : a >= t.degradedAfterMs ? 'degraded' : 'healthy';
        expect(state).toBe(expected);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('validateThresholds', () => {
  it('accepts the defaults and any strictly increasing positive thresholds', () => {
    expect(validateThresholds(DEFAULT_THRESHOLDS)).toBeUndefined();
    fc.assert(
      fc.property(thresholdsArb, (t) => {
        expect(validateThresholds(t)).toBeUndefined();
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('names the setting to change when thresholds are out of order', () => {
    const equal = validateThresholds({ degradedAfterMs: 5000, criticalAfterMs: 5000, failedAfterMs: 10_000 });
    expect(equal).toMatch(/degradedAfterMs/);
    expect(equal).toMatch(/criticalAfterMs/);
    expect(equal).toMatch(/5000/);
    const late = validateThresholds({ degradedAfterMs: 2000, criticalAfterMs: 12_000, failedAfterMs: 10_000 });
    expect(late).toMatch(/criticalAfterMs/);
    expect(late).toMatch(/failedAfterMs/);
    expect(late).toMatch(/SWARMQ_FAILED_AFTER_MS/);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('rejects a threshold of %s', (bad) => {
    const msg = validateThresholds({ ...DEFAULT_THRESHOLDS, criticalAfterMs: bad });
    expect(msg).toMatch(/criticalAfterMs.*positive/);
  });

  it('rejects any non-increasing triple', () => {
    const pos = fc.integer({ min: 1, max: 100_000 });
    fc.assert(
      fc.property(pos, pos, pos, (a, b, c) => {
        fc.pre(!(a < b && b < c));
        expect(validateThresholds({ degradedAfterMs: a, criticalAfterMs: b, failedAfterMs: c })).toEqual(expect.any(String));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('SEVERITY and worse', () => {
  it('orders states from healthy to failed', () => {
    expect(STATES.map((s) => SEVERITY[s])).toEqual([0, 1, 2, 3]);
  });

  it('returns the more severe state, commutatively and idempotently', () => {
    const stateArb = fc.constantFrom(...STATES);
    fc.assert(
      fc.property(stateArb, stateArb, (a, b) => {
        const w = worse(a, b);
        expect(w).toBe(worse(b, a));
        expect(SEVERITY[w]).toBe(Math.max(SEVERITY[a], SEVERITY[b]));
        expect(worse(a, a)).toBe(a);
      }),
    );
  });
});

describe('updateEma', () => {
  it('seeds the mean with the first sample', () => {
    expect(updateEma(undefined, 42, 0.05)).toEqual({ mean: 42, samples: 1 });
  });

  it('moves alpha of the way towards each new sample', () => {
    expect(updateEma({ mean: 100, samples: 3 }, 200, 0.25)).toEqual({ mean: 125, samples: 4 });
    expect(updateEma({ mean: 100, samples: 3 }, 200, 1)).toEqual({ mean: 200, samples: 4 });
  });

  it.each([0, -0.1, 1.01, Number.NaN])('rejects alpha %s', (alpha) => {
    expect(() => updateEma(undefined, 1, alpha)).toThrow(RangeError);
  });

  it('rejects a non-finite sample', () => {
    expect(() => updateEma({ mean: 1, samples: 1 }, Number.NaN, 0.5)).toThrow(RangeError);
  });

  it('stays within [min, max] of the samples seen', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e12, max: 1e12, noNaN: true }), { minLength: 1, maxLength: 100 }),
        fc.double({ min: Number.MIN_VALUE, max: 1, noNaN: true }),
        (samples, alpha) => {
          let b: ReturnType<typeof updateEma> | undefined;
          let lo = Infinity;
          let hi = -Infinity;
          for (const x of samples) {
            b = updateEma(b, x, alpha);
            lo = Math.min(lo, x);
            hi = Math.max(hi, x);
            expect(b.mean).toBeGreaterThanOrEqual(lo);
            expect(b.mean).toBeLessThanOrEqual(hi);
          }
          expect(b?.samples).toBe(samples.length);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('observe', () => {
  it('keeps a slow baseline and a fast recent trend per metric', () => {
    const o = DEFAULT_BASELINE_OPTIONS;
    const s = feed({}, 'duration', [100, 120], o);
    expect(s.duration).toEqual({ mean: 100 + o.slowAlpha * 20, samples: 2 });
    expect(s.recentDuration).toEqual({ mean: 100 + o.fastAlpha * 20, samples: 2 });
    expect(s.heartbeatDelay).toBeUndefined();
    const t = observe(s, 'heartbeatDelay', 30, o);
    expect(t.heartbeatDelay).toEqual({ mean: 30, samples: 1 });
    expect(t.recentDelay).toEqual({ mean: 30, samples: 1 });
    expect(t.duration).toEqual(s.duration);
  });

  it('feeds the baseline an outlier only up to the alarm line, and the trend all of it', () => {
    const o = DEFAULT_BASELINE_OPTIONS;
    const s = feed({}, 'duration', [100, 10_000], o);
    expect(s.duration?.mean).toBeCloseTo(100 + o.slowAlpha * 100 * o.trendThreshold, 9);
    expect(s.recentDuration?.mean).toBeCloseTo(100 + o.fastAlpha * 9900, 9);
    // At a zero baseline the cap is the absolute floor, so the baseline can still rise.
    const d = feed({}, 'heartbeatDelay', [0, 10_000], o);
    expect(d.heartbeatDelay?.mean).toBeCloseTo(o.slowAlpha * o.minIncreaseMs.heartbeatDelay, 9);
  });

  it('does not mutate its input', () => {
    const s = Object.freeze(feed({}, 'duration', [10, 20, 30], DEFAULT_BASELINE_OPTIONS));
    const copy = structuredClone(s);
    const t = observe(s, 'duration', 1000, DEFAULT_BASELINE_OPTIONS);
    expect(s).toEqual(copy);
    expect(t).not.toBe(s);
  });

  it('clamps negative samples (clock skew) to 0 and ignores non-finite ones', () => {
    const o = DEFAULT_BASELINE_OPTIONS;
    const s = observe({}, 'heartbeatDelay', -250, o);
    expect(s.heartbeatDelay).toEqual({ mean: 0, samples: 1 });
    expect(observe(s, 'heartbeatDelay', Number.NaN, o)).toEqual(s);
    expect(observe(s, 'heartbeatDelay', Number.POSITIVE_INFINITY, o)).toEqual(s);
  });

  it('absorbs a lasting shift into the baseline eventually, so the alarm clears', () => {
    const o = DEFAULT_BASELINE_OPTIONS;
    let s = feed({}, 'heartbeatDelay', Array(50).fill(0), o);
    s = feed(s, 'heartbeatDelay', Array(10).fill(500), o);
    expect(predictDegradation(s, o).predicted).toBe(true);
    s = feed(s, 'heartbeatDelay', Array(500).fill(500), o);
    expect(predictDegradation(s, o).predicted).toBe(false);
  });
});

describe('predictDegradation', () => {
  const o = DEFAULT_BASELINE_OPTIONS;

  it('predicts nothing without data or before minSamples', () => {
    expect(predictDegradation({}, o)).toEqual({ predicted: false });
    const s = feed(feed({}, 'duration', Array(o.minSamples - 2).fill(100), o), 'duration', [1000], o);
    expect(s.duration?.samples).toBe(o.minSamples - 1);
    expect(predictDegradation(s, o)).toEqual({ predicted: false });
  });

  it('flags a doubling of task duration within the computed bound (3 samples with the defaults)', () => {
    expect(jumpBound(o)).toBe(3);
    const settled = feed({}, 'duration', Array(20).fill(100), o);
    expect(predictDegradation(feed(settled, 'duration', [200, 200], o), o).predicted).toBe(false);
    const p = predictDegradation(feed(settled, 'duration', [200, 200, 200], o), o);
    expect(p).toMatchObject({ predicted: true, metric: 'duration' });
    expect(p.ratio).toBeGreaterThan(1 + o.trendThreshold);
    expect(p.recent).toBeGreaterThan(p.baseline ?? Infinity);
  });

  it('ignores a small absolute rise on a near-zero heartbeat delay', () => {
    const settled = feed({}, 'heartbeatDelay', Array(20).fill(1), o);
    expect(predictDegradation(feed(settled, 'heartbeatDelay', Array(20).fill(2), o), o).predicted).toBe(false);
    expect(predictDegradation(feed(settled, 'heartbeatDelay', Array(20).fill(90), o), o).predicted).toBe(false);
  });

  it('ignores event-loop lag on short tasks: sub-ms tasks that take a few ms under load', () => {
    const settled = feed({}, 'duration', Array(50).fill(0.1), o);
    expect(predictDegradation(feed(settled, 'duration', Array(20).fill(8), o), o).predicted).toBe(false);
    expect(predictDegradation(feed(settled, 'duration', Array(20).fill(60), o), o).predicted).toBe(true);
  });

  it('reports an infinite ratio when the delay baseline is exactly 0', () => {
    // Fed through observe the baseline creeps up at once, so build the state directly.
    const s: AgentBaselines = { heartbeatDelay: { mean: 0, samples: 20 }, recentDelay: { mean: 500, samples: 20 } };
    expect(predictDegradation(s, o)).toEqual({ predicted: true, metric: 'heartbeatDelay', baseline: 0, recent: 500, ratio: Infinity });
  });

  it('reports the metric with the largest ratio', () => {
    let s = feed({}, 'duration', Array(20).fill(100), o);
    s = feed(s, 'heartbeatDelay', Array(20).fill(300), o);
    s = feed(s, 'duration', Array(6).fill(300), o);
    s = feed(s, 'heartbeatDelay', Array(6).fill(1500), o);
    const p = predictDegradation(s, o);
    expect(p.metric).toBe('heartbeatDelay');
    const durationOnly = predictDegradation({ duration: s.duration, recentDuration: s.recentDuration }, o);
    expect(durationOnly.predicted).toBe(true);
    expect(p.ratio).toBeGreaterThan(durationOnly.ratio ?? Infinity);
  });

  it('never predicts degradation from a constant series', () => {
    fc.assert(
      fc.property(
        optionsArb,
        fc.double({ min: -1e4, max: 1e7, noNaN: true }),
        fc.double({ min: -1e4, max: 1e7, noNaN: true }),
        fc.array(fc.constantFrom(...METRICS), { maxLength: 300 }),
        (opts, durationValue, delayValue, kinds) => {
          let s: AgentBaselines = {};
          for (const kind of kinds) {
            s = observe(s, kind, kind === 'duration' ? durationValue : delayValue, opts);
            expect(predictDegradation(s, opts).predicted).toBe(false);
          }
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('predicts degradation within the bound after a jump to >= 2x the settled value', () => {
    fc.assert(
      fc.property(
        optionsArb,
        fc.constantFrom(...METRICS),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.integer({ min: 0, max: 200 }),
        fc.array(fc.double({ min: 2, max: 20, noNaN: true }), { minLength: 1000, maxLength: 1000 }),
        (opts, kind, v0, extraSettle, factors) => {
          const bound = jumpBound(opts);
          fc.pre(bound !== undefined);
          // Below floor / trendThreshold a doubling may legitimately stay under the absolute floor.
          const v = v0 + opts.minIncreaseMs[kind] / opts.trendThreshold + 1;
          const settled = feed({}, kind, Array(opts.minSamples + extraSettle).fill(v), opts);
          expect(predictDegradation(settled, opts).predicted).toBe(false);
          const jumped = feed(settled, kind, factors.slice(0, bound).map((f) => f * v), opts);
          expect(predictDegradation(jumped, opts)).toMatchObject({ predicted: true, metric: kind });
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('is deterministic: the same samples give the same state and prediction', () => {
    const stepArb = fc.tuple(fc.constantFrom(...METRICS), fc.double({ min: -100, max: 1e5, noNaN: true }));
    fc.assert(
      fc.property(optionsArb, fc.array(stepArb, { maxLength: 200 }), (opts, steps) => {
        const run = () => steps.reduce<AgentBaselines>((s, [kind, x]) => observe(s, kind, x, opts), {});
        const a = run();
        const b = run();
        expect(b).toEqual(a);
        expect(predictDegradation(b, opts)).toEqual(predictDegradation(a, opts));
        expect(predictDegradation(a, opts)).toEqual(predictDegradation(a, opts));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
