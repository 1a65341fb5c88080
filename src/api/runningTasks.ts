// GET /api/running: tasks running now, with their latest progress, for the
// dashboard. Bounded at any size of swarm: the node loads (already read for the
// summary) say which nodes have active jobs, and only enough of those are read
// to fill `limit` rows (one LRANGE per node read, one HMGET per task shown).
import { z } from 'zod';
import { bullKey, nodeQueueName } from '../../queues/keys.ts';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { slotPipeline } from '../../queues/slotPipeline.ts';
import type { NodeView } from '../routing/loads.ts';
import { idOrder } from '../swarm/idOrder.ts';
import { decodeProgress } from '../tasks/progress.ts';

export const RUNNING_LIMIT = { default: 20, max: 200 } as const;

export const runningQuerySchema = z
  .object({
    limit: z.coerce
      .number({ error: 'limit: a whole number' })
      .int('limit: a whole number')
      .min(1, 'limit: at least 1')
      .max(RUNNING_LIMIT.max, `limit: at most ${RUNNING_LIMIT.max}`)
      .default(RUNNING_LIMIT.default),
  })
  .strict();

export interface RunningTask {
  id: string;
  type: string;
  node: string;
  /** The agent host running it (BullMQ's processedBy: the host's Worker name); the agent itself is recorded at the finish. */
  host: string | null;
  startedAt: number | null;
  /** The latest ctx.progress value; null: none reported. */
  progress: unknown;
}

export interface RunningPage {
  tasks: RunningTask[];
  /** Active tasks over the whole swarm, as the node loads count them (may exceed tasks.length). */
  active: number;
}

/** The nodes to read, in id order, until their active counts reach `limit`. */
export function nodesToRead(nodes: readonly NodeView[], limit: number): string[] {
  const busy = nodes.filter((n) => n.active > 0).sort((a, b) => idOrder(a.id, b.id));
  const out: string[] = [];
  let rows = 0;
  for (const n of busy) {
    if (rows >= limit) break;
    out.push(n.id);
    rows += n.active;
  }
  return out;
}

/** A row from a job's HMGET of [name, processedOn, progress, pb (BullMQ's processedBy)]; null when the job is gone. */
export function runningRow(id: string, node: string, fields: readonly (string | null)[]): RunningTask | null {
  const [name, processedOn, progress, host] = fields;
  if (name === null || name === undefined) return null;
  const started = processedOn ? Number(processedOn) : NaN;
  return { id, type: name, node, host: host ?? null, startedAt: Number.isFinite(started) ? started : null, progress: decodeProgress(progress ?? undefined) };
}

function replies<T>(results: [Error | null, unknown][] | null): T[] {
  return (results ?? []).map(([err, v]) => {
    if (err) throw err;
    return v as T;
  });
}

export async function readRunning(redis: RedisClient, prefix: string, nodes: readonly NodeView[], limit: number): Promise<RunningPage> {
  const active = nodes.reduce((s, n) => s + n.active, 0);
  const read = nodesToRead(nodes, limit);
  if (read.length === 0) return { tasks: [], active };
  const k = (node: string, s: string) => bullKey(prefix, nodeQueueName(node), s);
  const lists = slotPipeline(redis);
  for (const node of read) lists.lrange(k(node, 'active'), 0, limit - 1);
  const ids = replies<string[]>(await lists.exec())
    .flatMap((list, i) => list.map((id) => ({ id, node: read[i]! })))
    .slice(0, limit);
  const jobs = slotPipeline(redis);
  for (const { id, node } of ids) jobs.hmget(k(node, id), 'name', 'processedOn', 'progress', 'pb');
  const rows = replies<(string | null)[]>(await jobs.exec());
  const tasks = ids.flatMap(({ id, node }, i) => {
    const row = runningRow(id, node, rows[i] ?? []);
    return row ? [row] : [];
  });
  return { tasks, active };
}
