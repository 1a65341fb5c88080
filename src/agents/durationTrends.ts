// Each agent's task durations, per task type, against its own baseline: an
// agent whose recent tasks run 50 % longer than its normal (swapping, a
// throttled GPU, a slowing dependency) raises a predicted-degradation alert
// before anything fails.
import type { Redis } from 'ioredis';
import { DEFAULT_BASELINE_OPTIONS, observe, predictDegradation, type AgentBaselines } from '../health/baseline.ts';
import type { Logger } from '../log.ts';
import { publishEvent } from '../swarm/events.ts';

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

export class DurationTrends {
  /** Per agent and task type: duration baselines and whether a trend alert is out. */
  private readonly trends = new Map<string, { baselines: AgentBaselines; predicted: boolean }>();

  constructor(
    private readonly o: {
      hostId: string;
      redis: Redis;
      prefix: string;
      logger: Logger;
      /** Told of each alert as it is raised (the host re-emits it as 'trend'). */
      onAlert: (alert: TrendAlert) => void;
    },
  ) {}

  /** One finished task; raises an alert when the agent's trend for the type turns to degrading. */
  observe(agentId: string, nodeId: string, type: string, ms: number): void {
    const key = `${agentId}\u0000${type}`;
    const t = this.trends.get(key) ?? { baselines: {}, predicted: false };
    t.baselines = observe(t.baselines, 'duration', ms, DEFAULT_BASELINE_OPTIONS);
    this.trends.set(key, t);
    const p = predictDegradation(t.baselines, DEFAULT_BASELINE_OPTIONS);
    if (p.predicted === t.predicted) return;
    t.predicted = p.predicted;
    if (!p.predicted) return;
    const alert: TrendAlert = {
      at: Date.now(),
      host: this.o.hostId,
      agent: agentId,
      node: nodeId,
      taskType: type,
      reason: 'predicted-degradation',
      severity: 'warning',
      trend: { metric: 'duration', baseline: Math.round(p.baseline!), recent: Math.round(p.recent!) },
    };
    this.o.logger.warn(alert, 'health:alert');
    this.o.onAlert(alert);
    publishEvent(this.o.redis, this.o.prefix, 'health:alert', alert).catch(() => {});
  }
}
