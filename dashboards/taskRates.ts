// Throughput and latency, sampled once a second while someone watches the
// dashboard (and a while after, so a reload keeps the history). Which tasks
// finished comes from BullMQ's own per-queue event streams, read the way
// /metrics reads them (src/metrics/finishedTail.ts, opened through the
// `openTail` the composition root hands in); the timestamps of a sample of
// them give the latency quantiles. Nothing is added to the task path.
import type { RedisClient } from '../queues/redisTarget.ts';
import { nodeQueueName } from '../queues/keys.ts';
import type { FinishedTail } from '../src/metrics/finishedTail.ts';
import { ratePoint, spreadSample, type RatePoint } from './ratePoint.ts';

export const RATE_INTERVAL_MS = 1000;
/** Points kept: the plots show the last five minutes. */
export const RATE_POINTS = 300;
/** Stream entries one tick reads; past it the count catches up on the next ticks. */
const TAIL_BUDGET = 50_000;
/** Finished tasks per tick whose timestamps are read for the latency quantiles. */
const SAMPLE = 120;
/** With no viewer for this long, sampling stops. */
const IDLE_STOP_MS = 5 * 60_000;

/** What the sampler reads finished tasks through. */
export type FinishedReader = Pick<FinishedTail, 'read' | 'details'>;

/** Opens a reader that reports the tasks finished after `sinceMs` (each sampling run opens its own). */
export type OpenTail = (sinceMs: number) => FinishedReader;

export class TaskRates {
  private readonly points: RatePoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private tail: FinishedReader | undefined;
  private lastTick = 0;
  private lastViewed = 0;
  private busy = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly openTail: OpenTail,
    private readonly nodeIds: () => Promise<readonly string[]>,
  ) {
    // The coordinator closing its connection ends the sampler with it.
    redis.once('end', () => this.stop());
  }

  /** The points so far, oldest first; starts sampling when it is not running. */
  history(): RatePoint[] {
    this.lastViewed = Date.now();
    if (!this.timer && this.redis.status !== 'end') {
      this.lastTick = Date.now();
      this.tail = this.openTail(this.lastTick);
      this.timer = setInterval(() => void this.tick(), RATE_INTERVAL_MS);
      this.timer.unref();
    }
    return [...this.points];
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    if (Date.now() - this.lastViewed > IDLE_STOP_MS) return this.stop();
    if (this.busy || !this.tail) return; // Redis slower than a second: the next tick reads both intervals
    this.busy = true;
    try {
      const finished = await this.tail.read((await this.nodeIds()).map(nodeQueueName), TAIL_BUDGET);
      const completed = finished.filter((f) => f.outcome === 'completed');
      const times = await this.tail.details(spreadSample(completed, SAMPLE));
      const now = Date.now();
      this.points.push(ratePoint(now, now - this.lastTick, completed.length, finished.length - completed.length, times));
      this.lastTick = now;
      if (this.points.length > RATE_POINTS) this.points.splice(0, this.points.length - RATE_POINTS);
    } catch {
      // Redis away: a gap in the plot; the tail's cursors make the next tick count what was missed.
    } finally {
      this.busy = false;
    }
  }
}
