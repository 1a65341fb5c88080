// A key's budget and a task's (docs/budgets.md): what an operator sets (PUT
// /api/keys/:key/budget, `swarmq budget set`, the client) and a producer asks
// for (a task's `budget`), checked with zod at each way in; the periods a
// key's spend is counted over, on Redis's clock (queues/commands/includes/
// budgetPeriod.lua does the same arithmetic in the scripts); the alert
// thresholds; and the shapes the key's budget hash holds. Pure.
import { z } from 'zod';

/** A calendar period (UTC), or a length in ms counted from the epoch. */
export type Period = 'hour' | 'day' | 'month' | number;

export const MIN_PERIOD_MS = 60_000;
export const MAX_PERIOD_MS = 366 * 24 * 3600 * 1000;
/** Most tokens and dollars a budget (or one report) may name: past 2^53 counts stop being exact. */
export const MAX_TOKENS = 1e15;
export const MAX_COST_USD = 1e9;

/** Thresholds of a budget at which a `budget:alert` is published, once each per period. */
export const ALERT_THRESHOLDS = [80, 100] as const;
export type AlertThreshold = (typeof ALERT_THRESHOLDS)[number];

/** What happens to the key's queued tasks once its budget is spent (wait: until the period resets, no attempt spent), and to its running ones. */
export type WhenQueued = 'wait' | 'fail';
export type WhenRunning = 'abort' | 'finish';

export interface KeyBudget {
  tokens?: number;
  costUsd?: number;
  period: Period;
  queued: WhenQueued;
  running: WhenRunning;
}

/** A task's own budget: its whole spend, over every attempt. */
export interface TaskBudget {
  tokens?: number;
  costUsd?: number;
}

const PERIOD_HELP = `a period is "hour", "day" or "month" (UTC), or a length in ms from ${MIN_PERIOD_MS} to ${MAX_PERIOD_MS}`;

export const periodSchema = z.union([z.enum(['hour', 'day', 'month']), z.int().min(MIN_PERIOD_MS).max(MAX_PERIOD_MS)], { error: PERIOD_HELP });

const tokensSchema = z.int().min(1).max(MAX_TOKENS);
const costSchema = z.number().positive().max(MAX_COST_USD);

/** What PUT /api/keys/:key/budget takes: the key's whole budget; `{}` clears it. */
export const keyBudgetSchema = z
  .strictObject({
    tokens: tokensSchema.optional(),
    costUsd: costSchema.optional(),
    period: periodSchema.optional(),
    /** Once spent: the key's queued tasks wait for the period's reset (default), or fail. */
    queued: z.enum(['wait', 'fail']).optional(),
    /** Once spent: the key's running tasks are aborted (default, ctx.signal's reason a BudgetExceededError), or finish. */
    running: z.enum(['abort', 'finish']).optional(),
  })
  .refine((b) => b.tokens !== undefined || b.costUsd !== undefined || (b.period === undefined && b.queued === undefined && b.running === undefined), {
    message: 'a budget names tokens, costUsd or both (send {} to clear it)',
    path: ['tokens'],
  });

/** A budget as a caller gives it (PUT /api/keys/:key/budget, swarm.setKeyBudget). */
export type KeyBudgetInput = z.input<typeof keyBudgetSchema>;

/** A task's `budget` at submit. */
export const taskBudgetSchema = z
  .strictObject({ tokens: tokensSchema.optional(), costUsd: costSchema.optional() })
  .refine((b) => b.tokens !== undefined || b.costUsd !== undefined, { message: 'a budget names tokens, costUsd or both', path: ['tokens'] });

/** The budget as given (checked), with its defaults; null for `{}` (no budget). */
export function keyBudgetOf(input: z.output<typeof keyBudgetSchema>): KeyBudget | null {
  if (input.tokens === undefined && input.costUsd === undefined) return null;
  return {
    ...(input.tokens !== undefined ? { tokens: input.tokens } : {}),
    ...(input.costUsd !== undefined ? { costUsd: input.costUsd } : {}),
    period: input.period ?? 'day',
    queued: input.queued ?? 'wait',
    running: input.running ?? 'abort',
  };
}

/** What a processor reports with ctx.usage (an HTTP agent in its answer): amounts spent since its last report. */
export const usageSchema = z
  .strictObject({
    tokens: z.number().min(0).max(MAX_TOKENS).optional(),
    inputTokens: z.number().min(0).max(MAX_TOKENS).optional(),
    outputTokens: z.number().min(0).max(MAX_TOKENS).optional(),
    costUsd: z.number().min(0).max(MAX_COST_USD).optional(),
  })
  .refine((u) => Object.values(u).some((v) => v !== undefined), { message: 'a usage report names tokens, inputTokens, outputTokens or costUsd' });

