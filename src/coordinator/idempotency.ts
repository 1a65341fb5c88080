// Idempotency keys: a submit that names one claims it for the task id it plans
// (SET NX GET, kept as long as completed tasks are), so a repeat of the submit
// gets the first task's id back instead of a second task.
import type { RedisClient } from '../../queues/redisTarget.ts';
import { swarmKeys } from '../../queues/keys.ts';
import { newTaskId, nodeOfTaskId } from '../tasks/ids.ts';
import type { TaskInput, TaskView } from '../tasks/schema.ts';
import type { Submitted } from './nodeQueues.ts';
import { slotPipeline } from '../../queues/slotPipeline.ts';

export class IdempotencyClaims {
  private readonly keys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly ttlSeconds: number,
  ) {
    this.keys = swarmKeys(prefix);
  }

  /** Claims the key for `planned`: null when this call claimed it, else the id it already held. */
  async claim(key: string, planned: string): Promise<string | null> {
    return (await this.redis.set(this.keys.idempotency(key), planned, 'EX', this.ttlSeconds, 'NX', 'GET')) as string | null;
  }

  /**
   * Claims each task's key (if it names one) for its planned id, in one pipeline.
   * Returns the ids, a key claimed before mapping to its old task, and the keys
   * this call claimed (to release if the enqueue fails).
   */
  async claimBatch(tasks: readonly TaskInput[], planned: readonly string[]): Promise<{ ids: string[]; claimed: string[] }> {
    const ids = [...planned];
    const claimed: string[] = [];
    const withKey = tasks.flatMap((t, i) => (t.idempotencyKey !== undefined ? [i] : []));
    if (withKey.length) {
      const p = slotPipeline(this.redis);
      for (const i of withKey) p.set(this.keys.idempotency(tasks[i]!.idempotencyKey!), ids[i]!, 'EX', this.ttlSeconds, 'NX', 'GET');
      const res = (await p.exec()) ?? [];
      withKey.forEach((i, k) => {
        const prev = res[k]?.[1] as string | null;
        if (prev === null) claimed.push(tasks[i]!.idempotencyKey!);
        else ids[i] = prev;
      });
    }
    return { ids, claimed };
  }

  /** Gives back claims whose tasks were never added; best effort, the claims expire anyway. */
  async release(claimed: readonly string[]): Promise<void> {
    if (claimed.length) await this.redis.del(...claimed.map((k) => this.keys.idempotency(k))).catch(() => {});
  }
}

export interface IdempotentSubmit {
  claims: IdempotencyClaims;
  route: (task: TaskInput) => Promise<string>;
  enqueue: (task: TaskInput, id: string) => Promise<Submitted>;
  get: (id: string) => Promise<TaskView | null>;
}

/** Submits a task under its idempotency key: the first submit adds it, a repeat returns the first one's id. */
export async function submitIdempotent(s: IdempotentSubmit, task: TaskInput, key: string): Promise<Submitted> {
  const planned = newTaskId(await s.route(task));
  const previous = await s.claims.claim(key, planned);
  if (previous === null) return await s.enqueue(task, planned);
  // Claimed before: the task exists, or its submitter died between claim and enqueue.
  if ((await s.get(previous)) === null) return await s.enqueue(task, previous);
  return { id: previous, node: nodeOfTaskId(previous)! };
}
