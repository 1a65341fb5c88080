// How a task's progress reaches Redis: a processor may report on every token
// (thousands a second); Redis gets at most one write per interval per task,
// always of the latest value. The first report is written at once (a watcher
// sees a task come alive without waiting an interval), later ones within the
// interval wait for a trailing write at its end, and flush() writes whatever is
// still unwritten before the task's finish is recorded. So a task running for
// d ms makes at most 1 + ⌊d / interval⌋ writes, plus that one final flush, and
// never more than one at a time (a slow Redis slows the writes, never piles them up).
// The clock and timers are the globals, so tests drive it with fake timers.

export interface ProgressCoalescerOptions {
  intervalMs: number;
  /** Writes one encoded value; called never more than once at a time. */
  write(text: string): Promise<void>;
  /** A write failed: progress is best-effort and never fails the task, so it is reported and dropped. */
  onError(err: Error): void;
}

export class ProgressCoalescer {
  /** The latest value not written yet. */
  private pending: string | undefined;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private closed = false;
  /** Writes started, for the task's accounting and the tests. */
  writes = 0;

  constructor(private readonly o: ProgressCoalescerOptions) {}

  report(text: string): void {
    if (this.closed) return;
    this.pending = text;
    // A write due or under way takes the latest value when its turn comes.
    if (this.timer === undefined && this.inFlight === undefined) this.schedule();
  }

  private schedule(): void {
    const wait = this.lastWriteAt + this.o.intervalMs - Date.now();
    if (wait <= 0) {
      this.writeNow();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writeNow();
    }, wait);
  }

  private writeNow(): void {
    if (this.closed || this.pending === undefined) return;
    const text = this.pending;
    this.pending = undefined;
    this.lastWriteAt = Date.now();
    this.writes++;
    this.inFlight = this.o
      .write(text)
      .catch((err: unknown) => this.o.onError(err as Error))
      .finally(() => {
        this.inFlight = undefined;
        if (!this.closed && this.pending !== undefined && this.timer === undefined) this.schedule();
      });
  }

  /** The task is finishing: write the last value now (after any write under way); later reports are ignored. */
  async flush(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
    const text = this.pending;
    this.pending = undefined;
    if (text === undefined) return;
    this.writes++;
    await this.o.write(text).catch((err: unknown) => this.o.onError(err as Error));
  }

  /** The task went back to its queue unrun (or lost its lock): nothing more is written. */
  discard(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }
}
