// What may be asked of an agent host: which agents, how many, how. Checked with
// zod at every way in (CLI flags, HTTP, control jobs, code).
import { z } from 'zod';
import type { AgentToSeat } from '../../queues/registerAgents.ts';

/** A host id names its control queue (`control-<host>`) and begins its agents' ids. */
export const HOST_ID = /^[A-Za-z0-9_.-]{1,200}$/;
export const hostIdSchema = z.string().regex(HOST_ID, 'letters, digits, "_", "." and "-" only, at most 200');

/** What agentId issues, `<host id>-a<seq>`; nothing else names an agent. */
export const AGENT_ID = /^[A-Za-z0-9_.-]{1,200}-a[1-9][0-9]{0,15}$/;
export const agentIdSchema = z.string().regex(AGENT_ID, 'not an agent id swarmq issues (<host id>-a<n>)');

export function newAgentId(hostId: string, seq: number): string {
  return `${hostId}-a${seq}`;
}

/** An agent a host has seated: what spawning answers and what the control channel replies. */
export interface AgentInfo {
  id: string;
  type: string;
  capacity: number;
  capabilities: string[];
  node: string;
  hostId: string;
}

/** What a host registers for each agent it spawns. */
export type AgentRecordIn = Omit<AgentToSeat, 'pooled' | 'consensusKey' | 'consensusCert'> & {
  /** Its X25519 public key for authenticated consensus messages; the private half stays in this process. */
  consensusKey: string;
  /** Its host's certificate of that key, when the host has an identity (src/trust/certificates.ts). */
  consensusCert?: AgentToSeat['consensusCert'];
};

const name = z.string().min(1).max(128).regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." and "-" only');

export const agentSpecSchema = z
  .object({
    /** The agent type, e.g. "coder"; tasks may ask for it through affinity. */
    type: name,
    count: z.number().int().min(1),
    /** Tasks one agent runs at once. */
    capacity: z.number().int().min(1).max(1000).default(1),
    capabilities: z.array(name).max(64).default([]),
  })
  .strict();

export type AgentSpec = z.input<typeof agentSpecSchema>;
export type AgentSpecParsed = z.output<typeof agentSpecSchema>;

export const spawnRequestSchema = agentSpecSchema
  .extend({
    mode: z.enum(['batch', 'waves']).default('batch'),
    waveSize: z.number().int().min(1).max(10_000).default(20),
    /** Which host spawns them; by default the live host with the fewest agents. */
    hostId: hostIdSchema.optional(),
  })
  .strict();

/** Parse specs, refusing a total over `max` (the configured ceiling per request). */
export function parseSpecs(input: unknown, max: number): AgentSpecParsed[] {
  const specs = z.array(agentSpecSchema).min(1).parse(input);
  const total = specs.reduce((s, x) => s + x.count, 0);
  if (total > max) {
    throw new z.ZodError([{ code: 'too_big', maximum: max, origin: 'number', inclusive: true, path: ['count'], message: `at most ${max} agents at once (agents.maxSpawn), asked for ${total}`, input: total }]);
  }
  return specs;
}
