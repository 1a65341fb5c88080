// The swarm's events, one zod schema per type: publishers validate before they
// write, subscribers (SwarmClient.on, GET /api/events, /metrics) parse what they
// read, so a dashboard in another process can rely on each shape. Unknown
// fields are dropped, not refused: a newer publisher may add some and an older
// reader keeps working; the schema is the contract.
import { z } from 'zod';
import { approverSchema } from '../tasks/approval.ts';

const healthState = z.enum(['healthy', 'degraded', 'critical', 'failed']);
const severity = z.enum(['info', 'warning', 'critical']);

/** The leading coordinator's periodic summary of the swarm. */
export const metricsUpdatedSchema = z.object({
  at: z.number(),
  /** Tasks finished (completed or failed) per second since the previous summary. */
  tasksPerSecond: z.number().min(0),
  completedPerSecond: z.number().min(0),
  failedPerSecond: z.number().min(0),
  waiting: z.int().min(0),
  active: z.int().min(0),
  delayed: z.int().min(0),
  /** Agents by the health state of their host, from heartbeats in Redis. */
  agents: z.object({ healthy: z.int().min(0), degraded: z.int().min(0), critical: z.int().min(0), failed: z.int().min(0) }),
  hosts: z.int().min(0),
  nodes: z.array(
    z.object({
      id: z.string(),
      waiting: z.int().min(0),
      active: z.int().min(0),
      /** Slots of live agents. */
      capacity: z.int().min(0),
      agents: z.int().min(0),
    }),
  ),
});

/** Waiting tasks the balancer moved between nodes (steals and rebalances). */
export const loadRebalancedSchema = z.object({
  at: z.number(),
  /** The leader's fencing token the moves carried. */
  token: z.number(),
  moves: z.array(
    z.object({ from: z.string(), to: z.string(), count: z.int().min(0), moved: z.int().min(0), reason: z.enum(['steal', 'rebalance', 'cross-group']) }),
  ),
});

/**
 * A host changing health state (from/to), an HTTP agents' endpoint changing
 * state (reason endpoint: endpoint, from/to, agents on it), an agent's circuit
 * breaker (agent, breaker), or a predicted degradation (trend). One type,
 * because an operator watches them as one feed; `reason` tells them apart.
 */
export const healthAlertSchema = z.object({
  at: z.number(),
  host: z.string(),
  severity,
  reason: z.string(),
  agents: z.int().min(0).optional(),
  agent: z.string().optional(),
  node: z.string().optional(),
  from: healthState.optional(),
  to: healthState.optional(),
  heartbeatAgeMs: z.number().nullable().optional(),
  breaker: z.enum(['closed', 'open', 'half-open']).optional(),
  taskType: z.string().optional(),
  trend: z.object({ metric: z.string(), baseline: z.number(), recent: z.number() }).optional(),
  /** A cancelled task whose processor ignored its signal past the grace period (reason cancel-ignored). */
  task: z.string().optional(),
  graceMs: z.number().optional(),
  /** Reason endpoint: the endpoint (origin and path) whose state moved from/to; the host's own state is not changed by it. */
  endpoint: z.string().optional(),
  /** Reason endpoint: how long it had gone unanswered (ms); 0 once it answers again. */
  silentForMs: z.number().min(0).optional(),
  /** A summary of one kind of alert from several hosts within a short window: host is '*', these are the hosts. */
  hosts: z.array(z.string()).min(2).optional(),
  count: z.int().min(2).optional(),
  /** The last step's detail when recovery gave up. */
  escalated: z.record(z.string(), z.unknown()).optional(),
});

/** A proposal decided; latencyMs is from the proposal to the decision that made it final. */
export const consensusReachedSchema = z.object({
  id: z.string(),
  protocol: z.string(),
  decided: z.boolean(),
  value: z.unknown(),
  votes: z.int().min(0),
  participants: z.int().min(0),
  rounds: z.int().min(0),
  latencyMs: z.number().min(0),
  /** A replicated task's vote: the task, and the agents whose output was outvoted. */
  task: z.string().optional(),
  dissenters: z.array(z.string()).optional(),
});

