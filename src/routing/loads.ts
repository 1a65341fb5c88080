// Node loads as a router sees them at one instant (each node's agents, waiting
// and active counts), what a task requires, and the decision: plain data, no I/O.
export interface AgentView {
  id: string;
  type: string;
  capabilities: readonly string[];
  taskTypes: readonly string[];
  capacity: number;
  /** Its host beat recently enough to count as running. */
  live: boolean;
}

export interface NodeView {
  id: string;
  agents: readonly AgentView[];
  /** waiting + prioritized jobs */
  waiting: number;
  active: number;
  /** Recent task latency on this node (e.g. an EMA of submit → start), when measured; the weighted strategy reads it. */
  latencyMs?: number;
}

export interface TaskRequirement {
  type: string;
  affinity?: { agentType?: string | undefined; capabilities?: readonly string[] | undefined } | undefined;
}

export type RouteDecision =
  | { ok: true; node: string }
  | { ok: false; code: 'unknown_task_type' | 'no_capable_agent'; message: string };

export function canRun(agent: AgentView, task: TaskRequirement): boolean {
  if (!agent.taskTypes.includes(task.type)) return false;
  const aff = task.affinity;
  if (aff?.agentType !== undefined && agent.type !== aff.agentType) return false;
  if (aff?.capabilities?.some((c) => !agent.capabilities.includes(c))) return false;
  return true;
}
