// `swarmq budget set|get`: a key's budget from the command line, straight on
// Redis like `swarmq limits` (no coordinator needed), the same checks and
// writes as PUT /api/keys/:key/budget.
import { withNodeQueues, withRedis } from './keyCommand.ts';
import type { SwarmConfig } from '../config/schema.ts';
import { checkKeyName, readKeys } from '../keys/keyAdmin.ts';
import { parseKeyBudget, readKeyBudget, setKeyBudget } from '../budgets/budgetAdmin.ts';
import type { BudgetView } from '../budgets/budgetView.ts';
import { periodText } from '../budgets/budget.ts';

export interface BudgetFlags {
  tokens?: string;
  costUsd?: string;
  period?: string;
  queued?: string;
  running?: string;
}

/** The budget the flags give; no --tokens and no --cost-usd: none (a set replaces the key's budget whole). */
export function budgetFromFlags(f: BudgetFlags): unknown {
  const num = (v: string) => (/^\s*-?\d+(\.\d+)?(e\d+)?\s*$/.test(v) ? Number(v) : v);
  return {
    ...(f.tokens !== undefined ? { tokens: num(f.tokens) } : {}),
    ...(f.costUsd !== undefined ? { costUsd: num(f.costUsd) } : {}),
    ...(f.period !== undefined ? { period: num(f.period) } : {}),
    ...(f.queued !== undefined ? { queued: f.queued } : {}),
    ...(f.running !== undefined ? { running: f.running } : {}),
  };
}

export async function budgetSet(config: SwarmConfig, key: string, flags: BudgetFlags): Promise<BudgetView> {
  const name = checkKeyName(key);
  const budget = parseKeyBudget(budgetFromFlags(flags));
  return await withRedis(config, 'swarmq:budget', async (redis) => {
    return await withNodeQueues(redis, config.prefix, async (queueFor) => await setKeyBudget(redis, config.prefix, name, budget, queueFor));
  });
}

/** One key's budget, or every key's that has one or spent anything this period. */
export async function budgetGet(config: SwarmConfig, key: string | undefined): Promise<BudgetView[]> {
  return await withRedis(config, 'swarmq:budget', async (redis) => {
    if (key !== undefined) return [await readKeyBudget(redis, config.prefix, checkKeyName(key))];
    return (await readKeys(redis, config.prefix)).map((k) => k.spend).filter((v) => v.budget !== null || v.spent.reports > 0);
  });
}

/** One line a key: its budget, its spend this period and when it resets. */
export function budgetTable(views: readonly BudgetView[]): string {
  if (!views.length) return 'no budgets yet, and no usage this period: `swarmq budget set <key> --tokens N` makes one';
  const lines = ['key                  period  tokens spent / limit       cost spent / limit       used   waiting  resets at'];
  for (const v of views) {
    const b = v.budget;
    const tokens = `${Math.round(v.spent.tokens)} / ${b?.tokens ?? '-'}`;
    const cost = `$${Math.round(v.spent.costUsd * 1e4) / 1e4} / ${b?.costUsd !== undefined ? `$${b.costUsd}` : '-'}`;
    const used = b ? `${Math.floor(v.ratio * 100)} %${v.exhausted ? ' spent' : ''}` : '-';
    lines.push(
      `${v.key.padEnd(20)} ${(b ? periodText(b.period) : '-').padEnd(7)} ${tokens.padEnd(26)} ${cost.padEnd(24)} ${used.padEnd(6)} ${String(v.waiting).padStart(7)}  ${new Date(v.resetsAt).toISOString()}`,
    );
  }
  return lines.join('\n');
}
