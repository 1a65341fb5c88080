// The skeleton of every duty only the leading coordinator carries out (balancing,
// health checks, the swarm summary): a round every interval, never two at once,
// each round first asking whether this coordinator still leads and with which
// fence, and a stop that waits for the round in flight.
import type { Lease } from './lease.ts';

/** What a round may act with while this coordinator leads. */
export interface Leadership {
  token: number;
  /** The fence every move in this round must carry. */
  fence: { token: string };
}

export interface LeaderLoopOptions {
  lease: Lease;
  /**
   * Whether each round renews the lease (the balancer and the health monitor do).
   * A loop that does not rides on their renewals: it leads as long as the last
   * renewal found this coordinator leading.
   */
  renewsLease: boolean;
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
    const renewed = this.o.renewsLease ? await this.o.lease.renew() : undefined;
    const fence = this.o.lease.fence();
    if (renewed === 0 || !fence) return undefined;
    return { token: renewed ?? Number(fence.token), fence };
  }

  /** Runs `round` every interval, skipping an interval while the previous round still runs. */
  start(round: () => Promise<unknown>): void {
    this.timer = setInterval(() => {
      this.running ??= round()
        .catch((err: Error) => this.o.onError(err))
        .finally(() => {
          this.running = undefined;
        });
    }, this.o.intervalMs);
    this.timer.unref();
  }

  /** No round starts after this; resolves once the one in flight (if any) has finished. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
