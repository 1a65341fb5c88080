// Which keys have a budget, as a process that submits or runs keyed tasks
// knows it: the swarm's list (`{swarm}:key-budgets`), read before the first
// keyed submit and then at most once a second in the background, as keys'
// weights are (src/keys/keyWeights.ts). A keyed submit of a key with no budget
// costs nothing more; one with a budget reads its spend (one read-only script
// in the key's slot) and is refused with the figures once it is spent.
import type { RedisClient } from '../../queues/redisTarget.ts';
import { readBudget, readKeyBudgetsJson } from '../../queues/budgetState.ts';
import { budgetExhausted, budgetView, figuresOf } from './budgetView.ts';

/** How stale the list may be: a budget set at run time reaches new submits and starts within this. */
export const BUDGETS_MAX_AGE_MS = 1000;

export class KeyBudgets {
  private keys = new Set<string>();
  private loadedAt: number | undefined;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly maxAgeMs = BUDGETS_MAX_AGE_MS,
  ) {}

  /** Whether the key has a budget, as last read; the first call waits for the list, later ones refresh it in the background when stale. */
  async has(key: string): Promise<boolean> {
    if (this.loadedAt === undefined) await this.refresh();
    else if (Date.now() - this.loadedAt > this.maxAgeMs) void this.refresh().catch(() => {});
    return this.keys.has(key);
  }

  /**
   * Without waiting: true when the list, as last read, says the key has no
   * budget (refreshed in the background when stale, as `has` does); false when
   * it has one or the list was never read. Lets a start of a key without a
   * budget skip even an await.
   */
  surelyWithout(key: string): boolean {
    if (this.loadedAt === undefined) return false;
    if (Date.now() - this.loadedAt > this.maxAgeMs) void this.refresh().catch(() => {});
    return !this.keys.has(key);
  }

  /** A key seen with a budget elsewhere (a usage report said so): counted as having one until the next read. */
  note(key: string): void {
    this.keys.add(key);
  }

  /** Throws 429 budget_exhausted when the key has a budget and it is spent; reads only. */
  async check(key: string): Promise<void> {
    if (!(await this.has(key))) return;
    const v = budgetView(key, await readBudget(this.redis, { prefix: this.prefix, key }));
    if (v.exhausted) throw budgetExhausted(figuresOf(v));
  }

  refresh(): Promise<void> {
    this.loading ??= (async () => {
      try {
        this.keys = new Set(Object.keys(await readKeyBudgetsJson(this.redis, this.prefix)));
        this.loadedAt = Date.now();
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }
}
