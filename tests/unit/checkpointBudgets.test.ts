// A checkpoint's budgets, pure (src/checkpoint/budgetFormat.ts and the keys
// section of format.ts and plan.ts): a key's budget and this period's spend
// read from its hashes round-trip through the file into what the restore
// script writes; files without the fields (version 3 before budgets, versions
// 1 and 2) still read; spend of a period that has ended is not carried; a
// malformed entry is refused by its path.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { budgetFields, periodBounds, type KeyBudget } from '../../src/budgets/budget.ts';
import { budgetToWrite, carriedBudgetOf, spendToWrite } from '../../src/checkpoint/budgetFormat.ts';
import { parseCheckpoint } from '../../src/checkpoint/format.ts';
import { planRestore } from '../../src/checkpoint/plan.ts';
import { SwarmError } from '../../src/errors.ts';
import { emptyCheckpoint } from '../support/checkpointData.ts';

const at = (iso: string) => Date.parse(iso);
const NOW = at('2026-12-04T03:00:00Z');
const DAY = periodBounds('day', NOW);

/** A spent hash as recordUsage-4.lua leaves it after reports of two task types and the 80 % alert. */
const spentHash = (over: Record<string, string> = {}): Record<string, string> => ({
  start: String(DAY.start),
  end: String(DAY.end),
  period: 'day',
  tokens: '850',
  inputTokens: '340',
  outputTokens: '510',
  costUsd: '0.0085',
  reports: '9',
  't:charge:tokens': '800',
  't:charge:costUsd': '0.008',
  't:sum.up:tokens': '50',
  't:sum.up:costUsd': '0.0005',
  'alerted:80': String(NOW - 5000),
  ...over,
});

const budget: KeyBudget = { tokens: 1000, costUsd: 2.5, period: 'day', queued: 'fail', running: 'finish' };

/** A file's text as `swarmq checkpoint` writes it, with these keys. */
const fileWith = (keys: unknown[]) => JSON.stringify({ ...emptyCheckpoint(), keys });

