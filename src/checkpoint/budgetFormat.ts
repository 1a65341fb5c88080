// Pure: a key's budget and its current period's spend as a checkpoint carries
// them (the optional `budget` and `spent` fields of a version-3 `keys` entry:
// optional, so files written before budgets were carried restore as they are).
// From the key's budget and spent hashes as read (snapshot side), and back to
// the fields the restore script writes (restore side).
//
// The spend names its period (`period`, `start`, `end`) so that a restore can
// tell whether it is still the current one on the target's clock: spend of a
// period that has ended is not written back (restoreBudget-3.lua decides, on
// Redis's clock). Not carried: the previous period's spend (`spent-prev`), the
// all-time totals by type (`usage`), and which tasks wait for the period
// (`budget-held`): see docs/budgets.md.
import { z } from 'zod';
import { ALERT_THRESHOLDS, budgetFields, budgetFromFields, keyBudgetOf, keyBudgetSchema, periodBounds, periodField, periodFromField, periodSchema, type AlertThreshold, type KeyBudget, type Period } from '../budgets/budget.ts';
import { taskTypeSchema } from '../tasks/schema.ts';

const ms = z.number().int().min(0);
/** Spend may run past a limit (reports in flight), but not past what a double counts exactly. */
const amount = z.number().min(0).max(Number.MAX_SAFE_INTEGER);

/** A key's budget as carried: the whole budget as its hash held it; a budget names a limit (no budget: the field is left out). */
export const carriedBudgetSchema = keyBudgetSchema.refine((b) => b.tokens !== undefined || b.costUsd !== undefined, {
  message: 'a carried budget names tokens, costUsd or both (a key without a budget carries no `budget` field)',
  path: ['tokens'],
});
export type CarriedBudget = z.infer<typeof carriedBudgetSchema>;

/** The spend of the period that was current when the checkpoint was taken, with that period's identity. */
export const carriedSpendSchema = z
  .strictObject({
    /** The budget's period the spend was counted over (the default, day, for a key without a budget). */
    period: periodSchema,
    /** The period's start and end (ms, UTC): the restore writes the spend back only while this period is current. */
    start: ms,
    end: ms,
    tokens: amount,
    inputTokens: amount,
    outputTokens: amount,
    costUsd: amount,
    reports: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
    /** Spent this period by task type. */
    byType: z.record(taskTypeSchema, z.strictObject({ tokens: amount, costUsd: amount })),
    /** Alert thresholds (%) already fired this period, and when: they do not fire again in it after a restore. */
    alerted: z.array(z.strictObject({ threshold: z.literal(ALERT_THRESHOLDS), at: ms })),
  })
  .superRefine((s, ctx) => {
    const b = periodBounds(s.period as Period, s.start);
    if (b.start !== s.start || b.end !== s.end) {
      ctx.addIssue({ code: 'custom', path: ['start'], message: `${s.start}..${s.end} is not a ${String(s.period)} period (one starting at ${s.start} would be ${b.start}..${b.end})` });
    }
    const seen = new Set<number>();
    s.alerted.forEach((a, i) => {
      if (seen.has(a.threshold)) ctx.addIssue({ code: 'custom', path: ['alerted', i, 'threshold'], message: `threshold ${a.threshold} appears twice` });
      seen.add(a.threshold);
    });
  });
export type CarriedSpend = z.infer<typeof carriedSpendSchema>;

/** What a `keys` entry carries of a key's budget; both absent for a key with neither a budget nor spend this period. */
export interface CarriedBudgetPart {
  budget?: KeyBudget;
  spent?: CarriedSpend;
}

