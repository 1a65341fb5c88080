// Agents leave the roster and free their seats (see deregisterAgents-3.lua).
import type { Cluster, Redis } from 'ioredis';
import { swarmKeys } from './keys.ts';
import { scripts } from './scripts.ts';

export interface DeregisterRequest {
  prefix: string;
  agentIds: readonly string[];
}

/** Returns how many of the agents were registered (and are now removed). */
export async function deregisterAgents(redis: Redis | Cluster, r: DeregisterRequest): Promise<number> {
  const k = swarmKeys(r.prefix);
  return Number(await scripts.deregisterAgents.run(redis, [k.agents, k.nodes, k.rosterVersion], r.agentIds));
}
