// The swarm as operators see it: agents with liveness, nodes with queue counts.
import type { Coordinator } from '../coordinator/coordinator.ts';
import { LoadsReader } from '../coordinator/loadsReader.ts';
import { idOrder } from '../swarm/idOrder.ts';
import { nodeStatuses, type NodeStatus } from './nodePage.ts';

export interface AgentStatus {
  id: string;
  type: string;
  capabilities: string[];
  taskTypes: string[];
  capacity: number;
  node: string;
  hostId: string;
  startedAt: number;
  lastHeartbeat: number | null;
  live: boolean;
}

export interface HostStatus {
  id: string;
  lastHeartbeat: number;
  live: boolean;
  agents: number;
}

export async function swarmView(c: Coordinator): Promise<{ agents: AgentStatus[]; nodes: NodeStatus[]; hosts: HostStatus[] }> {
  const failedAfter = c.router.failedAfterMs;
  const reader = new LoadsReader(c.commands, c.router.prefix, failedAfter);
  const now = Date.now();
  const { nodes, roster, hostBeats } = await reader.read(now, true);
  const perHost = new Map<string, number>();
  const agents = [...roster.agents.values()].map((a) => {
    perHost.set(a.hostId, (perHost.get(a.hostId) ?? 0) + 1);
    const beat = hostBeats.get(a.hostId) ?? null;
    return { ...a, lastHeartbeat: beat, live: beat !== null && now - beat < failedAfter };
  });
  const hosts = [...hostBeats.entries()].map(([id, beat]) => ({ id, lastHeartbeat: beat, live: now - beat < failedAfter, agents: perHost.get(id) ?? 0 }));
  return {
    hosts: hosts.sort((x, y) => x.id.localeCompare(y.id)),
    agents: agents.sort((x, y) => idOrder(x.id, y.id)),
    nodes: nodeStatuses(nodes, roster.nodes),
  };
}
