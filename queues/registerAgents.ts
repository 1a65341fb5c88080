// Agents join the roster, each seated in a node of its profile (see registerAgents-4.lua).
import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import { MAX_NODE_SEQ, SLOT_GROUP_SIZE, swarmKeys } from './keys.ts';
import { scripts } from './scripts.ts';

/** An agent as it is registered: its roster record, less the node and start time the script adds. */
export interface AgentToSeat {
  id: string;
  type: string;
  capabilities: string[];
  capacity: number;
  taskTypes: string[];
  hostId: string;
  /** Agents of one profile share nodes (the script drops it from the stored record). */
  profile: string;
  /** Its public key for authenticated consensus messages. */
  consensusKey?: string;
  /** With a trust anchor: its host's certificate of that key (src/trust/certificates.ts AgentCert), stored as given. */
  consensusCert?: { host: { text: string; sig: string }; agent: { text: string; sig: string } };
  /** Warm: its seat is reserved, and no router counts it until it is registered again without this. */
  pooled?: boolean;
}

export interface RegisterRequest {
  prefix: string;
  maxAgentsPerNode: number;
  /** When they start (ms); an agent already registered in a node of its profile keeps its own, unless it was pooled until now. */
  now: number;
  agents: readonly AgentToSeat[];
}

const seatsSchema = z.record(z.string(), z.string());

/** Each agent's node: agentId → nodeId. */
export async function registerAgents(redis: Redis | Cluster, r: RegisterRequest): Promise<Record<string, string>> {
  const k = swarmKeys(r.prefix);
  const reply = await scripts.registerAgents.run(
    redis,
    [k.agents, k.nodes, k.nodeSeq, k.rosterVersion],
    [r.maxAgentsPerNode, r.now, JSON.stringify(r.agents), SLOT_GROUP_SIZE, MAX_NODE_SEQ],
  );
  return seatsSchema.parse(JSON.parse(String(reply)));
}
