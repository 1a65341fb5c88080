// What the summary publisher publishes, pure: the metrics:updated summary and
// the agents that joined or left (agent:joined, agent:left) between two rosters.
import type { HealthThresholds } from '../health/classify.ts';
import type { SwarmEventInput } from '../swarm/eventSchemas.ts';
import type { AgentRecord } from '../swarm/records.ts';
import { agentsByHealth, nodeLoads, totals } from './swarmFigures.ts';
import type { SwarmState } from './swarmState.ts';

export type AgentRef = { id: string; type: string; node: string; host: string };

export function summarize(
  s: SwarmState,
  t: HealthThresholds,
  /** Finishes per second. */
  rates: { completed: number; failed: number },
): SwarmEventInput<'metrics:updated'> {
  const per = (n: number) => Math.round(n * 100) / 100;
  const sum = totals(s);
  return {
    at: s.now,
    tasksPerSecond: per(rates.completed + rates.failed),
    completedPerSecond: per(rates.completed),
    failedPerSecond: per(rates.failed),
    waiting: sum.waiting,
    active: sum.active,
    delayed: sum.delayed,
    agents: agentsByHealth(s, t),
    hosts: s.hostBeats.size,
    nodes: nodeLoads(s, t).map(({ id, waiting, active, capacity, agents }) => ({ id, waiting, active, capacity, agents })),
  };
}

/** Working agents (pool seats are not working yet) by id. */
export function workingAgents(agents: ReadonlyMap<string, AgentRecord>): Map<string, AgentRef> {
  const out = new Map<string, AgentRef>();
  for (const a of agents.values()) if (!a.pooled) out.set(a.id, { id: a.id, type: a.type, node: a.node, host: a.hostId });
  return out;
}

export function rosterChanges(before: ReadonlyMap<string, AgentRef>, after: ReadonlyMap<string, AgentRef>): { joined: AgentRef[]; left: AgentRef[] } {
  return {
    joined: [...after.values()].filter((a) => !before.has(a.id)),
    left: [...before.values()].filter((a) => !after.has(a.id)),
  };
}

/** Whether two summaries differ in anything but their time. */
export function sameFigures(a: SwarmEventInput<'metrics:updated'>, b: SwarmEventInput<'metrics:updated'>): boolean {
  return JSON.stringify({ ...a, at: 0 }) === JSON.stringify({ ...b, at: 0 });
}
