// Where an agent's alerts go: the host's log, the host's own listeners (it
// re-emits them as events), and the swarm's events stream as a health:alert
// that every dashboard and coordinator reads.
import type { RedisClient } from '../../queues/redisTarget.ts';
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

/** An agent whose tasks of one type run markedly longer than its own normal. */
export interface TrendAlert {
  at: number;
  host: string;
  agent: string;
  node: string;
  taskType: string;
  reason: 'predicted-degradation';
  severity: 'warning';
  trend: { metric: 'duration'; baseline: number; recent: number };
}

/** A cancelled task whose processor had not ended when the grace period passed (its slot was freed). */
export interface CancelAlert {
  at: number;
  host: string;
  agent: string;
  node: string;
  task: string;
  reason: 'cancel-ignored';
  severity: 'warning';
  graceMs: number;
}

export interface AlertSink<A> {
  hostId: string;
  redis: RedisClient;
  prefix: string;
  logger: Logger;
  /** Told of each alert as it is raised. */
  onAlert: (alert: A) => void;
}

export function raiseAlert<A extends BreakerAlert | TrendAlert | CancelAlert>(sink: AlertSink<A>, alert: A, level: 'warn' | 'info', message: string): void {
  const fields: BreakerAlert | TrendAlert | CancelAlert = alert;
  sink.logger[level](fields, message);
  sink.onAlert(alert);
  // An alert that cannot be published is still logged and told to the host: Redis trouble is reported elsewhere.
  publishEvent(sink.redis, sink.prefix, 'health:alert', alert).catch(() => {});
}
