// The events the dashboard reads off the swarm's stream, as the publishers
// write them (src/swarm/events.ts). The stream is a boundary: each guard keeps
// only entries of the expected shape, so one odd entry cannot break the page.
export type HealthState = 'healthy' | 'degraded' | 'critical' | 'failed';

export interface HealthAlertEvent {
  at: number;
  host: string;
  severity: 'info' | 'warning' | 'critical';
  reason: string;
  agents?: number;
  agent?: string;
  node?: string;
  from?: HealthState;
  to?: HealthState;
  breaker?: 'closed' | 'open' | 'half-open';
  taskType?: string;
  trend?: { metric: string; baseline: number; recent: number };
}

export interface RebalanceMove {
  from: string;
  to: string;
  count: number;
  moved: number;
  reason: 'steal' | 'rebalance';
}

export interface LoadRebalancedEvent {
  at: number;
  token: number;
  moves: RebalanceMove[];
}

export interface RecoveryStepEvent {
  id: string;
  host: string;
  state: 'running' | 'done' | 'escalated';
  step: string;
  at: number;
  detail: Record<string, unknown>;
}

export interface ConsensusReachedEvent {
  id: string;
  protocol: string;
  decided: boolean;
  value: unknown;
  votes: number;
  participants: number;
  rounds: number;
  latencyMs: number;
}

export type SwarmEvent =
  | { id: string; type: 'health:alert'; data: HealthAlertEvent }
  | { id: string; type: 'load:rebalanced'; data: LoadRebalancedEvent }
  | { id: string; type: 'recovery:step'; data: RecoveryStepEvent }
  | { id: string; type: 'consensus:reached'; data: ConsensusReachedEvent };

export const DASHBOARD_EVENT_TYPES = ['health:alert', 'load:rebalanced', 'recovery:step', 'consensus:reached'] as const;

const HEALTH_STATES = new Set(['healthy', 'degraded', 'critical', 'failed']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

export function isHealthState(v: unknown): v is HealthState {
  return isStr(v) && HEALTH_STATES.has(v);
}

/** A stream entry as a typed dashboard event, or undefined when it is not one. */
export function toSwarmEvent(id: string, type: string, data: unknown): SwarmEvent | undefined {
  if (!isObj(data)) return undefined;
  switch (type) {
    case 'health:alert':
      if (!isNum(data.at) || !isStr(data.host) || !isStr(data.reason)) return undefined;
      if (data.to !== undefined && !isHealthState(data.to)) return undefined;
      return { id, type, data: data as unknown as HealthAlertEvent };
    case 'load:rebalanced':
      if (!isNum(data.at) || !Array.isArray(data.moves)) return undefined;
      if (!data.moves.every((m) => isObj(m) && isStr(m.from) && isStr(m.to) && isNum(m.moved))) return undefined;
      return { id, type, data: data as unknown as LoadRebalancedEvent };
    case 'recovery:step':
      if (!isStr(data.id) || !isStr(data.host) || !isStr(data.step) || !isStr(data.state) || !isNum(data.at)) return undefined;
      return { id, type, data: { ...(data as unknown as RecoveryStepEvent), detail: isObj(data.detail) ? data.detail : {} } };
    case 'consensus:reached':
      if (!isStr(data.id) || !isStr(data.protocol) || !isNum(data.votes) || !isNum(data.participants)) return undefined;
      return { id, type, data: data as unknown as ConsensusReachedEvent };
    default:
      return undefined;
  }
}
