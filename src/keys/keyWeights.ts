// What a submitting process knows of keys: each key's weight (for its tasks'
// tags, fairOrder.ts), read from the swarm's list of limits at most once a
// second and never on the submit's own path after the first keyed submit; and
// which keys it has already recorded in the swarm's list of key names.
import type { RedisClient } from '../../queues/redisTarget.ts';
import { noteKeyName, readKeyLimitsJson } from '../../queues/keyLimits.ts';
import { tagStep } from './fairOrder.ts';
import { limitsFromJson } from './limits.ts';

/** How stale the weights may be: a weight changed at run time reaches new submits within this. */
export const WEIGHTS_MAX_AGE_MS = 1000;

export class KeyWeights {
  private weights = new Map<string, number>();
  private loadedAt: number | undefined;
  private loading: Promise<void> | undefined;
  private readonly noted = new Set<string>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly maxAgeMs = WEIGHTS_MAX_AGE_MS,
  ) {}

  /** The key's tag step; the first call waits for the weights, later ones refresh them in the background when stale. */
  async stepOf(key: string): Promise<number> {
    if (this.loadedAt === undefined) await this.refresh();
    else if (Date.now() - this.loadedAt > this.maxAgeMs) void this.refresh().catch(() => {});
    this.note(key);
    return tagStep(this.weights.get(key) ?? 1);
  }

  /** As stepOf, without waiting once the weights were read (undefined before): a keyed submit then takes no await for its step. */
  stepNow(key: string): number | undefined {
    if (this.loadedAt === undefined) return undefined;
    if (Date.now() - this.loadedAt > this.maxAgeMs) void this.refresh().catch(() => {});
    this.note(key);
    return tagStep(this.weights.get(key) ?? 1);
  }

  private refresh(): Promise<void> {
    this.loading ??= (async () => {
      try {
        const listed = await readKeyLimitsJson(this.redis, this.prefix);
        const next = new Map<string, number>();
        for (const [key, json] of Object.entries(listed)) {
          const w = limitsFromJson(json).weight;
          if (w !== undefined) next.set(key, w);
        }
        this.weights = next;
        this.loadedAt = Date.now();
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  /** The swarm lists every key a task carried: recorded once per key per process, off the submit's path. */
  private note(key: string): void {
    if (this.noted.has(key)) return;
    this.noted.add(key);
    noteKeyName(this.redis, this.prefix, key).catch(() => this.noted.delete(key));
  }
}
