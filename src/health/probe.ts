// A probe: after replacing a failed host's agents, the health monitor puts one
// task straight into each node a replacement joined, ahead of everything else,
// and waits for it to complete. Every agent host answers it itself (no
// processor needed), naming the agent that ran it.
import { Queue } from 'bullmq';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { nodeQueueName } from '../../queues/keys.ts';

export const PROBE_TASK = 'swarmq:probe';

export interface ProbeResult {
  node: string;
  ok: boolean;
  agent?: string;
  ms: number;
  error?: string;
}

export async function probeNode(redis: RedisClient, prefix: string, node: string, agent: string, probeId: string, timeoutMs: number): Promise<ProbeResult> {
  const t0 = Date.now();
  const q = new Queue(nodeQueueName(node), { connection: redis, prefix });
  // Without a listener BullMQ prints every connection error to stderr; a failed probe says what went wrong.
  q.on('error', () => {});
  try {
    const job = await q.add(PROBE_TASK, { agent }, { jobId: probeId, priority: 1, attempts: 1, removeOnComplete: { age: 3600 }, removeOnFail: { age: 3600 } });
    for (let pause = 5; Date.now() - t0 < timeoutMs; pause = Math.min(pause * 2, 100)) {
      const state = await job.getState();
      if (state === 'completed') {
        const ranBy = ((await q.getJob(probeId))?.returnvalue as { agent?: string } | undefined)?.agent;
        return { node, ok: true, ms: Date.now() - t0, ...(ranBy ? { agent: ranBy } : {}) };
      }
      if (state === 'failed') return { node, ok: false, ms: Date.now() - t0, error: (await q.getJob(probeId))?.failedReason ?? 'failed' };
      await new Promise((r) => setTimeout(r, pause));
    }
    // Not taken: withdraw it, so it does not linger in the queue.
    await job.remove().catch(() => {});
    return { node, ok: false, ms: Date.now() - t0, error: `no agent took the probe within ${timeoutMs} ms` };
  } finally {
    await q.close();
  }
}
