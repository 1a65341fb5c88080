// The coordinator side of the control channel: put a request on a host's
// control queue and wait for its answer.
import { Queue } from 'bullmq';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { controlQueueName } from '../../queues/keys.ts';
import { SwarmError } from '../errors.ts';

export class HostControl {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private queue(hostId: string): Queue {
    let q = this.queues.get(hostId);
    if (!q) {
      q = new Queue(controlQueueName(hostId), { connection: this.redis, prefix: this.prefix });
      q.on('error', () => {});
      this.queues.set(hostId, q);
    }
    return q;
  }

  async call<T>(hostId: string, name: 'spawn' | 'retire', data: unknown, timeoutMs: number): Promise<T> {
    const q = this.queue(hostId);
    const job = await q.add(name, data, { attempts: 1, removeOnComplete: { age: 3600 }, removeOnFail: { age: 24 * 3600 } });
    const deadline = Date.now() + timeoutMs;
    let pause = 2;
    for (;;) {
      const state = await job.getState();
      if (state === 'completed' || state === 'failed') {
        const fresh = await q.getJob(job.id!);
        if (state === 'completed') return fresh!.returnvalue as T;
        throw new SwarmError('invalid_request', `host ${hostId} refused: ${fresh?.failedReason ?? 'unknown reason'}`);
      }
      if (Date.now() > deadline) {
        // Not taken yet: withdraw it, so it cannot run after we have answered.
        await job.remove().catch(() => {});
        throw new SwarmError('host_unavailable', `host ${hostId} did not answer within ${timeoutMs} ms (${state}); is it running?`);
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 50);
    }
  }

  /**
   * Tells a host without waiting for its answer: the cancel of a running task
   * (already durable in Redis) is put on the host's control queue, which the
   * host's control Worker blocks on, so it is woken at once.
   */
  async tell(hostId: string, name: 'cancel' | 'budget', data: unknown): Promise<void> {
    await this.queue(hostId).add(name, data, { attempts: 1, removeOnComplete: true, removeOnFail: { age: 3600 } });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
