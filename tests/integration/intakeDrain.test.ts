// The intake queue routed in batches (src/coordinator/intakeDrain.ts): what a
// producer with only BullMQ sees is what a Worker gave it (each job completed
// with its task's { id, node }, or failed with the reason; QueueEvents tell
// it), and a taker that dies holding a batch leaves it to BullMQ's stalled
// check: every job is routed, once, a job whose task was already added to
// that same task.
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeIntake } from '../../queues/intakeBatch.ts';
import { INTAKE_QUEUE, nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { loadScripts } from '../../queues/scripts.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { newTaskId, nodeOfTaskId } from '../../src/tasks/ids.ts';
import { redisForFile } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

const redis = redisForFile();
let stack: Stack;
let client: SwarmClient;
let intake: Queue;

beforeAll(async () => {
  const config = testConfig(redis);
  stack = await startStack(config, { agents: [{ type: 'worker', count: 6, capacity: 4 }] });
  client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
  intake = new Queue(INTAKE_QUEUE, { connection: redis.connection, prefix: config.prefix });
});

afterAll(async () => {
  await intake?.close();
  await client?.close();
  await stack?.stop();
});

describe('the intake queue, routed in batches', () => {
  it('300 jobs at once, some prioritized, some invalid: each valid one completes with its task, each invalid one fails with the reason', async () => {
    const events = new QueueEvents(INTAKE_QUEUE, { connection: { url: redis.url }, prefix: stack.config.prefix });
    try {
      await events.waitUntilReady();
      const jobs = await intake.addBulk(
        Array.from({ length: 300 }, (_, i) =>
          i % 10 === 3 ? { name: 'no-such-type', data: { i } } : { name: 'echo', data: { i }, opts: i % 7 === 0 ? { priority: 1 + (i % 5) } : {} },
        ),
      );
      // BullMQ's own way to wait for a job, which hears the events the batch's finish emits.
      const first = jobs.find((j) => j.name === 'echo')!;
      const value = (await first.waitUntilFinished(events, 20_000)) as { id: string; node: string };
      expect(value.node).toMatch(/^n\d+$/);
      await until(async () => {
        const states = await Promise.all(jobs.map((j) => intake.getJobState(j.id!)));
        return states.every((s) => s === 'completed' || s === 'failed');
      }, 20_000, 'every intake job finished');
      const ids = new Set<string>();
      for (const j of jobs) {
        const done = (await intake.getJob(j.id!))!;
        if (j.name === 'no-such-type') {
          expect(await done.getState()).toBe('failed');
          expect(done.failedReason).toMatch(/no-such-type/);
          continue;
        }
        expect(await done.getState(), done.failedReason).toBe('completed');
        const { id, node } = done.returnvalue as { id: string; node: string };
        expect(nodeOfTaskId(id)).toBe(node);
        ids.add(id);
      }
      expect(ids.size).toBe(270); // one task per job, none shared
      // On one Redis each task was added and its job completed in one step: no task id needed recording.
      expect(await redis.connection.keys(swarmKeys(stack.config.prefix).intakeTask('*'))).toEqual([]);
      const tasks = await Promise.all([...ids].map((id) => client.waitFor(id, { timeoutMs: 20_000 })));
      expect(tasks.filter((t) => t.state !== 'completed')).toEqual([]);
    } finally {
      await events.close();
    }
  }, 60_000);

  it('a delayed intake job is routed once due, not before; a paused intake queue routes nothing until resumed', async () => {
    const events = new QueueEvents(INTAKE_QUEUE, { connection: { url: redis.url }, prefix: stack.config.prefix });
    await events.waitUntilReady();
    const t0 = Date.now();
    const delayed = await intake.add('echo', { late: true }, { delay: 600 });
    const value = (await delayed.waitUntilFinished(events, 10_000).finally(() => events.close())) as { id: string };
    const routed = (await intake.getJob(delayed.id!))!;
    expect(routed.processedOn! - t0).toBeGreaterThanOrEqual(550); // the take runs on Redis's and this clock alike: a little slack
    expect((await client.waitFor(value.id, { timeoutMs: 10_000 })).state).toBe('completed');

    await intake.pause();
    try {
      const held = await intake.add('echo', { held: true });
      await new Promise((r) => setTimeout(r, 1500)); // past a taker's idle wait
      expect(await intake.getJobState(held.id!)).toBe('waiting');
      await intake.resume();
      await until(async () => (await intake.getJobState(held.id!)) === 'completed', 10_000, 'the held job routed after resume');
    } finally {
      await intake.resume();
    }
  }, 30_000);

  it('a taker that dies holding a batch: the stalled check returns it and every job is routed once, to the task already added for it', async () => {
    // A swarm of its own, whose coordinator starts only after the dead taker took the jobs.
    const config = testConfig(redis, { agents: { lockDurationMs: 400, stalledIntervalMs: 300 } } as never);
    const q = new Queue(INTAKE_QUEUE, { connection: redis.connection, prefix: config.prefix });
    let late: Stack | undefined;
    try {
      const jobs = await q.addBulk(Array.from({ length: 5 }, (_, i) => ({ name: 'echo', data: { dead: i } })));
      await loadScripts(redis.connection);
      const taken = await takeIntake(redis.connection, q, { token: 'dead:1', lockMs: 300, name: 'dead-taker', max: 5 });
      expect(taken.jobs.map((j) => j.id)).toEqual(jobs.map((j) => j.id));
      // It recorded the first one's task id and added its task, then died before finishing any of them.
      const victim = taken.jobs[0]!;
      const addedId = newTaskId('n1');
      await redis.connection.set(swarmKeys(config.prefix).intakeTask(victim.id!), addedId, 'EX', 600);
      const n1 = new Queue(nodeQueueName('n1'), { connection: redis.connection, prefix: config.prefix });
      await n1.add('echo', { payload: { dead: 'added' } }, { jobId: addedId });
      await n1.close();
      late = await startStack(config, { agents: [{ type: 'worker', count: 2 }] });
      await until(async () => {
        const states = await Promise.all(jobs.map((j) => q.getJobState(j.id!)));
        return states.every((s) => s === 'completed');
      }, 20_000, 'every job of the dead taker routed');
      const values = await Promise.all(jobs.map(async (j) => (await q.getJob(j.id!))!.returnvalue as { id: string }));
      expect(new Set(values.map((v) => v.id)).size).toBe(5);
      expect(values[0]!.id).toBe(addedId);
      const lateClient = new SwarmClient({ redis: redis.url, prefix: config.prefix });
      try {
        for (const v of values) expect((await lateClient.waitFor(v.id, { timeoutMs: 10_000 })).state).toBe('completed');
      } finally {
        await lateClient.close();
      }
      // The victim was taken again (after the stalled check) and kept the task id its first taker recorded.
      expect((await q.getJob(victim.id!))!.attemptsStarted).toBeGreaterThanOrEqual(2);
    } finally {
      await q.close();
      await late?.stop();
    }
  }, 40_000);
});
