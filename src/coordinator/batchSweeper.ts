// The leading coordinator's share of batch submits (stagedBatch.ts): every
// round it takes over the staged batches that fell due (their submitter died
// or failed between staging and finishing) and adds what they still lack.
// Readers of such a batch's tasks do the same for the batch they read; this
// round makes sure a batch nobody reads is not left staged.
import type { Lease } from './lease.ts';
import { LeaderLoop } from './leaderLoop.ts';
import type { Logger } from '../log.ts';

/** How often the leader looks for due batches: a due batch waits at most this long past its lease. */
export const BATCH_SWEEP_INTERVAL_MS = 1000;

export class BatchSweeper {
  private readonly loop: LeaderLoop;

  constructor(
    private readonly o: {
      lease: Lease;
      logger: Logger;
      /** Takes over and finishes due batches; resolves with how many (TaskRouter.resumeDueBatches). */
      resumeDue: () => Promise<number>;
      intervalMs?: number;
    },
  ) {
    // Rides on the balancer's and health monitor's renewals, as the summary does.
    this.loop = new LeaderLoop({ lease: o.lease, renewsLease: false, intervalMs: o.intervalMs ?? BATCH_SWEEP_INTERVAL_MS, onError: (err) => o.logger.warn({ err: err.message }, 'batch sweep failed') });
  }

  start(): void {
    this.loop.start(async () => {
      if (!(await this.loop.leadership())) return;
      const n = await this.o.resumeDue();
      if (n) this.o.logger.info({ batches: n }, 'finished batch submits their submitters left staged');
    });
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
