// Keys as an operator sees and sets them: every key with its limits and counts
// (GET /api/keys, the metrics, `swarmq limits get`), and a key's limits
// replaced (PUT /api/keys/:key/limits, `swarmq limits set`, the configuration
// at a coordinator's start). Raising a limit brings back at once tasks held for
// a slot it now has.
import type { Queue } from 'bullmq';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { readKeyList, writeKeyLimits } from '../../queues/keyLimits.ts';
import { readKey, releaseKeyed, type KeyRead } from '../../queues/keyState.ts';
import { KEY_NAME } from '../../queues/keys.ts';
import { SwarmError } from '../errors.ts';
import { describeIssues, issuesOf } from '../validation.ts';
import { bringBack } from './held.ts';
import { readKeyBudget } from '../budgets/budgetAdmin.ts';
import type { BudgetView } from '../budgets/budgetView.ts';
import { hasLimits, keyLimitsSchema, keyNameSchema, limitsFields, limitsFromFields, rateText, type KeyLimits } from './limits.ts';

/** A key as GET /api/keys shows it. */
export interface KeyView {
  key: string;
  limits: KeyLimits & { rateText?: string };
  /** Its tasks running now, swarm-wide. */
  active: number;
  /** Submitted, not started yet (held ones too). */
  waiting: number;
  /** Handed back because the key was at maxActive, until a slot frees. */
  held: number;
  /** Starts in the rate's current window (0 without a rate). */
  startsInWindow: number;
  /** While its provider's rate limit holds it (ms since the epoch), else null. */
  holdUntil: number | null;
  /** Starts admitted so far, and refusals by reason. */
  started: number;
  throttled: { active: number; rate: number; hold: number; budget: number };
  /** Its budget and what it spent this period (docs/budgets.md); `spend.budget` null: no budget. */
  spend: BudgetView;
}

function count(v: string | undefined): number {
  const n = Number(v ?? 0);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

export function keyView(key: string, r: KeyRead, spend: BudgetView): KeyView {
  const limits = limitsFromFields(r.limits);
  const holdUntil = count(r.state.holdUntil);
  return {
    key,
    limits: { ...limits, ...(limits.rate ? { rateText: rateText(limits.rate) } : {}) },
    active: r.active,
    waiting: r.waiting,
    held: r.held,
    startsInWindow: r.startsInWindow,
    holdUntil: holdUntil > r.now ? holdUntil : null,
    started: count(r.state.started),
    throttled: { active: count(r.state['throttled:active']), rate: count(r.state['throttled:rate']), hold: count(r.state['throttled:hold']), budget: count(r.state['throttled:budget']) },
    spend,
  };
}

/** The key name from a path or a flag, or a 400 naming the rule. */
export function checkKeyName(key: string): string {
  const p = keyNameSchema.safeParse(key);
  if (!p.success) throw new SwarmError('invalid_request', `"${key.slice(0, 140)}" is not a key: ${describeIssues(p.error)}`, [{ path: 'key', message: p.error.issues[0]?.message ?? 'not a key' }]);
  return p.data;
}

/** Limits as given (a body, flags), checked: a 400 naming each bad field. */
export function parseKeyLimits(input: unknown): KeyLimits {
  const p = keyLimitsSchema.safeParse(input);
  if (!p.success) throw new SwarmError('invalid_request', `invalid limits: ${describeIssues(p.error)}`, issuesOf(p.error));
  return p.data;
}

export async function readOneKey(redis: RedisClient, prefix: string, key: string): Promise<KeyView> {
  const [state, spend] = await Promise.all([readKey(redis, { prefix, key }), readKeyBudget(redis, prefix, key)]);
  return keyView(key, state, spend);
}

/** Every key a task has carried or that has limits, by name. */
export async function readKeys(redis: RedisClient, prefix: string): Promise<KeyView[]> {
  const { limits, names } = await readKeyList(redis, prefix);
  // A key given a budget is in key-names too (writeKeyBudget).
  const keys = [...new Set([...names, ...Object.keys(limits)])].filter((k) => KEY_NAME.test(k)).sort();
  return await Promise.all(keys.map((k) => readOneKey(redis, prefix, k)));
}

/** Most held tasks one change of limits brings back. */
const MOST_BROUGHT_BACK = 1000;

/**
 * Replaces the key's limits (a field left out: no such limit) and brings back
 * held tasks the key now has room for. Returns the key as it now is.
 */
export async function setKeyLimits(redis: RedisClient, prefix: string, key: string, limits: KeyLimits, queueFor: (node: string) => Queue): Promise<KeyView> {
  await writeKeyLimits(redis, { prefix, key, fields: limitsFields(limits), json: hasLimits(limits) ? JSON.stringify(limits) : null });
  const held = await releaseKeyed(redis, { prefix, key, taskId: '', most: MOST_BROUGHT_BACK });
  await bringBack(held, queueFor);
  return await readOneKey(redis, prefix, key);
}
