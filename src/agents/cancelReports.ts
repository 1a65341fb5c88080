// What a host does with the cancels of its running tasks: counts each kind (in
// the swarm's stats hash, beside duplicateCompletions, and here for the host's
// own listeners), and raises a warning when a processor ignores its signal past
// the grace period, as breaker and trend alerts are raised.
import { raiseAlert, type AlertSink, type CancelAlert } from './agentAlerts.ts';
import type { CancelEvent } from './cancelling.ts';

/** The stats hash field each kind is counted in. */
export const CANCEL_STATS = { aborted: 'cancelledRunning', 'result-refused': 'cancelRefusedResults', 'ignored-signal': 'cancelIgnoredSignals' } as const;

export type CancelCounts = Record<CancelEvent['kind'], number>;

export class CancelReports {
  private readonly counts: CancelCounts = { aborted: 0, 'result-refused': 0, 'ignored-signal': 0 };

  constructor(
    private readonly sink: AlertSink<CancelAlert>,
    private readonly statsKey: string,
    private readonly graceMs: number,
  ) {}

  report(e: CancelEvent): void {
    this.counts[e.kind]++;
    this.sink.redis.hincrby(this.statsKey, CANCEL_STATS[e.kind], 1).catch(() => {});
    if (e.kind === 'ignored-signal') {
      const alert: CancelAlert = { at: Date.now(), host: this.sink.hostId, agent: e.agentId, node: e.node, task: e.taskId, reason: 'cancel-ignored', severity: 'warning', graceMs: this.graceMs };
      raiseAlert(this.sink, alert, 'warn', 'a cancelled task\'s processor ignored its signal; its slot is freed, the work runs on unobserved');
    } else if (e.kind === 'result-refused') this.sink.logger.info({ task: e.taskId, agent: e.agentId, node: e.node }, 'a cancelled task returned a result: refused, not recorded');
  }

  /** This host's counts since it started. */
  snapshot(): CancelCounts {
    return { ...this.counts };
  }
}