export interface Usage {
  tokens: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export const NO_USAGE: Usage = { tokens: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };

/** A report as counted: `tokens` is the total, input + output when it is not given. */
export function usageOf(u: z.output<typeof usageSchema>): Usage {
  const inputTokens = u.inputTokens ?? 0;
  const outputTokens = u.outputTokens ?? 0;
  return { tokens: u.tokens ?? inputTokens + outputTokens, inputTokens, outputTokens, costUsd: u.costUsd ?? 0 };
}

export function addUsage(a: Usage, b: Usage): Usage {
  return { tokens: a.tokens + b.tokens, inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens, costUsd: a.costUsd + b.costUsd };
}

// Civil dates from days since the epoch and back (H. Hinnant's algorithms), for month periods without a Date.
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z0: number): { y: number; m: number } {
  const z1 = z0 + 719468;
  const era = Math.floor(z1 / 146097);
  const doe = z1 - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const m = mp < 10 ? mp + 3 : mp - 9;
  return { y: yoe + era * 400 + (m <= 2 ? 1 : 0), m };
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

/** The period holding `nowMs`: its start (inclusive) and end (exclusive, when it resets), in ms. */
export function periodBounds(period: Period, nowMs: number): { start: number; end: number } {
  if (typeof period === 'number') {
    const start = Math.floor(nowMs / period) * period;
    return { start, end: start + period };
  }
  if (period === 'hour') {
    const start = Math.floor(nowMs / HOUR) * HOUR;
    return { start, end: start + HOUR };
  }
  if (period === 'day') {
    const start = Math.floor(nowMs / DAY) * DAY;
    return { start, end: start + DAY };
  }
  const { y, m } = civilFromDays(Math.floor(nowMs / DAY));
  const next = m === 12 ? { y: y + 1, m: 1 } : { y, m: m + 1 };
  return { start: daysFromCivil(y, m, 1) * DAY, end: daysFromCivil(next.y, next.m, 1) * DAY };
}

/** How the budget hash names a period (the scripts read it). */
export function periodField(p: Period): string {
  return typeof p === 'number' ? String(p) : p;
}

export function periodFromField(v: string | undefined): Period {
  if (v === 'hour' || v === 'day' || v === 'month') return v;
  const n = Number(v);
  return Number.isInteger(n) && n >= MIN_PERIOD_MS && n <= MAX_PERIOD_MS ? n : 'day';
}

/** The spent share of the budget, the larger of its units' (0 without a budget). */
export function spentRatio(spent: Pick<Usage, 'tokens' | 'costUsd'>, b: Pick<KeyBudget, 'tokens' | 'costUsd'> | null): number {
  if (!b) return 0;
  return Math.max(b.tokens ? spent.tokens / b.tokens : 0, b.costUsd ? spent.costUsd / b.costUsd : 0);
}

/** Spent: no start fits any more (some unit is at or past its limit). */
export function isSpent(spent: Pick<Usage, 'tokens' | 'costUsd'>, b: Pick<KeyBudget, 'tokens' | 'costUsd'> | null): boolean {
  return b !== null && spentRatio(spent, b) >= 1;
}

/** Over: some unit past its limit (a task over its own budget is stopped). */
export function isOver(spent: Pick<Usage, 'tokens' | 'costUsd'>, b: Pick<TaskBudget, 'tokens' | 'costUsd'>): boolean {
  return (b.tokens !== undefined && spent.tokens > b.tokens) || (b.costUsd !== undefined && spent.costUsd > b.costUsd);
}

/** The thresholds a spend reaching `ratio` has crossed that were not alerted yet this period. */
export function alertsDue(ratio: number, alerted: ReadonlySet<number>): AlertThreshold[] {
  return ALERT_THRESHOLDS.filter((t) => ratio * 100 >= t && !alerted.has(t));
}

/** The fields of the key's budget hash, as its scripts read them. */
export function budgetFields(b: KeyBudget): Record<string, string> {
  return {
    ...(b.tokens !== undefined ? { tokens: String(b.tokens) } : {}),
    ...(b.costUsd !== undefined ? { costUsd: String(b.costUsd) } : {}),
    period: periodField(b.period),
    queued: b.queued,
    running: b.running,
  };
}

function positive(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** The budget a key's budget hash holds; null when it names no limit. */
export function budgetFromFields(f: Record<string, string>): KeyBudget | null {
  const tokens = positive(f.tokens);
  const costUsd = positive(f.costUsd);
  if (tokens === undefined && costUsd === undefined) return null;
  return {
    ...(tokens !== undefined ? { tokens } : {}),
    ...(costUsd !== undefined ? { costUsd } : {}),
    period: periodFromField(f.period),
    queued: f.queued === 'fail' ? 'fail' : 'wait',
    running: f.running === 'finish' ? 'finish' : 'abort',
  };
}

/** A period as words, for errors and the CLI: `day`, `hour`, `month`, `15 min`. */
export function periodText(p: Period): string {
  if (typeof p !== 'number') return p;
  if (p % DAY === 0) return `${p / DAY} d`;
  if (p % HOUR === 0) return `${p / HOUR} h`;
  if (p % 60_000 === 0) return `${p / 60_000} min`;
  return `${p} ms`;
}
