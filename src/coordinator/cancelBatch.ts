// Cancelling a batch: each of its tasks as any task is cancelled (waiting or
// running), a finished one left as it is. The batch's task ids were recorded
// under its id when it was submitted (submitBatch.ts), kept as long as
// finished tasks are.
import { swarmKeys } from '../../queues/keys.ts';
import { SwarmError } from '../errors.ts';
import { checkBatchId } from '../tasks/batch.ts';
import { cancelOne, type Cancelling } from './cancel.ts';
import { z } from 'zod';

export interface BatchCancel {
  batchId: string;
  tasks: number;
  /** Cancelled now or before: waiting ones and running ones. */
  cancelled: number;
  wasRunning: number;
  /** Had completed or failed: left as they are. */
  finished: number;
  /** Each task as the cancel left it. */
  results: { id: string; state: string; wasRunning: boolean }[];
}

// Tasks cancelled at once: enough to hide round trips, few enough not to crowd the connection.
const PARALLEL = 32;

export async function cancelBatch(c: Cancelling, batchId: string): Promise<BatchCancel> {
  checkBatchId(batchId);
  const json = await c.redis.get(swarmKeys(c.prefix).batchTasks(batchId));
  if (json === null) throw new SwarmError('not_found', `no batch ${batchId} (or it is older than tasks.keepCompletedSeconds)`);
  const ids = [...new Set(z.array(z.string()).parse(JSON.parse(json)))];
  const results: BatchCancel['results'] = new Array(ids.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < ids.length; i = next++) results[i] = await cancelListed(c, ids[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, ids.length) }, worker));
  return {
    batchId,
    tasks: ids.length,
    cancelled: results.filter((r) => r.state === 'cancelled').length,
    wasRunning: results.filter((r) => r.wasRunning).length,
    finished: results.filter((r) => r.state === 'completed' || r.state === 'failed').length,
    results,
  };
}

async function cancelListed(c: Cancelling, id: string): Promise<BatchCancel['results'][number]> {
  try {
    const v = await cancelOne(c, id);
    return { id, state: v.state, wasRunning: v.wasRunning };
  } catch (err) {
    if (!(err instanceof SwarmError) || (err.code !== 'conflict' && err.code !== 'not_found')) throw err;
    const state = (err.details as { state?: string } | undefined)?.state ?? (err.code === 'not_found' ? 'gone' : 'unknown');
    return { id, state, wasRunning: false };
  }
}
