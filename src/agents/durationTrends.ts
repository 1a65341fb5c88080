// Each agent's task durations, per task type, against its own baseline: an
// agent whose recent tasks run 50 % longer than its normal (swapping, a
// throttled GPU, a slowing dependency) raises a predicted-degradation alert
// before anything fails.
import { DEFAULT_BASELINE_OPTIONS, observe, predictDegradation, type AgentBaselines } from '../health/baseline.ts';
import { raiseAlert, type AlertSink, type TrendAlert } from './agentAlerts.ts';

export type { TrendAlert } from './agentAlerts.ts';

export class DurationTrends {
  /** Per agent and task type: duration baselines and whether a trend alert is out. */
  private readonly trends = new Map<string, { baselines: AgentBaselines; predicted: boolean }>();

  /** The host re-emits each alert as 'trend'. */
  constructor(private readonly sink: AlertSink<TrendAlert>) {}

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
      host: this.sink.hostId,
      agent: agentId,
      node: nodeId,
      taskType: type,
      reason: 'predicted-degradation',
      severity: 'warning',
      trend: { metric: 'duration', baseline: Math.round(p.baseline!), recent: Math.round(p.recent!) },
    };
    raiseAlert(this.sink, alert, 'warn', 'health:alert');
  }
}
