// An agent's circuit breaker changing state is news beyond its node: a warning
// when it is isolated, a note as it comes back. Logged, told to the host, and
// published as a health:alert for every dashboard and coordinator.
import type { Breaker, BreakerTransition } from '../health/breaker.ts';
import { raiseAlert, type AlertSink, type BreakerAlert } from './agentAlerts.ts';

export type { BreakerAlert } from './agentAlerts.ts';

export class BreakerAlerts {
  /** The host re-emits each alert as 'breaker'. */
  constructor(private readonly sink: AlertSink<BreakerAlert>) {}

  /** One agent's breaker moved; what a node runner's onBreaker reports. */
  report(agentId: string, nodeId: string, transition: Exclude<BreakerTransition, null>, breaker: Breaker): void {
    const alert: BreakerAlert = { at: Date.now(), host: this.sink.hostId, agent: agentId, node: nodeId, reason: transition, breaker: breaker.state, severity: transition === 'isolated' ? 'warning' : 'info' };
    raiseAlert(this.sink, alert, transition === 'isolated' ? 'warn' : 'info', `agent ${transition}`);
  }
}
