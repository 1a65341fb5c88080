// The host side of the control channel: a small BullMQ queue per host, so a
// coordinator anywhere can ask this host to spawn or retire agents, durably,
// and tell it that tasks running here were cancelled.
import { UnrecoverableError, Worker } from 'bullmq';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { z } from 'zod';
import { controlQueueName, KEY_NAME } from '../../queues/keys.ts';
import type { Logger } from '../log.ts';
import { describeIssues } from '../validation.ts';
import { spawnRequestSchema, type AgentInfo, type AgentSpec } from './spec.ts';

export const retireRequestSchema = z.object({ agentId: z.string().min(1), deadlineMs: z.number().int().min(0).max(3_600_000).default(10_000) }).strict();

export const cancelNoticeSchema = z.object({ tasks: z.array(z.string().min(1).max(200)).min(1).max(10_000) }).strict();

/** A key's budget is spent (another host's report saw it): the host reads the key's spend before it stops anything. */
export const budgetNoticeSchema = z.object({ key: z.string().regex(KEY_NAME) }).strict();

export type ControlReply = { agents: AgentInfo[] } | { returned: number } | { cancelled: number } | { stopped: number };

/**
 * What the control channel asks of its host. AgentHost is one; naming only this
 * keeps control.ts below host.ts (the host starts its control worker).
 */
export interface ControlledHost {
  readonly hostId: string;
  readonly redis: RedisClient;
  spawnAgentBatch(specs: AgentSpec[]): Promise<AgentInfo[]>;
  spawnAgentWaves(specs: AgentSpec[], options: { waveSize?: number }): Promise<AgentInfo[]>;
  retire(agentId: string, deadlineMs: number): Promise<{ returned: number }>;
  /** Aborts these tasks where they run here (their cancel is already recorded in Redis); returns how many ran here. */
  cancelRunning(taskIds: readonly string[]): Promise<number>;
  /** Stops the key's runs here if Redis says its budget is spent; returns how many. */
  budgetSpent(key: string): Promise<number>;
}

export function startControl(host: ControlledHost, prefix: string, logger: Logger): Worker {
  const worker = new Worker(
    controlQueueName(host.hostId),
    async (job): Promise<ControlReply> => {
      try {
        if (job.name === 'spawn') {
          const req = spawnRequestSchema.parse(job.data);
          const spec = { type: req.type, count: req.count, capacity: req.capacity, capabilities: req.capabilities };
          const agents = req.mode === 'waves' ? await host.spawnAgentWaves([spec], { waveSize: req.waveSize }) : await host.spawnAgentBatch([spec]);
          return { agents };
        }
        if (job.name === 'retire') {
          const req = retireRequestSchema.parse(job.data);
          return await host.retire(req.agentId, req.deadlineMs);
        }
        if (job.name === 'cancel') return { cancelled: await host.cancelRunning(cancelNoticeSchema.parse(job.data).tasks) };
        if (job.name === 'budget') return { stopped: await host.budgetSpent(budgetNoticeSchema.parse(job.data).key) };
        throw new Error(`unknown control request "${job.name}"; expected spawn, retire, cancel or budget`);
      } catch (err) {
        // Requests are answered once: a retry would spawn twice.
        throw new UnrecoverableError(err instanceof z.ZodError ? describeIssues(err) : (err as Error).message);
      }
    },
    // maxStalledCount 0: a request caught by a crash fails instead of running twice.
    { connection: host.redis, prefix, concurrency: 4, name: host.hostId, maxStalledCount: 0 },
  );
  worker.on('error', (err) => logger.error({ err: err.message }, 'control worker error'));
  return worker;
}
