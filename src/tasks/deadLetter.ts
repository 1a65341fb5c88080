// The dead-letter queue: a task that failed its last attempt is recorded there,
// under its own id, with its payload and last error, so operators find every
// given-up task in one place (Bull Board shows the queue) and can resubmit it.
// BullMQ keeps the failed job in its node queue too; this is the index.
//
// Written by the host that saw the final failure, after BullMQ's own step: a
// host killed between the two leaves the task failed in its node queue but not
// here. Adding under the task id makes a repeated record a no-op.
import { Queue, type Job } from 'bullmq';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { bullKey, DEAD_LETTER_QUEUE } from '../../queues/keys.ts';
import { publishEvent } from '../swarm/events.ts';
import { AGENT_FIELD } from './view.ts';

export interface DeadLetter {
  id: string;
  type: string;
  node: string;
  payload: unknown;
  error: string;
  attempts: number;
  failedAt: number;
  agentId: string | null;
}

export class DeadLetterQueue {
  private queue: Queue | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  async record(job: Job, node: string, err: Error): Promise<void> {
    if (!this.queue) {
      this.queue = new Queue(DEAD_LETTER_QUEUE, { connection: this.redis, prefix: this.prefix });
      // Without a listener BullMQ prints every connection error to stderr; the host reports its connection's.
      this.queue.on('error', () => {});
    }
    const data = job.data as { payload?: unknown } | null;
    const letter: DeadLetter = {
      id: job.id!,
      type: job.name,
      node,
      payload: data && typeof data === 'object' && 'payload' in data ? data.payload : data,
      error: err.message,
      attempts: job.attemptsMade,
      failedAt: job.finishedOn ?? Date.now(),
      agentId: null,
    };
    letter.agentId = (await this.redis.hget(bullKey(this.prefix, job.queueName, job.id!), AGENT_FIELD)) ?? null;
    await this.queue.add(job.name, letter, { jobId: letter.id });
    await publishEvent(this.redis, this.prefix, 'task:dead-lettered', letter);
  }

  async close(): Promise<void> {
    await this.queue?.close();
  }
}
