// A host's side of budgets (docs/budgets.md): before a task of a key with a
// budget starts, the key's spend is checked (checkBudget-5.lua; keys without a
// budget cost nothing more); each ctx.usage report is added to the task's own
// totals (its job hash) and to its key's spend (recordUsage-4.lua), both
// atomic in Redis, so budgets hold across hosts; and what a report means is
// decided here: which runs to stop, which alerts to publish, and whether the
// other hosts must be told the key's budget is spent.
import type { RedisClient } from '../../queues/redisTarget.ts';
import { addTaskUsage, checkBudget, readBudget, recordUnkeyedUsage, recordUsage, type BudgetCheck, type UsageRecorded } from '../../queues/budgetState.ts';
import { alertsDue, isOver, spentRatio, usageOf, usageSchema, type TaskBudget, type Usage } from '../budgets/budget.ts';
import { budgetView, spentReason } from '../budgets/budgetView.ts';
import { KeyBudgets } from '../budgets/keyBudgets.ts';
import { publishEvent } from '../swarm/events.ts';
import { describeIssues } from '../validation.ts';
import { BudgetExceededError } from './budgetStop.ts';
import type { UsageReceipt } from './processor.ts';

/** A task waiting for its key's period to reset is checked again after this at the latest (a raised budget brings it back at once). */
export const BUDGET_RECHECK_MAX_MS = 10 * 60_000;


/** A running task as a report needs it. */
export interface ReportingTask {
  taskId: string;
  type: string;
  node: string;
  key: string | undefined;
  budget: TaskBudget | undefined;
  /** Thresholds of the task's own budget already alerted in this run. */
  alerted: Set<number>;
  /** Stops the run: its signal aborted with the reason, the task to fail with it. */
  stop(err: BudgetExceededError): void;
}

/** What a key report asks of the host, decided from the script's answer alone. */
export interface KeyReportEffects {
  /** The reporting run goes past the key's budget: stop it. */
  stopReporter: boolean;
  /** No start fits any more: stop this host's other runs of the key (other hosts': the leader relays the 100 % alert this report publishes, src/coordinator/budgetRelay.ts). */
  stopOthers: boolean;
}

/**
 * Running tasks of a spent key stop (budget's `running: 'abort'`), except the
 * one whose report used the last of it without going past: its spend fitted.
 */
export function keyReportEffects(r: Pick<UsageRecorded, 'spent' | 'over' | 'running'>): KeyReportEffects {
  const abort = r.running === 'abort';
  return { stopReporter: abort && r.over, stopOthers: abort && r.spent };
}

export interface BudgetGateOptions {
  redis: RedisClient;
  prefix: string;
  /** Stops this host's running tasks of the key (but `except`); resolves with how many. */
  stopKey: (key: string, except: string | undefined, reason: (taskId: string) => BudgetExceededError) => number;
  onError: (err: Error) => void;
}

export type BudgetAdmission = { admitted: true } | { admitted: false; verdict: 'wait' | 'fail'; delayMs: number; reason: string };

export class BudgetGate {
  readonly budgets: KeyBudgets;

  constructor(private readonly o: BudgetGateOptions) {
    this.budgets = new KeyBudgets(o.redis, o.prefix);
  }

  /** Whether a task of the key may start under its budget (one round trip for keys with a budget, none otherwise). */
  async admit(key: string, taskId: string, node: string): Promise<BudgetAdmission> {
    if (!(await this.budgets.has(key))) return { admitted: true };
    const c: BudgetCheck = await checkBudget(this.o.redis, { prefix: this.o.prefix, key, taskId, node });
    if (c.verdict === 'ok') return { admitted: true };
    const figures = {
      key,
      spent: { tokens: c.spentTokens, costUsd: c.spentCostUsd },
      limit: { ...(c.limitTokens !== null ? { tokens: c.limitTokens } : {}), ...(c.limitCostUsd !== null ? { costUsd: c.limitCostUsd } : {}) },
      resetsAt: c.resetsAt,
      period: 'period',
    };
    return { admitted: false, verdict: c.verdict, delayMs: Math.min(BUDGET_RECHECK_MAX_MS, c.resetsInMs), reason: spentReason(figures, c.verdict) };
  }

  /** Checks a report (throws at once on one that is not a usage), then records it; the receipt once Redis has it. */
  check(value: unknown): Usage {
    const p = usageSchema.safeParse(value);
    if (!p.success) throw new TypeError(`ctx.usage: ${describeIssues(p.error)}; report { tokens, inputTokens, outputTokens, costUsd }, each a number ≥ 0`);
    return usageOf(p.data);
  }

