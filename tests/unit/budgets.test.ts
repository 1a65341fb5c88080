// Budgets' pure parts (src/budgets/budget.ts, budgetView.ts, the host's
// decision in src/agents/budgetGate.ts): periods, the body's checks, usage
// reports, alert thresholds, what a report stops, and the view of a key's spend.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyReportEffects } from '../../src/agents/budgetGate.ts';
import { spentKeysOf } from '../../src/coordinator/budgetRelay.ts';
import { alertsDue, budgetFields, budgetFromFields, isOver, isSpent, keyBudgetOf, keyBudgetSchema, periodBounds, spentRatio, taskBudgetSchema, usageOf, usageSchema } from '../../src/budgets/budget.ts';
import { budgetExhausted, budgetView } from '../../src/budgets/budgetView.ts';

const at = (iso: string) => Date.parse(iso);

describe('periods (UTC, on Redis clock)', () => {
  it('hour, day and month start and end where the calendar says', () => {
    expect(periodBounds('hour', at('2026-12-03T22:59:59.999Z'))).toEqual({ start: at('2026-12-03T22:00:00Z'), end: at('2026-12-03T23:00:00Z') });
    expect(periodBounds('day', at('2026-12-03T00:00:00Z'))).toEqual({ start: at('2026-12-03T00:00:00Z'), end: at('2026-12-04T00:00:00Z') });
    expect(periodBounds('month', at('2026-12-31T23:59:59Z'))).toEqual({ start: at('2026-12-01T00:00:00Z'), end: at('2027-01-01T00:00:00Z') });
    expect(periodBounds('month', at('2028-02-29T12:00:00Z'))).toEqual({ start: at('2028-02-01T00:00:00Z'), end: at('2028-03-01T00:00:00Z') });
    expect(periodBounds('month', at('1969-12-15T00:00:00Z'))).toEqual({ start: at('1969-12-01T00:00:00Z'), end: at('1970-01-01T00:00:00Z') });
    expect(periodBounds(15 * 60_000, at('2026-12-03T22:52:00Z'))).toEqual({ start: at('2026-12-03T22:45:00Z'), end: at('2026-12-03T23:00:00Z') });
  });

  it('a month period always holds its instant and runs from the 1st to the next 1st, as Date says', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), (now) => {
        const { start, end } = periodBounds('month', now);
        const d = new Date(now);
        expect(start).toBe(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
        expect(end).toBe(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
        expect(start <= now && now < end).toBe(true);
      }),
    );
  });
});

describe('a key budget as given', () => {
  it('takes tokens, costUsd or both, with defaults: a day, queued tasks wait, running ones are aborted', () => {
    expect(keyBudgetOf(keyBudgetSchema.parse({ tokens: 1000 }))).toEqual({ tokens: 1000, period: 'day', queued: 'wait', running: 'abort' });
    expect(keyBudgetOf(keyBudgetSchema.parse({ costUsd: 2.5, period: 'month', queued: 'fail', running: 'finish' }))).toEqual({ costUsd: 2.5, period: 'month', queued: 'fail', running: 'finish' });
    expect(keyBudgetOf(keyBudgetSchema.parse({}))).toBeNull();
  });

  it('refuses, naming each field: no limit but settings, a bad period, negative or fractional tokens, unknown fields', () => {
    const paths = (v: unknown) => {
      const r = keyBudgetSchema.safeParse(v);
      return r.success ? [] : r.error.issues.map((i) => i.path.join('.') || '(root)').sort();
    };
    expect(paths({ period: 'hour' })).toEqual(['tokens']);
    expect(paths({ tokens: 1.5, costUsd: -1, period: 'week', queued: 'drop', extra: 1 })).toEqual(['(root)', 'costUsd', 'period', 'queued', 'tokens']);
    expect(paths({ tokens: 10, period: 1000 })).toEqual(['period']);
    expect(paths({ tokens: 10, period: 60_000 })).toEqual([]);
    expect(taskBudgetSchema.safeParse({}).success).toBe(false);
  });

  it('round-trips through the fields its scripts read', () => {
    for (const b of [{ tokens: 5, period: 'hour', queued: 'wait', running: 'abort' }, { costUsd: 0.25, period: 3_600_000, queued: 'fail', running: 'finish' }] as const) {
      expect(budgetFromFields(budgetFields(b))).toEqual(b);
    }
    expect(budgetFromFields({ period: 'day' })).toBeNull();
  });
});

describe('usage reports', () => {
  it('tokens is input + output when left out; refused: nothing named, negatives, strings, unknown fields', () => {
    expect(usageOf(usageSchema.parse({ inputTokens: 30, outputTokens: 70 }))).toEqual({ tokens: 100, inputTokens: 30, outputTokens: 70, costUsd: 0 });
    expect(usageOf(usageSchema.parse({ tokens: 5, inputTokens: 30 }))).toMatchObject({ tokens: 5 });
    for (const bad of [{}, { tokens: -1 }, { tokens: '100' }, { tokens: 1, model: 'x' }, null, 7]) expect(usageSchema.safeParse(bad).success).toBe(false);
  });
});

