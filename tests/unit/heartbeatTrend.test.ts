// How late a host's beats run, judged after it is ready and against its peers
// (src/health/heartbeatTrend.ts): startup stalls and machine-wide slowdowns are
// not a host degrading; a host slowing on its own still is.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_BASELINE_OPTIONS as O, observe, predictDegradation, type AgentBaselines } from '../../src/health/baseline.ts';
import { firstBeat, judgeHostTrend, median, mediansOfOthers, observeBeat, type HostTrend } from '../../src/health/heartbeatTrend.ts';

const INTERVAL = 1000;

/** Beats `delays[i]` ms late after the previous one, from `start`; the trend after each. */
function beats(t: HostTrend, delays: readonly number[], readyAt: number | undefined): HostTrend {
  return delays.reduce((acc, d) => observeBeat(acc, acc.last + INTERVAL + d, readyAt, INTERVAL, O), t);
}

const delayArb = fc.integer({ min: 0, max: 20_000 });

describe('observeBeat', () => {
  // Measured: five hosts of 1,000 agents started together under CPU load (issue 15). This host's
  // first delay (17 ms) came before spawning blocked its event loop; the next beat came 4.3 s late.
  const startup = [17, 4321, 1008, 1, 3, 0, 0, 0];

  it('the measured startup stall alarmed when it fed the baseline; before ready it feeds nothing', () => {
    // What the monitor did before: every delay into the baseline, predicted at the fifth sample.
    const old = startup.reduce<AgentBaselines>((b, d) => observe(b, 'heartbeatDelay', d, O), {});
    expect(predictDegradation(old, O)).toMatchObject({ predicted: true, metric: 'heartbeatDelay' });

    const starting = beats(firstBeat(0, undefined), startup, undefined);
    expect(starting.baselines).toEqual({});
    expect(starting.recentAll!.samples).toBe(startup.length);
    const readyAt = starting.last + 1;
    const ready = beats(starting, [0, 2, 1, 0, 3, 0, 1, 0], readyAt);
    expect(judgeHostTrend(ready, undefined, O).predicted).toBe(false);
  });

  it('before ready, no delay touches the baseline: after ready it is what steady beats alone make it', () => {
    fc.assert(
      fc.property(fc.array(delayArb, { maxLength: 30 }), fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 30 }), (startupDelays, after) => {
        const starting = beats(firstBeat(0, undefined), startupDelays, undefined);
        const readyAt = starting.last + 1;
        // The first beat after ready still spans startup, so it only sets the starting point.
        const ready = beats(starting, [startupDelays.length ? 5000 : 0, ...after], readyAt);
        const fresh = beats(firstBeat(0, 0), after, 0);
        expect(ready.baselines).toEqual(fresh.baselines);
      }),
    );
  });

  it('the same beat read again changes nothing; an older beat only moves the starting point', () => {
    const t = beats(firstBeat(0, 0), [0, 0, 500], 0);
    expect(observeBeat(t, t.last, 0, INTERVAL, O)).toBe(t);
    const back = observeBeat(t, t.last - 5000, 0, INTERVAL, O);
    expect(back).toMatchObject({ last: t.last - 5000, baselines: t.baselines, recentAll: t.recentAll });
  });

  it('ready again (a rejoin) starts a new baseline and clears the prediction', () => {
    const t = { ...beats(firstBeat(0, 0), [0, 0, 0, 0, 0, 0, 900, 900, 900], 0), predicted: true };
    const again = observeBeat(t, t.last + INTERVAL, 50_000, INTERVAL, O);
    expect(again).toMatchObject({ readyAt: 50_000, baselines: {}, predicted: false });
  });
});

describe('judgeHostTrend', () => {
  const settled = (delays: number[]) => beats(firstBeat(0, 0), delays, 0);

  it('a host slowing on its own is predicted, with or without peers', () => {
    const t = settled([...Array<number>(10).fill(0), 400, 600, 800]);
    expect(judgeHostTrend(t, undefined, O)).toMatchObject({ predicted: true, metric: 'heartbeatDelay' });
    expect(judgeHostTrend(t, median([0, 2, 1, 0]), O)).toMatchObject({ predicted: true, peers: 0.5 });
  });

  it('never blames a host for a slowdown its peers share: at or under their median it is not predicted', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 5, maxLength: 20 }), fc.array(delayArb, { minLength: 1, maxLength: 10 }), fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 9 }), (steady, rise, others) => {
        const t = settled([...steady, ...rise]);
        const recent = t.baselines.recentDelay!.mean;
        // Peers whose median is at least this host's recent delay.
        const peers = [...others.map((x) => recent + x), ...others.map((x) => recent + x)];
        expect(judgeHostTrend(t, median(peers), O).predicted).toBe(false);
      }),
    );
  });

  it('with peers, predicted only when its own trend alone would be', () => {
    fc.assert(
      fc.property(fc.array(delayArb, { minLength: 1, maxLength: 30 }), fc.array(delayArb, { maxLength: 9 }), (delays, peers) => {
        const t = settled(delays);
        if (judgeHostTrend(t, median(peers), O).predicted) expect(predictDegradation(t.baselines, O).predicted).toBe(true);
      }),
    );
  });

  it('hosts all late together (a busy machine) raise nothing, whatever the shared delays', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 5, maxLength: 15 }), fc.array(delayArb, { minLength: 1, maxLength: 15 }), fc.integer({ min: 2, max: 10 }), (steady, shared, n) => {
        const hosts = Array.from({ length: n }, () => settled([...steady, ...shared]));
        for (const [i, t] of hosts.entries()) {
          const peers = mediansOfOthers(new Map(hosts.map((p, j) => [`h${j}`, p.recentAll!.mean])));
          expect(judgeHostTrend(t, peers.get(`h${i}`), O).predicted).toBe(false);
        }
      }),
    );
  });
});

describe('median', () => {
  it('is the middle value, or the mean of the middle two; undefined when empty', () => {
    expect(median([])).toBeUndefined();
    expect(median([5])).toBe(5);
    expect(median([9, 1, 5])).toBe(5);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe('mediansOfOthers', () => {
  it("each host's entry is the median of every other host's value; alone, it has none", () => {
    expect(mediansOfOthers(new Map([['a', 5]]))).toEqual(new Map([['a', undefined]]));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 40 }), (xs) => {
        const values = new Map(xs.map((x, i) => [`h${i}`, x]));
        const got = mediansOfOthers(values);
        for (const [host] of values) expect(got.get(host)).toBe(median([...values].filter(([h]) => h !== host).map(([, v]) => v)));
      }),
    );
  });
});
