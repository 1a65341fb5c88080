// An agent's circuit breaker changing state is news beyond its node: a warning
// when it is isolated, a note as it comes back. Logged, told to the host, and
// published as a health:alert for every dashboard and coordinator.
import type { Redis } from 'ioredis';
import type { Breaker, BreakerTransition } from '../health/breaker.ts';
import type { Logger } from '../log.ts';
import { publishEvent } from '../swarm/events.ts';

/** An agent isolated by its circuit breaker, or coming back. */
export interface BreakerAlert {
  at: number;
  host: string;
  agent: string;
  node: string;
  reason: 'isolated' | 'reintegrating' | 'reintegrated';
  breaker: 'closed' | 'open' | 'half-open';
  severity: 'warning' | 'info';
}

export class BreakerAlerts {
  constructor(
    private readonly o: {
      hostId: string;
      redis: Redis;
      prefix: string;
      logger: Logger;
      /** Told of each alert as it is raised (the host re-emits it as 'breaker'). */
      onAlert: (alert: BreakerAlert) => void;
    },
  ) {}

  /** One agent's breaker moved; what a node runner's onBreaker reports. */
  report(agentId: string, nodeId: string, transition: Exclude<BreakerTransition, null>, breaker: Breaker): void {
    const alert: BreakerAlert = { at: Date.now(), host: this.o.hostId, agent: agentId, node: nodeId, reason: transition, breaker: breaker.state, severity: transition === 'isolated' ? 'warning' : 'info' };
    this.o.logger[transition === 'isolated' ? 'warn' : 'info'](alert, `agent ${transition}`);
    this.o.onAlert(alert);
    publishEvent(this.o.redis, this.o.prefix, 'health:alert', alert).catch(() => {});
  }
}