describe('thresholds and limits', () => {
  it('80 and 100 % are due once each: a report that jumps past both raises both', () => {
    expect(alertsDue(0.79, new Set())).toEqual([]);
    expect(alertsDue(0.8, new Set())).toEqual([80]);
    expect(alertsDue(0.95, new Set([80]))).toEqual([]);
    expect(alertsDue(1.3, new Set())).toEqual([80, 100]);
    expect(alertsDue(1, new Set([80, 100]))).toEqual([]);
  });

  it('spent at the limit (no start fits), over only past it; the larger unit counts', () => {
    const b = { tokens: 1000, costUsd: 1 };
    expect(spentRatio({ tokens: 500, costUsd: 0.9 }, b)).toBe(0.9);
    expect(isSpent({ tokens: 999, costUsd: 0 }, b)).toBe(false);
    expect(isSpent({ tokens: 1000, costUsd: 0 }, b)).toBe(true);
    expect(isOver({ tokens: 1000, costUsd: 0 }, b)).toBe(false);
    expect(isOver({ tokens: 1000, costUsd: 1.01 }, b)).toBe(true);
    expect(isSpent({ tokens: 1e9, costUsd: 1e9 }, null)).toBe(false);
  });

  it("a report that uses the last of a key's budget lets its own run finish and stops the others; past it, its own too", () => {
    expect(keyReportEffects({ spent: false, over: false, running: 'abort' })).toEqual({ stopReporter: false, stopOthers: false });
    expect(keyReportEffects({ spent: true, over: false, running: 'abort' })).toEqual({ stopReporter: false, stopOthers: true });
    expect(keyReportEffects({ spent: true, over: true, running: 'abort' })).toEqual({ stopReporter: true, stopOthers: true });
    expect(keyReportEffects({ spent: true, over: true, running: 'finish' })).toEqual({ stopReporter: false, stopOthers: false });
  });

  it("the relay reads a spent key from the stream's 100 % key alerts only", () => {
    const alert = (id: string, data: object): [string, string[]] => [id, ['type', 'budget:alert', 'data', JSON.stringify({ at: 1, task: 't', type: 'x', spent: { tokens: 1, costUsd: 0 }, limit: { tokens: 1 }, ...data })]];
    expect(
      spentKeysOf([
        alert('1-0', { scope: 'key', threshold: 100, key: 'a' }),
        alert('2-0', { scope: 'key', threshold: 80, key: 'b' }),
        alert('3-0', { scope: 'task', threshold: 100, key: 'c' }),
        ['4-0', ['type', 'metrics:updated', 'data', '{}']],
        alert('5-0', { scope: 'key', threshold: 100, key: 'a' }),
      ]),
    ).toEqual(['a']);
  });
});

describe("a key's spend as read", () => {
  const read = (spentStart: number) => ({
    now: at('2026-12-03T12:00:00Z'),
    budget: { tokens: '1000', period: 'day', queued: 'wait', running: 'abort' },
    periodStart: at('2026-12-03T00:00:00Z'),
    periodEnd: at('2026-12-04T00:00:00Z'),
    spent: { start: String(spentStart), period: 'day', tokens: '1000', costUsd: '0.5', reports: '10', 't:summarize:tokens': '600', 't:embed:tokens': '400', 'alerted:80': '1', 'alerted:100': '2' },
    usage: { 'summarize|tokens': '6000', 'summarize|reports': '60', 'a|b|costUsd': '0.25' },
    held: 2,
  });

  it('counts the current period only; by type; all-time usage by type; exhausted with the figures of its refusal', () => {
    const v = budgetView('acme', read(at('2026-12-03T00:00:00Z')));
    expect(v).toMatchObject({ exhausted: true, ratio: 1, alerted: [80, 100], waiting: 2, resetsAt: at('2026-12-04T00:00:00Z') });
    expect(v.byType).toEqual({ summarize: { tokens: 600, costUsd: 0 }, embed: { tokens: 400, costUsd: 0 } });
    expect(v.usage.summarize).toMatchObject({ tokens: 6000, reports: 60 });
    expect(v.usage['a|b']).toMatchObject({ costUsd: 0.25 });
    const stale = budgetView('acme', read(at('2026-12-02T00:00:00Z')));
    expect(stale).toMatchObject({ exhausted: false, ratio: 0, alerted: [], spent: { tokens: 0 } });
    const err = budgetExhausted({ key: 'acme', spent: { tokens: 1000, costUsd: 0.5 }, limit: { tokens: 1000 }, resetsAt: v.resetsAt, period: 'day' });
    expect(err.status).toBe(429);
    expect(err.toJSON()).toEqual({ error: { code: 'budget_exhausted', message: expect.stringMatching(/acme.*1,000 of 1,000 tokens.*2026-12-04T00:00:00.000Z/), details: { key: 'acme', spent: { tokens: 1000, costUsd: 0.5 }, limit: { tokens: 1000 }, resetsAt: v.resetsAt, period: 'day' } } });
  });
});
