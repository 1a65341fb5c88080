// The swarm as operators see it: agents with liveness, nodes with queue counts.
import type { Coordinator } from '../coordinator/coordinator.ts';
import { LoadsReader } from '../coordinator/loadsReader.ts';
import { idOrder } from '../swarm/idOrder.ts';

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

export interface NodeStatus {
  id: string;
  queue: string;
  members: number;
  liveAgents: number;
  capacity: number;
  waiting: number;
  active: number;
  createdAt: number;
}

export interface HostStatus {
  id: string;
  lastHeartbeat: number;
  live: boolean;
  agents: number;
}

export async function swarmView(c: Coordinator): Promise<{ agents: AgentStatus[]; nodes: NodeStatus[]; hosts: HostStatus[] }> {
  const reader = new LoadsReader(c.commands, c.router.prefix, Number.POSITIVE_INFINITY);
  const now = Date.now();
  const { nodes, roster, hostBeats } = await reader.read(now, true);
  const failedAfter = c.router.failedAfterMs;
  const agents = [...roster.agents.values()].map((a) => {
    const beat = hostBeats.get(a.hostId) ?? null;
    return { ...a, lastHeartbeat: beat, live: beat !== null && now - beat < failedAfter };
  });
  const live = new Set(agents.filter((a) => a.live).map((a) => a.id));
  const hosts = [...hostBeats.entries()].map(([id, beat]) => ({
    id,
    lastHeartbeat: beat,
    live: now - beat < failedAfter,
    agents: agents.filter((a) => a.hostId === id).length,
  }));
  return {
    hosts: hosts.sort((x, y) => x.id.localeCompare(y.id)),
    agents: agents.sort((x, y) => idOrder(x.id, y.id)),
    nodes: nodes
      .map((n) => {
        const rec = roster.nodes.get(n.id)!;
        const liveAgents = n.agents.filter((a) => live.has(a.id));
        return {
          id: n.id,
          queue: rec.queue,
          members: rec.members,
          liveAgents: liveAgents.length,
          capacity: liveAgents.reduce((s, a) => s + a.capacity, 0),
          waiting: n.waiting,
          active: n.active,
          createdAt: rec.createdAt,
        };
      })
      .sort((x, y) => idOrder(x.id, y.id)),
  };
}
