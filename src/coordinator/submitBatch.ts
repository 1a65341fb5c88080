// Submitting a batch: all or none. Every task is validated and routed before
// anything is written; idempotency keys are claimed, then the tasks not already
// there are staged in one step and fanned out to their node queues
// (stagedBatch.ts: all of them are added, even if this process dies midway).
import { newTaskId } from '../tasks/ids.ts';
import { checkBatchSize, checkNoReplicated } from '../tasks/batch.ts';
import { newBatchId } from './stagedBatch.ts';
import type { TaskInput, TaskView } from '../tasks/schema.ts';
import type { IdempotencyClaims } from './idempotency.ts';

export interface BatchSubmit {
  maxBatch: number;
  validate: (input: unknown, where: string) => TaskInput;
  routeBatch: (tasks: readonly TaskInput[]) => Promise<string[]>;
  /** Refuses the batch (429 budget_exhausted) when a key it names has spent its budget; writes nothing. */
  checkBudgets: (keys: readonly string[]) => Promise<void>;
  claims: IdempotencyClaims;
  get: (id: string) => Promise<TaskView | null>;
  /** Records the batch's task ids under its id before any is added, so the batch can be cancelled as a whole. */
  record: (batchId: string, ids: readonly string[]) => Promise<void>;
  /** All or none: throws only when nothing was acknowledged (the claims are then given back). */
  enqueueAll: (entries: readonly { task: TaskInput; id: string }[], batchId: string) => Promise<void>;
}

/** The batch's id and its task ids, in order; a task whose key was claimed before has its old task's id. */
export async function submitBatch(b: BatchSubmit, inputs: unknown[]): Promise<{ batchId: string; ids: string[] }> {
  checkBatchSize(inputs.length, b.maxBatch);
  const tasks = inputs.map((t, i) => b.validate(t, `tasks.${i}.`));
  await b.checkBudgets([...new Set(tasks.flatMap((t) => (t.key === undefined ? [] : [t.key])))]);
  checkNoReplicated(tasks);
  const planned = (await b.routeBatch(tasks)).map((node) => newTaskId(node));
  // Idempotency keys: claim them first; a key already claimed maps to its old task.
  const { ids, claimed } = await b.claims.claimBatch(tasks, planned);
  const claimedHere = new Set(claimed);
  const fresh: number[] = [];
  for (let i = 0; i < tasks.length; i++) {
    const t = tasks[i]!;
    if (t.idempotencyKey === undefined || claimedHere.has(t.idempotencyKey)) fresh.push(i);
    else if ((await b.get(ids[i]!)) === null) fresh.push(i); // claimed by a submitter that died before enqueueing
  }
  const batchId = newBatchId();
  try {
    await b.record(batchId, ids);
    await b.enqueueAll(fresh.map((i) => ({ task: tasks[i]!, id: ids[i]! })), batchId);
  } catch (err) {
    await b.claims.release(claimed);
    throw err;
  }
  return { batchId, ids };
}
