// The node loads the leading coordinator publishes for every router, as one
// compact JSON body: the roster version the counts belong to, the hosts alive,
// and per node its waiting, active, delayed, completed and failed counts. A
// body from Redis is checked here before anything routes on it.
import { z } from 'zod';
import type { QueueCounts } from '../../queues/queueCounts.ts';

export const COUNTS_PER_NODE = 5;

export interface LoadsSnapshot {
  version: string;
  /** The leader's clock when it read these counts. */
  at: number;
  /** The roster version the counts were read under (null: no roster yet). */
  rosterVersion: string | null;
  /** Hosts whose heartbeat the leader found within failedAfterMs. */
  liveHosts: ReadonlySet<string>;
  counts: ReadonlyMap<string, QueueCounts>;
}

const count = z.number().int().nonnegative();
const bodySchema = z
  .object({
    format: z.literal(1),
    version: z.string().min(1).max(200),
    at: z.number().int().nonnegative(),
    rosterVersion: z.string().max(40).nullable(),
    liveHosts: z.array(z.string().max(200)),
    nodes: z.array(z.string().max(200)),
    counts: z.array(count),
  })
  .refine((b) => b.counts.length === b.nodes.length * COUNTS_PER_NODE, { message: `counts must hold ${COUNTS_PER_NODE} figures per node`, path: ['counts'] });

export function encodeLoads(s: LoadsSnapshot): string {
  const nodes = [...s.counts.keys()];
  const counts = nodes.flatMap((id) => {
    const c = s.counts.get(id)!;
    return [c.waiting, c.active, c.delayed, c.completed, c.failed];
  });
  return JSON.stringify({ format: 1, version: s.version, at: s.at, rosterVersion: s.rosterVersion, liveHosts: [...s.liveHosts], nodes, counts });
}

/** The snapshot, or why the body is not one (a reader keeps its last and reads the loads itself). */
export function decodeLoads(body: string): { ok: true; snapshot: LoadsSnapshot } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
  const parsed = bodySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `${issue?.path.join('.') || '(body)'}: ${issue?.message ?? 'invalid'}` };
  }
  const b = parsed.data;
  const counts = new Map<string, QueueCounts>();
  b.nodes.forEach((id, i) => {
    const o = i * COUNTS_PER_NODE;
    counts.set(id, { waiting: b.counts[o]!, active: b.counts[o + 1]!, delayed: b.counts[o + 2]!, completed: b.counts[o + 3]!, failed: b.counts[o + 4]! });
  });
  return { ok: true, snapshot: { version: b.version, at: b.at, rosterVersion: b.rosterVersion, liveHosts: new Set(b.liveHosts), counts } };
}

/** Whether two count tables say the same thing (a leader republishes only when they differ). */
export function sameCounts(a: ReadonlyMap<string, QueueCounts>, b: ReadonlyMap<string, QueueCounts>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, x] of a) {
    const y = b.get(id);
    if (!y || x.waiting !== y.waiting || x.active !== y.active || x.delayed !== y.delayed || x.completed !== y.completed || x.failed !== y.failed) return false;
  }
  return true;
}

export function sameHosts(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