/** One step of a host's recovery; the record's last step is sent again with state done or escalated. */
export const recoveryStepSchema = z.object({
  id: z.string(),
  host: z.string(),
  state: z.enum(['running', 'done', 'escalated']),
  step: z.enum(['isolate', 'requeue', 'remove', 'transfer', 'replace', 'verify', 'escalate']),
  at: z.number(),
  detail: z.record(z.string(), z.unknown()),
});

/** A task that failed its last attempt, as kept in the dead-letter queue. */
export const taskDeadLetteredSchema = z.object({
  id: z.string(),
  type: z.string(),
  node: z.string(),
  payload: z.unknown(),
  error: z.string(),
  attempts: z.int().min(0),
  failedAt: z.number(),
  agentId: z.string().nullable(),
});

/** Agents seen joining or leaving the roster by the leading coordinator (one event per change, listing them). */
const agentRef = z.object({ id: z.string(), type: z.string(), node: z.string(), host: z.string() });
export const agentsJoinedSchema = z.object({ at: z.number(), agents: z.array(agentRef).min(1) });
export const agentsLeftSchema = z.object({ at: z.number(), agents: z.array(agentRef).min(1) });

/**
 * A decision on a task's output awaiting approval (src/tasks/approval.ts): approved or
 * rejected by `by` (see approverSchema for what it proves), or its deadline reached.
 */
export const approvalDecidedSchema = z.object({
  task: z.string(),
  type: z.string(),
  /** Its node, or the consensus queue for a replicated task. */
  node: z.string(),
  decision: z.enum(['approved', 'rejected', 'timed-out']),
  by: approverSchema.optional(),
  at: z.number(),
  round: z.int().min(1),
  reason: z.string().optional(),
  retry: z.boolean().optional(),
});

/**
 * Spend reached 80 or 100 % of a budget (docs/budgets.md): a key's, once each
 * per period (flagged in the period's totals, recordUsage-4.lua), or a task's
 * own, once each per run.
 */
export const budgetAlertSchema = z.object({
  at: z.number(),
  scope: z.enum(['key', 'task']),
  threshold: z.union([z.literal(80), z.literal(100)]),
  /** The key (scope key), or the task's key if it has one. */
  key: z.string().optional(),
  /** The task whose report crossed it. */
  task: z.string(),
  type: z.string(),
  spent: z.object({ tokens: z.number().min(0), costUsd: z.number().min(0) }),
  limit: z.object({ tokens: z.number().optional(), costUsd: z.number().optional() }),
  /** Scope key: when its period resets (ms, Redis's clock). */
  resetsAt: z.number().optional(),
});

export const swarmEventSchemas = {
  'metrics:updated': metricsUpdatedSchema,
  'load:rebalanced': loadRebalancedSchema,
  'health:alert': healthAlertSchema,
  'consensus:reached': consensusReachedSchema,
  'recovery:step': recoveryStepSchema,
  'task:dead-lettered': taskDeadLetteredSchema,
  'agent:joined': agentsJoinedSchema,
  'agent:left': agentsLeftSchema,
  'approval:decided': approvalDecidedSchema,
  'budget:alert': budgetAlertSchema,
} as const;

export type SwarmEventType = keyof typeof swarmEventSchemas;
export const SWARM_EVENT_TYPES = Object.keys(swarmEventSchemas) as SwarmEventType[];

/** What a publisher hands in (zod input) and what a subscriber gets (zod output). */
export type SwarmEventInput<T extends SwarmEventType> = z.input<(typeof swarmEventSchemas)[T]>;
export type SwarmEventData<T extends SwarmEventType> = z.output<(typeof swarmEventSchemas)[T]>;

export function isSwarmEventType(s: string): s is SwarmEventType {
  return Object.hasOwn(swarmEventSchemas, s);
}

/** One event as read back: the stream entry id (resume point), its type, when it was written (ms, from the id), its data. */
export interface SwarmEvent<T extends SwarmEventType = SwarmEventType> {
  id: string;
  type: T;
  at: number;
  data: SwarmEventData<T>;
}

/** Any event, discriminated by `type`, so a switch narrows `data`. */
export type AnySwarmEvent = { [T in SwarmEventType]: SwarmEvent<T> }[SwarmEventType];
