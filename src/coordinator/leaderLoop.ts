// The skeleton of every coordinator duty run in rounds (the swarm leader's: the
// loads and the summary; each partition owner's: balancing, health checks): a
// round every interval, never two at once, a swarm leader's round first asking
// whether this coordinator still leads and with which fence, and a stop that
// waits for the round in flight.
import type { Lease } from './lease.ts';

/** What a round may act with while this coordinator leads. */
export interface Leadership {
  token: number;
  /** The fence every move in this round must carry. */
  fence: { token: string };
}

export interface LeaderLoopOptions {
  /** The swarm lease a leader's duty asks about; a duty run per partition (src/coordinator/partitions.ts) has none. */
  lease?: Lease;
  /**
   * Whether each round renews the lease (the balancer and the health monitor do).
   * A loop that does not rides on their renewals: it leads as long as the last
   * renewal found this coordinator leading.
   */
  renewsLease?: boolean;
  intervalMs: number;
  /** A failed round is reported here; the next interval runs the next one. */
  onError: (err: Error) => void;
}

export class LeaderLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly o: LeaderLoopOptions) {}

  /** The token and fence when this coordinator leads, else undefined. */
  async leadership(): Promise<Leadership | undefined> {
    const lease = this.o.lease;
    if (!lease) return undefined;
    const renewed = this.o.renewsLease ? await lease.renew() : undefined;
    const fence = lease.fence();
    if (renewed === 0 || !fence) return undefined;
    return { token: renewed ?? Number(fence.token), fence };
  }

  private round: (() => Promise<unknown>) | undefined;

  /** Runs `round` every interval, skipping an interval while the previous round still runs. */
  start(round: () => Promise<unknown>): void {
    this.round = round;
    this.timer = setInterval(() => this.runNow(), this.o.intervalMs);
    this.timer.unref();
  }

  /** A round now, between intervals, unless one is running or the loop is stopped. */
  runNow(): void {
    const round = this.round;
    if (!round) return;
    this.running ??= round()
      .catch((err: Error) => this.o.onError(err))
      .finally(() => {
        this.running = undefined;
      });
  }

  /** No round starts after this; resolves once the one in flight (if any) has finished. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.round = undefined;
    await this.running;
  }
}