  async report(t: ReportingTask, u: Usage): Promise<UsageReceipt> {
    const { redis, prefix } = this.o;
    const [task, key] = await Promise.all([
      addTaskUsage(redis, { prefix, node: t.node, id: t.taskId, usage: u }),
      t.key !== undefined ? recordUsage(redis, { prefix, key: t.key, type: t.type, usage: u }) : recordUnkeyedUsage(redis, { prefix, type: t.type, usage: u }).then(() => undefined),
    ]);
    if (task && t.budget) this.judgeTask(t, task);
    if (key && t.key !== undefined) this.judgeKey(t, t.key, key);
    return {
      task,
      key:
        key && (key.limitTokens !== null || key.limitCostUsd !== null)
          ? { spent: { tokens: key.spentTokens, costUsd: key.spentCostUsd }, limit: limitOf(key), resetsAt: key.periodEnd, exhausted: key.spent }
          : null,
    };
  }

  private judgeTask(t: ReportingTask, total: Usage): void {
    const b = t.budget!;
    const limit = { ...(b.tokens !== undefined ? { tokens: b.tokens } : {}), ...(b.costUsd !== undefined ? { costUsd: b.costUsd } : {}) };
    for (const threshold of alertsDue(spentRatio(total, b), t.alerted)) {
      t.alerted.add(threshold);
      this.publish({ at: Date.now(), scope: 'task', threshold, ...(t.key !== undefined ? { key: t.key } : {}), task: t.taskId, type: t.type, spent: { tokens: total.tokens, costUsd: total.costUsd }, limit });
    }
    if (isOver(total, b)) {
      const said = [b.tokens !== undefined ? `${total.tokens} tokens of its ${b.tokens}` : '', b.costUsd !== undefined ? `$${total.costUsd} of its $${b.costUsd}` : ''].filter(Boolean).join(', ');
      t.stop(new BudgetExceededError(t.taskId, 'task', `task ${t.taskId} went past its own budget: ${said} spent; its run was aborted (reason budget) and it fails without a retry. Give it a larger budget to run it again`));
    }
  }

  private judgeKey(t: ReportingTask, key: string, r: UsageRecorded): void {
    if (r.limitTokens !== null || r.limitCostUsd !== null) this.budgets.note(key);
    for (const threshold of r.crossed) {
      if (threshold !== 80 && threshold !== 100) continue;
      this.publish({ at: r.now, scope: 'key', threshold, key, task: t.taskId, type: t.type, spent: { tokens: r.spentTokens, costUsd: r.spentCostUsd }, limit: limitOf(r), resetsAt: r.periodEnd });
    }
    const effects = keyReportEffects(r);
    const reason = (taskId: string) =>
      new BudgetExceededError(taskId, 'key', `key ${key} has spent its budget (${describeSpend(r)}; it resets at ${new Date(r.periodEnd).toISOString()}): task ${taskId}'s run was aborted (reason budget) and it fails without a retry`);
    if (effects.stopReporter) t.stop(reason(t.taskId));
    if (effects.stopOthers) this.o.stopKey(key, t.taskId, reason);
  }

  /** A notice that the key's budget is spent: true when Redis says so and its budget stops running tasks. */
  async confirmSpent(key: string): Promise<boolean> {
    const v = budgetView(key, await readBudget(this.o.redis, { prefix: this.o.prefix, key }));
    return v.exhausted && v.budget?.running === 'abort';
  }

  private publish(data: Parameters<typeof publishEvent<'budget:alert'>>[3]): void {
    publishEvent(this.o.redis, this.o.prefix, 'budget:alert', data).catch((err: Error) => this.o.onError(new Error(`budget:alert not published: ${err.message}`)));
  }

  async close(): Promise<void> {
    // Nothing held open: reports and checks use the host's connection.
  }
}

function limitOf(r: UsageRecorded): { tokens?: number; costUsd?: number } {
  return { ...(r.limitTokens !== null ? { tokens: r.limitTokens } : {}), ...(r.limitCostUsd !== null ? { costUsd: r.limitCostUsd } : {}) };
}

function describeSpend(r: UsageRecorded): string {
  return [r.limitTokens !== null ? `${r.spentTokens} of ${r.limitTokens} tokens` : '', r.limitCostUsd !== null ? `$${r.spentCostUsd} of $${r.limitCostUsd}` : ''].filter(Boolean).join(', ');
}

