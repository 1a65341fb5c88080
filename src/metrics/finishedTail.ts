// Tasks finished anywhere in the swarm, read incrementally from BullMQ's own
// per-queue event streams (`<prefix>:<queue>:events`, written in the same
// atomic step that finishes a job). Reading them costs the hot path nothing,
// and every process sees the same finishes, whichever host ran them.
import type { RedisClient } from '../../queues/redisTarget.ts';
import { bullKey } from '../../queues/keys.ts';
import { readStreams, slotPipeline } from '../../queues/slotPipeline.ts';

export type Outcome = 'completed' | 'failed';

export interface FinishedTask {
  queue: string;
  id: string;
  outcome: Outcome;
}

export interface FinishedDetail extends FinishedTask {
  type: string;
  /** ms: submitted (BullMQ's timestamp), started (processedOn, of the last attempt), finished. */
  createdAt: number;
  startedAt: number;
  finishedAt: number;
}

const PER_READ = 1000;

export class FinishedTail {
  private readonly cursors = new Map<string, string>();
  /** Queues the last read left entries behind in (it ran out of budget there). */
  private lagging = new Set<string>();
  private ratesAt: number | undefined;

  /** Only finishes after `sinceMs` count: a tail started now reports what happens from now on. */
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly sinceMs: number,
  ) {}

  /** Finishes since the last call, across these queues, up to `budget` stream entries (the rest come next time). */
  async read(queues: readonly string[], budget: number): Promise<FinishedTask[]> {
    const out: FinishedTask[] = [];
    let pending = [...queues];
    let left = budget;
    this.lagging = new Set();
    while (pending.length && left > 0) {
      const count = Math.max(1, Math.min(PER_READ, Math.floor(left / pending.length)));
      const keys = pending.map((q) => bullKey(this.prefix, q, 'events'));
      const res = await readStreams(this.redis, count, pending.map((q, i) => [keys[i]!, this.cursors.get(q) ?? `${this.sinceMs}-0`] as const));
      const full: string[] = [];
      for (const [key, entries] of res) {
        const queue = pending[keys.indexOf(key)]!;
        for (const [id, fields] of entries) {
          this.cursors.set(queue, id);
          const event = fieldOf(fields, 'event');
          const jobId = fieldOf(fields, 'jobId');
          if ((event === 'completed' || event === 'failed') && jobId) out.push({ queue, id: jobId, outcome: event });
        }
        left -= entries.length;
        if (entries.length >= count) full.push(queue);
      }
      pending = full;
    }
    for (const q of pending) this.lagging.add(q);
    return out;
  }

  /**
   * Finishes per second since the last call, at a bounded cost: read up to
   * `budget` entries; a queue whose entries ran past it is measured over the
   * span it was read for, and then skips to `now`. Exact while the swarm is
   * slower than the budget, an estimate above it.
   */
  async rates(queues: readonly string[], budget: number, now: number): Promise<{ completed: number; failed: number; exact: boolean }> {
    // A queue read to its end last time was read up to then at least.
    const since = this.ratesAt ?? this.sinceMs;
    const from = new Map(queues.map((q) => [q, Math.max(since, streamTime(this.cursors.get(q) ?? `${this.sinceMs}-0`))]));
    this.ratesAt = now;
    const finished = await this.read(queues, budget);
    let completed = 0;
    let failed = 0;
    let exact = true;
    for (const q of queues) {
      const reached = streamTime(this.cursors.get(q) ?? `${this.sinceMs}-0`);
      const behind = this.lagging.has(q);
      if (behind) exact = false;
      const spanMs = (behind ? reached : Math.max(now, reached)) - from.get(q)!;
      // Behind: what lies between here and now is left unread (estimated by this span's rate), never read twice.
      if (behind && now > reached) this.cursors.set(q, `${now}-0`);
      if (spanMs <= 0) continue;
      const mine = finished.filter((f) => f.queue === q);
      completed += (mine.filter((f) => f.outcome === 'completed').length * 1000) / spanMs;
      failed += (mine.filter((f) => f.outcome === 'failed').length * 1000) / spanMs;
    }
    return { completed, failed, exact };
  }

  /** Type and timestamps of finished tasks still in Redis (one pipelined HMGET each; removed ones are left out). */
  async details(finished: readonly FinishedTask[]): Promise<FinishedDetail[]> {
    if (!finished.length) return [];
    const p = slotPipeline(this.redis);
    for (const f of finished) p.hmget(bullKey(this.prefix, f.queue, f.id), 'name', 'timestamp', 'processedOn', 'finishedOn');
    const rows = (await p.exec()) ?? [];
    return finished.flatMap((f, i) => {
      const [err, v] = rows[i] ?? [];
      const [name, ts, started, done] = (err ? [] : (v as (string | null)[])) ?? [];
      if (!name || !ts || !started || !done) return [];
      return [{ ...f, type: name, createdAt: Number(ts), startedAt: Number(started), finishedAt: Number(done) }];
    });
  }
}

function streamTime(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

function fieldOf(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
