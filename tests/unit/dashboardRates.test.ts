// Throughput and latency points, and the sparklines that plot them.
import { describe, expect, it } from 'vitest';
import { quantile, ratePoint, spreadSample } from '../../dashboards/ratePoint.ts';
import { sparkline, sparkPath } from '../../dashboards/client/sparkline.ts';
import { ratesPanel } from '../../dashboards/client/views.ts';

describe('ratePoint', () => {
  it('counts finished tasks and takes nearest-rank quantiles of wait and run times', () => {
    const sample = Array.from({ length: 20 }, (_, i) => ({ createdAt: 0, startedAt: i + 1, finishedAt: i + 1 + 100 }));
    const p = ratePoint(5000, 1000, 20, 2, sample);
    expect(p).toEqual({ at: 5000, intervalMs: 1000, completed: 20, failed: 2, waitMs: { p50: 10, p95: 19 }, runMs: { p50: 100, p95: 100 } });
  });

  it('has no latency for an interval where nothing finished, and clamps clock skew at zero', () => {
    expect(ratePoint(1, 1000, 0, 0, []).waitMs).toBeNull();
    expect(ratePoint(1, 1000, 1, 0, [{ createdAt: 50, startedAt: 40, finishedAt: 45 }]).waitMs).toEqual({ p50: 0, p95: 0 });
  });

  it('quantiles, and a sample spread evenly over the finished tasks', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(quantile([1, 2, 3, 4], 1)).toBe(4);
    expect(quantile([], 0.5)).toBeNaN();
    expect(spreadSample([1, 2, 3], 5)).toEqual([1, 2, 3]);
    expect(spreadSample([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 4)).toEqual([0, 2, 5, 7]);
    expect(spreadSample([1, 2], 0)).toEqual([]);
  });
});

describe('sparkline', () => {
  it('scales values into the box, breaks the line at gaps and marks lone points', () => {
    expect(sparkPath([0, 5, 10], 100, 10, 10)).toBe('M0.0,10.0L50.0,5.0L100.0,0.0');
    expect(sparkPath([1, null, 2, 3], 30, 10, 10)).toBe('M0.0,9.0h0.1M20.0,8.0L30.0,7.0');
    expect(sparkPath([], 30, 10, 10)).toBe('');
  });

  it('labels the top of its scale, at least the given minimum', () => {
    expect(sparkline([{ name: 'a', className: 'a', values: [0, 0] }], { width: 100, height: 40, minMax: 5, unit: 'ms' })).toContain('>5 ms<');
    expect(sparkline([{ name: 'a', className: 'a', values: [1200, 3] }], { width: 100, height: 40, minMax: 5, unit: '/s' })).toContain('>1.2k /s<');
  });

  it('the rates panel shows tasks per second over the recent points', () => {
    const points = [0, 1, 2].map((i) => ratePoint(1000 * (i + 1), 1000, 10, 0, [{ createdAt: 0, startedAt: 3, finishedAt: 10 }]));
    const html = ratesPanel(points);
    expect(html).toContain('data-now="throughput">10 tasks/s');
    expect(html).toContain('wait p50 3 ms');
    expect(ratesPanel([])).toContain('Sampling');
  });
});
