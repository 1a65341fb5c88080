// Spawning and retiring agents over HTTP: validated here, carried out by the
// chosen host through its control queue.
import type { AgentInfo } from '../agents/host.ts';
import { agentIdSchema, spawnRequestSchema } from '../agents/spec.ts';
import type { Coordinator } from '../coordinator/coordinator.ts';
import { SwarmError } from '../errors.ts';
import { issuesOf } from '../validation.ts';
import { swarmView } from './swarmView.ts';

const SPAWN_TIMEOUT_MS = 60_000;

export async function spawnAgents(c: Coordinator, body: unknown): Promise<{ hostId: string; agents: AgentInfo[] }> {
  const parsed = spawnRequestSchema.safeParse(body);
  if (!parsed.success) {
    const details = issuesOf(parsed.error);
    throw new SwarmError('invalid_request', `invalid spawn request: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details);
  }
  const req = parsed.data;
  const max = c.config.agents.maxSpawn;
  if (req.count > max) throw new SwarmError('invalid_request', `count ${req.count} is over the maximum of ${max} (agents.maxSpawn)`, [{ path: 'count', message: `at most ${max}` }]);
  const view = await swarmView(c);
  const live = new Map<string, number>();
  for (const h of view.hosts) if (h.live) live.set(h.id, h.agents);
  let hostId = req.hostId;
  if (hostId !== undefined && !live.has(hostId)) {
    throw new SwarmError('host_unavailable', `host ${hostId} is not running (no recent heartbeat)`, [{ path: 'hostId', message: 'not a live host' }]);
  }
  hostId ??= [...live.entries()].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))[0]?.[0];
  if (!hostId) throw new SwarmError('host_unavailable', 'no agent host is running; start one with `swarmq agents`');
  const { agents } = await c.hosts.call<{ agents: AgentInfo[] }>(hostId, 'spawn', req, SPAWN_TIMEOUT_MS);
  return { hostId, agents };
}

export async function retireAgent(c: Coordinator, agentId: string): Promise<{ id: string; hostId: string; returned: number }> {
  if (!agentIdSchema.safeParse(agentId).success) throw new SwarmError('not_found', `no agent ${agentId}`);
  const agent = (await swarmView(c)).agents.find((a) => a.id === agentId);
  if (!agent) throw new SwarmError('not_found', `no agent ${agentId}`);
  if (!agent.live) throw new SwarmError('host_unavailable', `agent ${agentId}'s host ${agent.hostId} is not running`);
  const { returned } = await c.hosts.call<{ returned: number }>(agent.hostId, 'retire', { agentId }, SPAWN_TIMEOUT_MS);
  return { id: agentId, hostId: agent.hostId, returned };
}
