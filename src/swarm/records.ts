// Records of swarm state as stored in Redis, parsed with zod on the way in:
// Redis is a boundary too (another version or a hand edit may have written it).
import { z } from 'zod';
import { agentCertSchema } from '../trust/certificates.ts';

// Redis' cjson writes an empty array as {}: read either as [].
const stringList = z.preprocess((v) => (v && typeof v === 'object' && !Array.isArray(v) ? [] : v), z.array(z.string()));

export const agentRecordSchema = z.object({
  id: z.string(),
  type: z.string(),
  capabilities: stringList,
  taskTypes: stringList,
  capacity: z.number().int().positive(),
  node: z.string(),
  hostId: z.string(),
  startedAt: z.number(),
  /** A warm agent of a host's pool: its seat is reserved, it takes no work yet. */
  pooled: z.boolean().optional(),
  /** X25519 public key (base64, 32 bytes) its consensus messages are authenticated with. */
  consensusKey: z.string().optional(),
  /** With a trust anchor: its host's certificate of that key; only a certified key takes part in consensus. */
  consensusCert: agentCertSchema.optional(),
});
export type AgentRecord = z.infer<typeof agentRecordSchema>;

export const nodeRecordSchema = z.object({
  id: z.string(),
  seq: z.number(),
  queue: z.string(),
  profile: z.string(),
  members: z.number().int().min(0),
  createdAt: z.number(),
});
export type NodeRecord = z.infer<typeof nodeRecordSchema>;

export const cancelledRecordSchema = z.object({
  id: z.string(),
  type: z.string(),
  node: z.string(),
  createdAt: z.number(),
  attempts: z.number(),
  cancelledAt: z.number(),
  /** Cancelled while an agent ran it (cancelRunning-9.lua): when it started, and the host that ran it. */
  wasRunning: z.boolean().optional(),
  startedAt: z.number().optional(),
  host: z.string().optional(),
});
export type CancelledRecord = z.infer<typeof cancelledRecordSchema>;

/** Parse every value of a HGETALL; a record that does not parse is reported, not thrown, so one bad entry cannot stop routing. */
export function parseHash<T>(hash: Record<string, string>, schema: z.ZodType<T>, onBad: (key: string, err: string) => void): Map<string, T> {
  const out = new Map<string, T>();
  for (const [key, raw] of Object.entries(hash)) {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      onBad(key, 'not JSON');
      continue;
    }
    const parsed = schema.safeParse(json);
    if (parsed.success) out.set(key, parsed.data);
    else onBad(key, parsed.error.message);
  }
  return out;
}

/**
 * Agents with the same profile are interchangeable, so they may share a node: any
 * of them can run what is routed there. JSON keeps names with separators apart;
 * sorting and de-duplicating makes the order of capabilities irrelevant.
 */
export function agentProfile(a: { type: string; capabilities: readonly string[]; taskTypes: readonly string[] }): string {
  const set = (xs: readonly string[]) => [...new Set(xs)].sort();
  return JSON.stringify([a.type, set(a.capabilities), set(a.taskTypes)]);
}
