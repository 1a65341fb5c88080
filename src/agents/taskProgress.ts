// ctx.progress for one running task: each value is checked at once (so the
// processor sees a bad one where it reported it), then coalesced into writes
// that only the holder of the job's lock gets through (queues/reportProgress.ts).
import type { RedisClient } from '../../queues/redisTarget.ts';
import { reportProgress } from '../../queues/reportProgress.ts';
import { encodeProgress, type ProgressLimits } from '../tasks/progress.ts';
import { ProgressCoalescer } from './progressCoalescer.ts';

export interface ProgressSettings extends ProgressLimits {
  intervalMs: number;
}

export interface TaskProgressOptions {
  redis: RedisClient;
  prefix: string;
  queue: string;
  id: string;
  token: string;
  settings: ProgressSettings;
  onError(err: Error): void;
}

export class TaskProgress {
  private coalescer: ProgressCoalescer | undefined;

  constructor(private readonly o: TaskProgressOptions) {}

  /** A value the processor reported. */
  report(value: unknown): void {
    const text = encodeProgress(value, this.o.settings);
    this.coalescer ??= new ProgressCoalescer({
      intervalMs: this.o.settings.intervalMs,
      write: async (json) => {
        // not-holder: the task went back to a queue or was recovered; its new attempt owns the progress now.
        if ((await reportProgress(this.o.redis, { prefix: this.o.prefix, queue: this.o.queue, id: this.o.id, token: this.o.token, json })) !== 'recorded') this.coalescer?.discard();
      },
      onError: (err) => this.o.onError(err),
    });
    this.coalescer.report(text);
  }

  /** Writes the last value before the task's finish is recorded. */
  flush(): Promise<void> | undefined {
    return this.coalescer?.flush();
  }

  discard(): void {
    this.coalescer?.discard();
  }

  /** Writes made (for tests and figures). */
  get writes(): number {
    return this.coalescer?.writes ?? 0;
  }
}
