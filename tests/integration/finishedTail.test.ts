// Finishes read from BullMQ's per-queue event streams (written here with
// chosen ids, so times are exact): each finish counted once, other events
// ignored, and past the budget an estimate from the span read, at bounded cost.
import { describe, expect, it } from 'vitest';
import { bullKey, nodeQueueName } from '../../queues/keys.ts';
import { FinishedTail } from '../../src/metrics/finishedTail.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';

const redis = redisForFile();

async function events(prefix: string, queue: string, at: number[], event: string): Promise<void> {
  const p = redis.connection.pipeline();
  for (const [i, t] of at.entries()) p.xadd(bullKey(prefix, queue, 'events'), `${t}-0`, 'event', event, 'jobId', `${event}-${t}-${i}`);
  await p.exec();
}

const span = (from: number, n: number, step = 1) => Array.from({ length: n }, (_, i) => from + i * step);

describe('FinishedTail', () => {
  it('counts each finish once, by outcome, and ignores other events', async () => {
    const prefix = uniquePrefix('tail');
    const [q1, q2] = [nodeQueueName('n1'), nodeQueueName('n2')];
    await events(prefix, q1, span(500, 5), 'completed'); // before the tail's start: not counted
    await events(prefix, q1, span(1100, 10, 10), 'completed');
    await events(prefix, q2, [1300, 1400], 'failed');
    await events(prefix, q2, span(1500, 20), 'active');
    const tail = new FinishedTail(redis.connection, prefix, 1000);
    const first = await tail.read([q1, q2], 10_000);
    expect(first.filter((f) => f.outcome === 'completed')).toHaveLength(10);
    expect(first.filter((f) => f.outcome === 'failed').map((f) => f.queue)).toEqual([q2, q2]);
    expect(await tail.read([q1, q2], 10_000)).toEqual([]);
    await events(prefix, q1, [1600], 'completed');
    expect((await tail.read([q1, q2], 10_000)).map((f) => f.id)).toEqual(['completed-1600-0']);
  });

  it('gives exact rates under the budget and estimates above it, never reading an entry twice', async () => {
    const prefix = uniquePrefix('rate');
    const q = nodeQueueName('n1');
    await events(prefix, q, span(1100, 10, 10), 'completed');
    await events(prefix, q, [1200, 1300], 'failed');
    const tail = new FinishedTail(redis.connection, prefix, 1000);
    expect(await tail.rates([q], 5000, 2000)).toEqual({ completed: 10, failed: 2, exact: true });

    // A burst of 1,000 finishes a second for 100 ms, read with a budget of 20 entries.
    await events(prefix, q, span(2001, 100), 'completed');
    const burst = await tail.rates([q], 20, 3000);
    expect(burst.exact).toBe(false);
    expect(burst.completed).toBeCloseTo(1000, 0);
    // The unread rest of the burst was skipped, not carried into the next interval.
    expect(await tail.rates([q], 5000, 4000)).toEqual({ completed: 0, failed: 0, exact: true });
    await events(prefix, q, span(4100, 5, 100), 'completed');
    expect(await tail.rates([q], 5000, 5000)).toEqual({ completed: 5, failed: 0, exact: true });
  });
});
