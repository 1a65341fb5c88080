// Samples throughput and latency once a second from the node queues' own
// records: how many jobs entered BullMQ's completed and failed sets in the
// interval, and the timestamps of a few of the completed ones. Nothing extra
// is written on the task path. It runs only while someone watches the
// dashboard (and a while after, so a reload keeps its history).
import type { Redis } from 'ioredis';
import { bullKey, nodeQueueName } from '../queues/keys.ts';
import { ratePoint, samplePerQueue, type JobTimes, type RatePoint } from './ratePoint.ts';

export const RATE_INTERVAL_MS = 1000;
/** Points kept: the plots show the last five minutes. */
export const RATE_POINTS = 300;
/** A job finishing now may be recorded a moment later by a remote host: read each interval this late. */
const LAG_MS = 500;
/** Jobs per tick whose timestamps are read for the latency quantiles. */
const SAMPLE = 120;
/** With no viewer for this long, sampling stops. */
const IDLE_STOP_MS = 5 * 60_000;

export class TaskRates {
  private readonly points: RatePoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastTo = 0;
  private lastViewed = 0;
  private busy = false;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly nodeIds: () => readonly string[],
  ) {
    // The coordinator closing its connection ends the sampler with it.
    redis.once('end', () => this.stop());
  }

  /** The points so far, oldest first; starts sampling when it is not running. */
  history(): RatePoint[] {
    this.lastViewed = Date.now();
    if (!this.timer && this.redis.status !== 'end') {
      this.lastTo = Date.now() - LAG_MS - RATE_INTERVAL_MS;
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
    if (this.busy) return; // Redis slower than a second: skip, the next window is wider
    this.busy = true;
    try {
      const to = Date.now() - LAG_MS;
      const from = this.lastTo;
      const point = await this.read(from, to);
      this.lastTo = to;
      this.points.push(point);
      if (this.points.length > RATE_POINTS) this.points.splice(0, this.points.length - RATE_POINTS);
    } catch {
      // Redis away: a gap in the plot, the next tick covers the missed interval.
    } finally {
      this.busy = false;
    }
  }

  private async read(from: number, to: number): Promise<RatePoint> {
    const queues = this.nodeIds().map(nodeQueueName);
    const per = samplePerQueue(queues.length, SAMPLE);
    const p = this.redis.pipeline();
    for (const q of queues) {
      // Both sets are scored by finishedOn; the window is (from, to].
      p.zcount(bullKey(this.prefix, q, 'completed'), `(${from}`, String(to));
      p.zcount(bullKey(this.prefix, q, 'failed'), `(${from}`, String(to));
      p.zrangebyscore(bullKey(this.prefix, q, 'completed'), `(${from}`, String(to), 'LIMIT', 0, per);
    }
    const res = queues.length ? ((await p.exec()) ?? []) : [];
    let completed = 0;
    let failed = 0;
    const sampled: { queue: string; id: string }[] = [];
    queues.forEach((q, i) => {
      completed += Number(res[i * 3]?.[1] ?? 0);
      failed += Number(res[i * 3 + 1]?.[1] ?? 0);
      for (const id of (res[i * 3 + 2]?.[1] as string[] | undefined) ?? []) sampled.push({ queue: q, id });
    });
    const times: JobTimes[] = [];
    if (sampled.length) {
      const t = this.redis.pipeline();
      for (const s of sampled) t.hmget(bullKey(this.prefix, s.queue, s.id), 'timestamp', 'processedOn', 'finishedOn');
      for (const [, v] of (await t.exec()) ?? []) {
        const [ts, start, end] = (v as (string | null)[] | undefined) ?? [];
        if (ts && start && end) times.push({ timestamp: Number(ts), processedOn: Number(start), finishedOn: Number(end) });
      }
    }
    return ratePoint(to, to - from, completed, failed, times);
  }
}