function num(v: string | undefined): number {
  const n = Number(v ?? 0);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/**
 * A key's budget and spend as a checkpoint taken at `now` (Redis's clock) carries
 * them, from its budget and spent hashes as read. Spend is carried when it is of
 * the budget's period (a changed period starts a new count, as the scripts do)
 * and that period had not ended by `now`; otherwise it is not this period's and
 * is left out (the warning says why when it is malformed, not when merely old).
 */
export function carriedBudgetOf(key: string, budgetHash: Record<string, string>, spentHash: Record<string, string>, now: number): { part: CarriedBudgetPart; warnings: string[] } {
  const warnings: string[] = [];
  const part: CarriedBudgetPart = {};
  const budget = budgetFromFields(budgetHash);
  if (budget) {
    const checked = carriedBudgetSchema.safeParse(budget);
    if (checked.success) part.budget = budget;
    else warnings.push(`key ${key}: its budget ${JSON.stringify(budgetHash)} is not one swarmq sets (${checked.error.issues.map((i) => i.message).join('; ')}); carried without it`);
  }
  // The period the scripts count in: the budget hash's (day when it names none), as the hash field spells it.
  const period = budgetHash.period ?? 'day';
  if (spentHash.start === undefined || spentHash.period !== period) return { part, warnings };
  const start = Number(spentHash.start);
  const end = Number(spentHash.end);
  if (!(end > now)) return { part, warnings }; // a period that ended before the checkpoint: not this period's spend
  const byType: CarriedSpend['byType'] = {};
  const alerted: CarriedSpend['alerted'] = [];
  for (const [field, v] of Object.entries(spentHash)) {
    const t = /^t:(.+):(tokens|costUsd)$/.exec(field);
    // A type no task could have (written by hand) is left out alone: the totals still bound the key.
    if (t && !taskTypeSchema.safeParse(t[1]).success) warnings.push(`key ${key}: its spend this period names "${t[1]}", not a task type; that type's share left out, the totals carried`);
    else if (t) (byType[t[1]!] ??= { tokens: 0, costUsd: 0 })[t[2] as 'tokens' | 'costUsd'] = num(v);
    const a = /^alerted:([0-9]+)$/.exec(field);
    if (a && (ALERT_THRESHOLDS as readonly number[]).includes(Number(a[1]))) alerted.push({ threshold: Number(a[1]) as AlertThreshold, at: Math.trunc(num(v)) });
  }
  alerted.sort((x, y) => x.threshold - y.threshold);
  const spent = {
    period: periodFromField(spentHash.period),
    start,
    end,
    tokens: num(spentHash.tokens),
    inputTokens: num(spentHash.inputTokens),
    outputTokens: num(spentHash.outputTokens),
    costUsd: num(spentHash.costUsd),
    reports: Math.trunc(num(spentHash.reports)),
    byType,
    alerted,
  };
  const checked = carriedSpendSchema.safeParse(spent);
  if (checked.success) part.spent = checked.data;
  else warnings.push(`key ${key}: its spend this period ${JSON.stringify(spentHash)} is not spend swarmq records (${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}); carried without it`);
  return { part, warnings };
}

/** The budget a restore writes: its budget hash's fields and the JSON the swarm lists it by (budgetAdmin's shapes). */
export function budgetToWrite(b: CarriedBudget): { fields: Record<string, string>; json: string } {
  // A carried budget names a limit (carriedBudgetSchema), so keyBudgetOf never answers null here.
  const budget = keyBudgetOf(b)!;
  return { fields: budgetFields(budget), json: JSON.stringify(budget) };
}

/**
 * The spend a restore hands restoreBudget-3.lua: the period's identity as the
 * scripts spell it, and the spent hash's amount fields and alert flags (each
 * amount is raised to the file's, never lowered; a flag is set if missing).
 */
export function spendToWrite(s: CarriedSpend): { start: string; period: string; fields: Record<string, string> } {
  const fields: Record<string, string> = {
    tokens: String(s.tokens),
    inputTokens: String(s.inputTokens),
    outputTokens: String(s.outputTokens),
    costUsd: String(s.costUsd),
    reports: String(s.reports),
  };
  for (const [type, t] of Object.entries(s.byType)) {
    fields[`t:${type}:tokens`] = String(t.tokens);
    fields[`t:${type}:costUsd`] = String(t.costUsd);
  }
  for (const a of s.alerted) fields[`alerted:${a.threshold}`] = String(a.at);
  return { start: String(s.start), period: periodField(s.period as Period), fields };
}
