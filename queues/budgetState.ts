// A key's budget at each step, swarm-wide (recordUsage-4.lua, checkBudget-5.lua,
// readBudget-4.lua, addTaskUsage-1.lua, restoreBudget-3.lua): the typed wrappers, one a script, and
// the budget's writes. A key's budget and spend are in its own slot
// (keys.ts keyStateKeys), beside its limits.
import type { Cluster, Redis } from 'ioredis';
import { bullKey, keyStateKeys, nodeQueueName, swarmKeys } from './keys.ts';
import { scripts } from './scripts.ts';

/** Amounts of one usage report, as the scripts add them. */
export interface UsageAmounts {
  tokens: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface UsageRecorded {
  /** Redis's clock (ms). */
  now: number;
  periodStart: number;
  periodEnd: number;
  spentTokens: number;
  spentCostUsd: number;
  limitTokens: number | null;
  limitCostUsd: number | null;
  /** No start fits any more (a limit reached). */
  spent: boolean;
  /** Past a limit. */
  over: boolean;
  running: 'abort' | 'finish' | null;
  /** Alert thresholds (%) this report crossed first in the period. */
  crossed: number[];
}

function numOrNull(v: unknown): number | null {
  if (v === '' || v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Adds a report of a task of `type` to the key's spend; where its budget stands after. */
export async function recordUsage(redis: Redis | Cluster, r: { prefix: string; key: string; type: string; usage: UsageAmounts }): Promise<UsageRecorded> {
  const k = keyStateKeys(r.prefix, r.key);
  const u = r.usage;
  const reply = (await scripts.recordUsage.run(redis, [k.budget, k.spent, k.spentPrev, k.usage], [r.type, u.tokens, u.inputTokens, u.outputTokens, u.costUsd])) as unknown[];
  const running = String(reply[9]);
  return {
    now: Number(reply[0]),
    periodStart: Number(reply[1]),
    periodEnd: Number(reply[2]),
    spentTokens: Number(reply[3]),
    spentCostUsd: Number(reply[4]),
    limitTokens: numOrNull(reply[5]),
    limitCostUsd: numOrNull(reply[6]),
    spent: Number(reply[7]) === 1,
    over: Number(reply[8]) === 1,
    running: running === 'abort' || running === 'finish' ? running : null,
    crossed: Array.isArray(reply[10]) ? reply[10].map(Number) : [],
  };
}

export type BudgetCheck =
  | { verdict: 'ok' }
  | { verdict: 'wait' | 'fail'; resetsInMs: number; spentTokens: number; spentCostUsd: number; limitTokens: number | null; limitCostUsd: number | null; resetsAt: number };

/** Whether a task of the key may start under its budget; refused, whether it waits (recorded as held for the budget) or fails. */
export async function checkBudget(redis: Redis | Cluster, r: { prefix: string; key: string; taskId: string; node: string }): Promise<BudgetCheck> {
  const k = keyStateKeys(r.prefix, r.key);
  const reply = (await scripts.checkBudget.run(redis, [k.budget, k.spent, k.budgetHeld, k.waiting, k.state], [r.taskId, r.node])) as unknown[];
  const verdict = String(reply[0]);
  if (verdict === 'ok') return { verdict };
  if (verdict !== 'wait' && verdict !== 'fail') throw new Error(`checkBudget answered ${verdict}`);
  return {
    verdict,
    resetsInMs: Math.max(1, Number(reply[1])),
    spentTokens: Number(reply[2]),
    spentCostUsd: Number(reply[3]),
    limitTokens: numOrNull(reply[4]),
    limitCostUsd: numOrNull(reply[5]),
    resetsAt: Number(reply[6]),
  };
}

export interface BudgetRead {
  now: number;
  budget: Record<string, string>;
  periodStart: number;
  periodEnd: number;
  /** The spent hash as it is: the current period's only if its `start` is periodStart. */
  spent: Record<string, string>;
  usage: Record<string, string>;
  /** Tasks waiting for the period to reset. */
  held: number;
}

function pairs(flat: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(flat)) return out;
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
  return out;
}

export async function readBudget(redis: Redis | Cluster, r: { prefix: string; key: string }): Promise<BudgetRead> {
  const k = keyStateKeys(r.prefix, r.key);
  const reply = (await scripts.readBudget.run(redis, [k.budget, k.spent, k.usage, k.budgetHeld], [])) as unknown[];
  return { now: Number(reply[0]), budget: pairs(reply[1]), periodStart: Number(reply[2]), periodEnd: Number(reply[3]), spent: pairs(reply[4]), usage: pairs(reply[5]), held: Number(reply[6]) };
}

/**
 * Replaces the key's budget (no fields: none) in its slot (writeBudget-3.lua:
 * alerts that no longer hold under the new limits are forgotten), then in the
 * swarm's list; resolves with the tasks that waited for it, handed out to be brought back.
 */
export async function writeKeyBudget(redis: Redis | Cluster, r: { prefix: string; key: string; fields: Record<string, string>; json: string | null }): Promise<string[]> {
  const k = keyStateKeys(r.prefix, r.key);
  const held = (await scripts.writeBudget.run(redis, [k.budget, k.spent, k.budgetHeld], Object.entries(r.fields).flat())) as string[];
  const s = swarmKeys(r.prefix);
  const listed = redis.multi().sadd(s.keyNames, r.key);
  if (r.json === null) listed.hdel(s.keyBudgets, r.key);
  else listed.hset(s.keyBudgets, r.key, r.json);
  await checked(listed.exec());
  return held;
}

async function checked(exec: Promise<[Error | null, unknown][] | null>): Promise<[Error | null, unknown][]> {
  const replies = (await exec) ?? [];
  const failed = replies.find(([err]) => err);
  if (failed) throw failed[0];
  return replies;
}

/** Every key's budget as the swarm lists them (key → JSON). */
export async function readKeyBudgetsJson(redis: Redis | Cluster, prefix: string): Promise<Record<string, string>> {
  return await redis.hgetall(swarmKeys(prefix).keyBudgets);
}

/** A task's own totals after a report, or null when its job is gone. */
export async function addTaskUsage(redis: Redis | Cluster, r: { prefix: string; node: string; id: string; usage: UsageAmounts }): Promise<(UsageAmounts & { reports: number }) | null> {
  const u = r.usage;
  const reply = (await scripts.addTaskUsage.run(redis, [bullKey(r.prefix, nodeQueueName(r.node), r.id)], [u.tokens, u.inputTokens, u.outputTokens, u.costUsd])) as unknown[] | null;
  if (!reply) return null;
  return { tokens: Number(reply[0]), inputTokens: Number(reply[1]), outputTokens: Number(reply[2]), costUsd: Number(reply[3]), reports: Number(reply[4]) };
}

/** Usage of a task without a key, for the metrics' totals by type (the swarm's slot). */
export async function recordUnkeyedUsage(redis: Redis | Cluster, r: { prefix: string; type: string; usage: UsageAmounts }): Promise<void> {
  const key = swarmKeys(r.prefix).usage;
  const m = redis.multi();
  for (const [name, v] of Object.entries(r.usage)) m.hincrbyfloat(key, `${r.type}|${name}`, String(v));
  m.hincrby(key, `${r.type}|reports`, 1);
  await checked(m.exec());
}

/** The all-time usage of tasks without a key (flat `<type>|<unit>` → amount). */
export async function readUnkeyedUsage(redis: Redis | Cluster, prefix: string): Promise<Record<string, string>> {
  return await redis.hgetall(swarmKeys(prefix).usage);
}

/** What a restore did with a key's carried spend: none carried, written into an empty (or another period's) hash, merged with this period's, or dropped as of a period that has ended. */
export type SpendRestore = { verdict: 'none' } | { verdict: 'restored' | 'merged' | 'stale'; periodStart: number };

/**
 * A restore's write of a key's budget and spend (restoreBudget-3.lua, the key's
 * slot, one step), then, with a budget, the swarm's list (as writeKeyBudget
 * does, slot first). Tasks waiting for the key's period are left as they are.
 */
export async function restoreKeyBudget(
  redis: Redis | Cluster,
  r: { prefix: string; key: string; budget: { fields: Record<string, string>; json: string } | null; spent: { start: string; period: string; fields: Record<string, string> } | null },
): Promise<SpendRestore> {
  const k = keyStateKeys(r.prefix, r.key);
  const budgetArgs = r.budget ? Object.entries(r.budget.fields).flat() : [];
  const spentArgs = r.spent ? [r.spent.start, r.spent.period, ...Object.entries(r.spent.fields).flat()] : [''];
  const reply = (await scripts.restoreBudget.run(redis, [k.budget, k.spent, k.spentPrev], [budgetArgs.length, ...budgetArgs, ...spentArgs])) as unknown[];
  if (r.budget) {
    const s = swarmKeys(r.prefix);
    await checked(redis.multi().sadd(s.keyNames, r.key).hset(s.keyBudgets, r.key, r.budget.json).exec());
  }
  const verdict = String(reply[0]);
  if (verdict === 'none') return { verdict };
  if (verdict !== 'restored' && verdict !== 'merged' && verdict !== 'stale') throw new Error(`restoreBudget answered ${verdict}`);
  return { verdict, periodStart: Number(reply[1]) };
}
