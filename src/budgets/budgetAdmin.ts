// Budgets as an operator sets and reads them (PUT and GET
// /api/keys/:key/budget, `swarmq budget set|get`, the client): checked whole
// with zod before anything is written; a set replaces the key's budget and
// brings back at once the tasks that waited for it (they are checked again).
import type { Queue } from 'bullmq';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { readBudget, writeKeyBudget } from '../../queues/budgetState.ts';
import { parseHeld } from '../../queues/keyState.ts';
import type { HeldTask } from '../../queues/keyState.ts';
import { SwarmError } from '../errors.ts';
import { bringBack } from '../keys/held.ts';
import { describeIssues, issuesOf } from '../validation.ts';
import { budgetFields, keyBudgetOf, keyBudgetSchema, type KeyBudget } from './budget.ts';
import { budgetView, type BudgetView } from './budgetView.ts';

/** A budget as given (a body, flags), checked: a 400 naming each bad field. Null: `{}`, no budget. */
export function parseKeyBudget(input: unknown): KeyBudget | null {
  const p = keyBudgetSchema.safeParse(input);
  if (!p.success) throw new SwarmError('invalid_request', `invalid budget: ${describeIssues(p.error)}`, issuesOf(p.error));
  return keyBudgetOf(p.data);
}

export async function readKeyBudget(redis: RedisClient, prefix: string, key: string): Promise<BudgetView> {
  return budgetView(key, await readBudget(redis, { prefix, key }));
}

/** Replaces the key's budget (null: none) and brings back the tasks that waited for it; the key's budget as it now is. */
export async function setKeyBudget(redis: RedisClient, prefix: string, key: string, budget: KeyBudget | null, queueFor: (node: string) => Queue): Promise<BudgetView> {
  const held = await writeKeyBudget(redis, { prefix, key, fields: budget ? budgetFields(budget) : {}, json: budget ? JSON.stringify(budget) : null });
  await bringBack(
    held.map(parseHeld).filter((h): h is HeldTask => h !== undefined),
    queueFor,
  );
  return await readKeyBudget(redis, prefix, key);
}
