// The core bench's budget verdicts: DESIGN.md's figures, each contender against
// its measure in the same run, a budget exactly reached counting as met.
import { describe, expect, it } from 'vitest';
import { coreBudgets, type TimingFigures } from '../../bench/support/coreBudgets.ts';

const fig = (pickupP50Ms: number, pickupP99Ms: number, throughputC1: number, throughputC50: number): TimingFigures => ({ pickupP50Ms, pickupP99Ms, throughputC1, throughputC50 });
const verdicts = (r: Parameters<typeof coreBudgets>[0]) => Object.fromEntries(coreBudgets(r).map((b) => [b.budget, b.met]));

describe('coreBudgets', () => {
  it('judges the client, intake, HTTP and keyed budgets at their edges', () => {
    const raw = fig(0.2, 1, 1000, 2000);
    expect(verdicts({ raw, swarmq: fig(0.26, 5, 900, 1800), intake: fig(0.4, 9, 500, 1400), http: fig(1.26, 3, 100, 100), keyed: fig(0.286, 2, 900, 1800) })).toEqual({
      'client: pickup p50 ≤ 1.3× raw': true,
      'client: pickup p99 ≤ 5 ms': true,
      'client: throughput c1 ≥ 0.9× raw': true,
      'client: throughput c50 ≥ 0.9× raw': true,
      'intake: pickup p50 ≤ 2× raw': true,
      'intake: throughput c50 ≥ 0.7× raw': true,
      'HTTP agent: pickup p50 ≤ 1 ms added': true,
      'keyed (issue 19): pickup p50 ≤ 10 % more than without a key': true,
    });
    expect(verdicts({ raw, swarmq: fig(0.27, 5.1, 899, 1799), intake: fig(0.41, 9, 500, 1399), http: fig(1.28, 3, 100, 100), keyed: fig(0.3, 2, 900, 1800) })).toEqual({
      'client: pickup p50 ≤ 1.3× raw': false,
      'client: pickup p99 ≤ 5 ms': false,
      'client: throughput c1 ≥ 0.9× raw': false,
      'client: throughput c50 ≥ 0.9× raw': false,
      'intake: pickup p50 ≤ 2× raw': false,
      'intake: throughput c50 ≥ 0.7× raw': false,
      'HTTP agent: pickup p50 ≤ 1 ms added': false,
      'keyed (issue 19): pickup p50 ≤ 10 % more than without a key': false,
    });
  });

  it('judges only what ran', () => {
    expect(coreBudgets({ swarmq: fig(0.3, 1, 1, 1), keyed: fig(0.3, 1, 1, 1) }).map((b) => b.budget)).toEqual(['keyed (issue 19): pickup p50 ≤ 10 % more than without a key']);
    expect(coreBudgets({ raw: fig(0.3, 1, 1, 1) })).toEqual([]);
  });
});