describe("a key's budget and spend in a checkpoint", () => {
  it('round-trips: hashes → file → parsed → the fields the restore script writes are the hashes it was read from', () => {
    const { part, warnings } = carriedBudgetOf('acme', budgetFields(budget), spentHash(), NOW);
    expect(warnings).toEqual([]);
    expect(part).toEqual({
      budget,
      spent: {
        period: 'day',
        start: DAY.start,
        end: DAY.end,
        tokens: 850,
        inputTokens: 340,
        outputTokens: 510,
        costUsd: 0.0085,
        reports: 9,
        byType: { charge: { tokens: 800, costUsd: 0.008 }, 'sum.up': { tokens: 50, costUsd: 0.0005 } },
        alerted: [{ threshold: 80, at: NOW - 5000 }],
      },
    });
    const cp = parseCheckpoint(fileWith([{ key: 'acme', limits: { maxActive: 2 }, ...part }]));
    expect(cp.keys).toEqual([{ key: 'acme', limits: { maxActive: 2 }, ...part }]);
    const plan = planRestore(cp, 'p', NOW);
    expect(plan.counts).toMatchObject({ keyLimits: 1, keyBudgets: 1, keySpend: 1 });
    const { start, end, period, ...amounts } = spentHash();
    expect(plan.keys.budgets).toEqual([{ key: 'acme', budget: { fields: budgetFields(budget), json: JSON.stringify(budget) }, spent: { start, period, fields: amounts } }]);
    expect(end).toBe(String(DAY.end));
  });

  it('round-trips any budget and spend of a period holding the checkpoint (property)', () => {
    const periods = fc.oneof(fc.constantFrom('hour' as const, 'day' as const, 'month' as const), fc.integer({ min: 60_000, max: 366 * 86_400_000 }));
    fc.assert(
      fc.property(periods, fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.nat({ max: 1e12 }), fc.double({ min: 0, max: 1e6, noNaN: true }), fc.nat({ max: 1e6 }), (period, now, tokens, costUsd, reports) => {
        const b: KeyBudget = { tokens: 1000, period, queued: 'wait', running: 'abort' };
        const { start, end } = periodBounds(period, now);
        const hash = { start: String(start), end: String(end), period: budgetFields(b).period!, tokens: String(tokens), inputTokens: '0', outputTokens: String(tokens), costUsd: String(costUsd), reports: String(reports) };
        const { part, warnings } = carriedBudgetOf('k', budgetFields(b), hash, now);
        expect(warnings).toEqual([]);
        const back = parseCheckpoint(fileWith([{ key: 'k', limits: {}, ...part }])).keys[0]!;
        const written = spendToWrite(back.spent!);
        expect(written).toEqual({ start: String(start), period: hash.period, fields: { tokens: String(tokens), inputTokens: '0', outputTokens: String(tokens), costUsd: String(costUsd), reports: String(reports) } });
        expect(budgetToWrite(back.budget!).fields).toEqual(budgetFields(b));
      }),
    );
  });

  it('a budget written with its defaults is carried whole; a key with neither budget nor spend carries neither field', () => {
    expect(carriedBudgetOf('a', { tokens: '500' }, {}, NOW).part).toEqual({ budget: { tokens: 500, period: 'day', queued: 'wait', running: 'abort' } });
    expect(carriedBudgetOf('a', {}, {}, NOW)).toEqual({ part: {}, warnings: [] });
    // A key without a budget still has its spend counted (over the default day): carried, so a budget set later in the period meets it.
    expect(carriedBudgetOf('a', {}, spentHash(), NOW).part).toEqual({ spent: expect.objectContaining({ tokens: 850, period: 'day' }) });
    // A budget hash naming no limit (cleared) is no budget.
    expect(budgetToWrite({ costUsd: 3 })).toEqual({ fields: { costUsd: '3', period: 'day', queued: 'wait', running: 'abort' }, json: JSON.stringify({ costUsd: 3, period: 'day', queued: 'wait', running: 'abort' }) });
  });

  it('leaves out spend that is not of the current period: one that ended before the checkpoint, or counted over another period than the budget now has', () => {
    const yesterday = periodBounds('day', NOW - 86_400_000);
    const stale = carriedBudgetOf('acme', budgetFields(budget), spentHash({ start: String(yesterday.start), end: String(yesterday.end) }), NOW);
    expect(stale).toEqual({ part: { budget }, warnings: [] });
    // The period turned from hour to day: the scripts start a new count, so the hour's spend is not the day's.
    const hour = periodBounds('hour', NOW);
    expect(carriedBudgetOf('acme', budgetFields(budget), spentHash({ period: 'hour', start: String(hour.start), end: String(hour.end) }), NOW).part).toEqual({ budget });
    // The last instant of the period is still in it.
    expect(carriedBudgetOf('acme', budgetFields(budget), spentHash(), DAY.end - 1).part.spent).toBeDefined();
    expect(carriedBudgetOf('acme', budgetFields(budget), spentHash(), DAY.end).part.spent).toBeUndefined();
  });

  it('warns about a spent hash swarmq did not write, and carries the budget without it', () => {
    const { part, warnings } = carriedBudgetOf('acme', budgetFields(budget), spentHash({ start: String(DAY.start + 1) }), NOW);
    expect(part).toEqual({ budget });
    expect(warnings).toEqual([expect.stringMatching(/^key acme: its spend this period .* is not spend swarmq records \(start: .* is not a day period/)]);
    // A task type no task could have leaves out that type's share only.
    const oddType = carriedBudgetOf('acme', budgetFields(budget), spentHash({ 't:a b:tokens': '7' }), NOW);
    expect(oddType.part.spent).toMatchObject({ tokens: 850, byType: { charge: { tokens: 800 } } });
    expect(Object.keys(oddType.part.spent!.byType)).toEqual(['charge', 'sum.up']);
    expect(oddType.warnings).toEqual(['key acme: its spend this period names "a b", not a task type; that type\'s share left out, the totals carried']);
  });

  it('reads files without the fields: version 3 from before budgets, and versions 1 and 2; the restore plans no budget', () => {
    const old = parseCheckpoint(fileWith([{ key: 'acme', limits: { weight: 2 } }]));
    expect(old.keys).toEqual([{ key: 'acme', limits: { weight: 2 } }]);
    expect(planRestore(old, 'p', NOW)).toMatchObject({ keys: { budgets: [] }, counts: { keyBudgets: 0, keySpend: 0 } });
    for (const version of [1, 2]) {
      const v = { ...emptyCheckpoint(), version } as Record<string, unknown>;
      delete v.keys;
      if (version === 1) delete v.consensus;
      expect(planRestore(parseCheckpoint(JSON.stringify(v)), 'p', NOW).keys.budgets).toEqual([]);
    }
  });

  it('refuses a malformed entry by its path before anything is written', () => {
    const { part } = carriedBudgetOf('acme', budgetFields(budget), spentHash(), NOW);
    const refused = (entry: Record<string, unknown>): string => {
      try {
        parseCheckpoint(fileWith([{ key: 'acme', limits: {}, ...entry }]));
      } catch (err) {
        expect(err).toBeInstanceOf(SwarmError);
        return (err as SwarmError).message;
      }
      throw new Error('accepted');
    };
    expect(refused({ budget: { period: 'day' } })).toMatch(/keys\.0\.budget\.tokens: a carried budget names tokens, costUsd or both/);
    expect(refused({ budget: { tokens: -1 } })).toMatch(/keys\.0\.budget\.tokens/);
    expect(refused({ spent: { ...part.spent!, start: part.spent!.start + 3_600_000 } })).toMatch(/keys\.0\.spent\.start: .* is not a day period/);
    expect(refused({ spent: { ...part.spent!, tokens: -5 } })).toMatch(/keys\.0\.spent\.tokens/);
    expect(refused({ spent: { ...part.spent!, alerted: [{ threshold: 50, at: 1 }] } })).toMatch(/keys\.0\.spent\.alerted\.0\.threshold/);
    expect(refused({ spent: { ...part.spent!, alerted: [{ threshold: 80, at: 1 }, { threshold: 80, at: 2 }] } })).toMatch(/threshold 80 appears twice/);
    expect(refused({ spent: { ...part.spent!, held: 3 } })).toMatch(/keys\.0\.spent/);
  });
});
