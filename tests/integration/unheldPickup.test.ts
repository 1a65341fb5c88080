// A fetch whose reply a dropped connection cut off: the job is active, locked
// and names this host, but no Worker here has it (made here by a second Worker
// under the host's name taking it, as the lost fetch did). Once the host's
// connection is made again, the host hands it back at once, and it runs; the
// task the host was running through the drop is left alone and runs once.
import { Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { nodeQueueName } from '../../queues/keys.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { hostForFile } from '../support/hostForFile.ts';
import { redisForFile } from '../support/redis.ts';
import { until } from '../support/swarm.ts';

const redis = redisForFile();
const runs = new Map<string, number>();
const counted = (p: ProcessorMap): ProcessorMap =>
  Object.fromEntries(Object.entries(p).map(([type, f]) => [type, (payload: unknown, ctx: Parameters<typeof f>[1]) => (runs.set(ctx.taskId, (runs.get(ctx.taskId) ?? 0) + 1), f(payload, ctx))]));
const swarm = hostForFile(redis, { hostId: 'hu', agents: [{ type: 'worker', count: 1, capacity: 1 }], processors: counted(builtinProcessors) });

describe('a pickup a dropped connection cut off', () => {
  it('is handed back as soon as the host is connected again, not after its lock and a stalled check', async () => {
    const { client, host, config } = swarm;
    const busy = await client.submit({ type: 'sleep', payload: { ms: 1500 } });
    await until(async () => (await client.get(busy.id))?.state === 'active', 5000, 'the busy task to start');
    const lost = await client.submit({ type: 'echo', payload: { lost: true } });
    expect((await client.get(lost.id))?.state).toBe('waiting');

    // Taken under the host's name with a token no Worker of the host knows: what the lost fetch left.
    const node = host.agents()[0]!.node;
    const taker = new Worker(nodeQueueName(node), null, { connection: redis.connect({ maxRetriesPerRequest: null }), prefix: config.prefix, name: 'hu', autorun: false });
    taker.on('error', () => {});
    try {
      const taken = await taker.getNextJob('lost-fetch-token', { block: false });
      expect(taken?.id).toBe(lost.id);
      expect((await client.get(lost.id))?.state).toBe('active');

      // The host's connection drops (CLIENT KILL) and is made again.
      const list = await redis.connection.client('LIST');
      const id = String(list).split('\n').find((l) => l.includes('name=swarmq:host:hu '))?.match(/^id=(\d+)/)?.[1];
      expect(id).toBeDefined();
      await redis.connection.client('KILL', 'ID', id!);

      // Its lock is BullMQ's 30 s: without the hand-back the task would wait that long, then for a stalled check.
      const done = await client.waitFor(lost.id, { timeoutMs: 10_000 });
      expect(done).toMatchObject({ state: 'completed', result: { lost: true } });
      expect((await client.waitFor(busy.id, { timeoutMs: 10_000 })).state).toBe('completed');
      expect(runs.get(busy.id)).toBe(1);
      expect(runs.get(lost.id)).toBe(1);
    } finally {
      await taker.close(true);
    }
  }, 30_000);
});
