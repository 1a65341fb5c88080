// The atomic move of waiting jobs between node queues, against real Redis and
// BullMQ's own reading of its structures.
import { describe, expect, it } from 'vitest';
import { Queue, Worker } from 'bullmq';
import { moveWaitingJobs, raiseFence } from '../../queues/moveJobs.ts';
import { bullKey, groupKeys, nodeQueueName, REPLICA_OF_FIELD } from '../../queues/keys.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';
import { until } from '../support/swarm.ts';

const redis = redisForFile();

describe('moveJobs', () => {
  it('moves plain then least-urgent prioritized waiting jobs, leaving delayed ones; BullMQ agrees', async () => {
    const prefix = uniquePrefix('mv');
    const q1 = new Queue(nodeQueueName('n1'), { connection: redis.connection, prefix });
    const q2 = new Queue(nodeQueueName('n2'), { connection: redis.connection, prefix });
    for (let i = 0; i < 5; i++) await q1.add('echo', { i }, { jobId: `n1.p${i}` });
    for (const pr of [1, 5, 9]) await q1.add('echo', { pr }, { jobId: `n1.pr${pr}`, priority: pr });
    await q1.add('echo', {}, { jobId: 'n1.later', delay: 60_000 });
    await (await q1.getJob('n1.p4'))!.log('a log line');

    expect(await moveWaitingJobs(redis.connection, { prefix, from: 'n1', to: 'n2', max: 6 })).toBe(6);

    expect(await q1.getJobCounts('wait', 'prioritized', 'delayed')).toEqual({ wait: 0, prioritized: 2, delayed: 1 });
    expect(await q2.getJobCounts('wait', 'prioritized', 'delayed')).toEqual({ wait: 5, prioritized: 1, delayed: 0 });
    expect((await q1.getPrioritized()).map((j) => j.id).sort()).toEqual(['n1.pr1', 'n1.pr5']);
    expect((await q2.getPrioritized()).map((j) => j.id)).toEqual(['n1.pr9']);
    // Order kept (BullMQ lists waiting jobs oldest first).
    expect((await q2.getWaiting()).map((j) => j.id)).toEqual(['n1.p0', 'n1.p1', 'n1.p2', 'n1.p3', 'n1.p4']);
    expect(await redis.connection.exists(`${prefix}:${nodeQueueName('n1')}:n1.p0`)).toBe(0);
    expect((await q2.getJobLogs('n1.p4')).logs).toEqual(['a log line']);
    expect(await redis.connection.hgetall(groupKeys(prefix, 'n1').moved)).toEqual(Object.fromEntries(['n1.p0', 'n1.p1', 'n1.p2', 'n1.p3', 'n1.p4', 'n1.pr9'].map((id) => [id, 'n2'])));

    // An idle worker on the target wakes (marker) and runs them, each once.
    const seen: string[] = [];
    const w = new Worker(nodeQueueName('n2'), async (job) => void seen.push(job.id!), { connection: redis.connection, prefix });
    await until(async () => seen.length === 6, 10_000, 'the moved jobs to run');
    await w.close();
    expect(seen).toEqual(['n1.p0', 'n1.p1', 'n1.p2', 'n1.p3', 'n1.p4', 'n1.pr9']); // oldest first, then by priority
    expect(await q2.getJobCounts('completed', 'wait', 'active')).toEqual({ completed: 6, wait: 0, active: 0 });
    await q1.close();
    await q2.close();
  });

  it('leaves a replica added without a flow (marked with the task it replicates) where it is', async () => {
    const prefix = uniquePrefix('mv');
    const q1 = new Queue(nodeQueueName('n1'), { connection: redis.connection, prefix });
    await q1.add('echo', {}, { jobId: 'n1.replica' });
    await redis.connection.hset(bullKey(prefix, nodeQueueName('n1'), 'n1.replica'), REPLICA_OF_FIELD, 'r-abcdefghijkl');
    await q1.add('echo', {}, { jobId: 'n1.plain' });
    expect(await moveWaitingJobs(redis.connection, { prefix, from: 'n1', to: 'n2', max: 10 })).toBe(1);
    expect((await q1.getWaiting()).map((j) => j.id)).toEqual(['n1.replica']);
    expect(await moveWaitingJobs(redis.connection, { prefix, from: 'n1', to: 'n2', max: 10, jobId: 'n1.replica' })).toBe(0);
    await q1.close();
  });

  it('a stale fencing token moves nothing; a newer one raises the fence', async () => {
    const prefix = uniquePrefix('mv');
    const q1 = new Queue(nodeQueueName('n1'), { connection: redis.connection, prefix });
    await q1.add('echo', {}, { jobId: 'n1.a' });
    await q1.add('echo', {}, { jobId: 'n1.b' });
    expect(await raiseFence(redis.connection, prefix, 'n1', 2)).toBe(2);
    expect(await raiseFence(redis.connection, prefix, 'n3', 1)).toBe(2); // never lowered; one fence per group
    await expect(moveWaitingJobs(redis.connection, { prefix, from: 'n1', to: 'n2', max: 10, fence: { token: '1' } })).rejects.toThrow(/no longer current/);
    expect(await q1.getJobCounts('wait')).toEqual({ wait: 2 });
    expect(await moveWaitingJobs(redis.connection, { prefix, from: 'n1', to: 'n2', max: 1, fence: { token: '2' } })).toBe(1);
    expect(await moveWaitingJobs(redis.connection, { prefix, from: 'n1', to: 'n2', max: 1, fence: { token: '3' } })).toBe(1);
    expect(await redis.connection.get(groupKeys(prefix, 'n2').fence)).toBe('3');
    await expect(moveWaitingJobs(redis.connection, { prefix, from: 'n2', to: 'n1', max: 1, fence: { token: '2' } })).rejects.toThrow(/no longer current/);
    await q1.close();
  });

  it('refuses a move between slot groups, whose queues may live on different Cluster shards', async () => {
    const prefix = uniquePrefix('mv');
    const q1 = new Queue(nodeQueueName('n1'), { connection: redis.connection, prefix });
    await q1.add('echo', {}, { jobId: 'n1.a' });
    await expect(moveWaitingJobs(redis.connection, { prefix, from: 'n1', to: 'n11', max: 10 })).rejects.toThrow(/only within a slot group \(g1 ≠ g2\)/);
    expect(await q1.getJobCounts('wait')).toEqual({ wait: 1 });
    await q1.close();
  });
});
