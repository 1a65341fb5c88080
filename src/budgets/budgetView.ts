// A key's budget as an operator reads it (GET /api/keys/:key/budget, `swarmq
// budget get`, the metrics, the dashboard) and the refusal a submit gets once
// it is spent: built from what readBudget-4.lua read. Pure.
import type { BudgetRead } from '../../queues/budgetState.ts';
import { SwarmError } from '../errors.ts';
import { ALERT_THRESHOLDS, budgetFromFields, isSpent, periodText, spentRatio, type KeyBudget, type Usage } from './budget.ts';

export interface BudgetView {
  key: string;
  /** Null: the key has no budget (its usage is still counted). */
  budget: KeyBudget | null;
  /** The current period, on Redis's clock (ms): its spend resets at `resetsAt`. */
  periodStart: number;
  resetsAt: number;
  spent: Usage & { reports: number };
  /** Spent by task type this period. */
  byType: Record<string, { tokens: number; costUsd: number }>;
  /** The larger of tokens and cost spent over their limits (0 without a budget). */
  ratio: number;
  /** No start fits any more until `resetsAt` (or a raise). */
  exhausted: boolean;
  /** Alert thresholds (%) reached this period. */
  alerted: number[];
  /** Tasks of the key waiting for the period to reset. */
  waiting: number;
  /** All time, by task type: what the metrics' counters export. */
  usage: Record<string, Usage & { reports: number }>;
}

function n(v: string | undefined): number {
  const x = Number(v ?? 0);
  return Number.isFinite(x) && x > 0 ? x : 0;
}

export function budgetView(key: string, r: BudgetRead): BudgetView {
  const budget = budgetFromFields(r.budget);
  const current = r.spent.start === String(r.periodStart) && (r.spent.period ?? 'day') === (r.budget.period ?? 'day');
  const s = current ? r.spent : {};
  const spent = { tokens: n(s.tokens), inputTokens: n(s.inputTokens), outputTokens: n(s.outputTokens), costUsd: n(s.costUsd), reports: n(s.reports) };
  const byType: BudgetView['byType'] = {};
  for (const [field, v] of Object.entries(s)) {
    const m = /^t:(.+):(tokens|costUsd)$/.exec(field);
    if (!m) continue;
    const entry = (byType[m[1]!] ??= { tokens: 0, costUsd: 0 });
    entry[m[2] as 'tokens' | 'costUsd'] = n(v);
  }
  return {
    key,
    budget,
    periodStart: r.periodStart,
    resetsAt: r.periodEnd,
    spent,
    byType,
    ratio: spentRatio(spent, budget),
    exhausted: isSpent(spent, budget),
    alerted: ALERT_THRESHOLDS.filter((t) => s[`alerted:${t}`] !== undefined),
    waiting: r.held,
    usage: usageByType(r.usage),
  };
}

/** A flat `<type>|<unit>` hash as totals by type. */
export function usageByType(flat: Record<string, string>): Record<string, Usage & { reports: number }> {
  const out: Record<string, Usage & { reports: number }> = {};
  for (const [field, v] of Object.entries(flat)) {
    const bar = field.lastIndexOf('|');
    if (bar <= 0) continue;
    const unit = field.slice(bar + 1);
    if (unit !== 'tokens' && unit !== 'inputTokens' && unit !== 'outputTokens' && unit !== 'costUsd' && unit !== 'reports') continue;
    const entry = (out[field.slice(0, bar)] ??= { tokens: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, reports: 0 });
    entry[unit] = n(v);
  }
  return out;
}

/** The figures a refusal carries: what was spent and the limits, by unit, and when the period resets. */
export interface BudgetFigures {
  key: string;
  spent: { tokens: number; costUsd: number };
  limit: { tokens?: number; costUsd?: number };
  resetsAt: number;
  period: string;
}

function amounts(f: BudgetFigures): string {
  const parts: string[] = [];
  if (f.limit.tokens !== undefined) parts.push(`${f.spent.tokens.toLocaleString('en')} of ${f.limit.tokens.toLocaleString('en')} tokens`);
  if (f.limit.costUsd !== undefined) parts.push(`$${round(f.spent.costUsd)} of $${round(f.limit.costUsd)}`);
  return parts.join(', ');
}

function round(v: number): string {
  return String(Math.round(v * 1e6) / 1e6);
}

/** The figures of a view whose budget is spent. */
export function figuresOf(v: BudgetView): BudgetFigures {
  const b = v.budget;
  return {
    key: v.key,
    spent: { tokens: v.spent.tokens, costUsd: v.spent.costUsd },
    limit: { ...(b?.tokens !== undefined ? { tokens: b.tokens } : {}), ...(b?.costUsd !== undefined ? { costUsd: b.costUsd } : {}) },
    resetsAt: v.resetsAt,
    period: b ? periodText(b.period) : 'day',
  };
}

/** A submit refused because its key's budget is spent: 429 budget_exhausted, the figures in `details`. */
export function budgetExhausted(f: BudgetFigures): SwarmError {
  return new SwarmError(
    'budget_exhausted',
    `key ${f.key} has spent its budget for this ${f.period}: ${amounts(f)}; it resets at ${new Date(f.resetsAt).toISOString()}. ` + `Submit after that, or raise the budget (PUT /api/keys/${f.key}/budget, swarmq budget set ${f.key})`,
    { ...f },
  );
}

/** Why a queued task of a spent key failed (its budget's `queued: 'fail'`), or waits. */
export function spentReason(f: BudgetFigures, verdict: 'wait' | 'fail'): string {
  return verdict === 'fail'
    ? `key ${f.key} has spent its budget for this ${f.period} (${amounts(f)}); its queued tasks fail by its budget's setting (queued: "fail")`
    : `key ${f.key} has spent its budget for this ${f.period} (${amounts(f)}); waiting until it resets at ${new Date(f.resetsAt).toISOString()}`;
}
