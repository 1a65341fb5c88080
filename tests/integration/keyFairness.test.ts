// Keys share a node's agents fairly (docs/keys.md): start-time fair queueing over
// BullMQ's priorities, tags given in the MULTI that adds each keyed task
// (fairTag-5.lua). One node of 10 agents; the processor records the order in
// which tasks start and the key each carries.
import { describe, expect, it } from 'vitest';
import type { TaskContext } from '../../src/agents/processor.ts';
import { hostForFile } from '../support/hostForFile.ts';
import { redisForFile } from '../support/redis.ts';
import { until } from '../support/swarm.ts';

const starts: string[] = [];
const processors = {
  work: async (payload: unknown, ctx: TaskContext) => {
    starts.push(ctx.key ?? '-');
    await new Promise((r) => setTimeout(r, (payload as { ms?: number } | null)?.ms ?? 2));
    return null;
  },
};

const redis = redisForFile();
const swarm = hostForFile(redis, { hostId: 'fair', agents: [{ type: 'worker', count: 10, capacity: 1 }], processors, stopDeadlineMs: 200 });

async function submitMany(key: string, count: number, payload: unknown = null): Promise<void> {
  for (let done = 0; done < count; done += 1000) {
    const n = Math.min(1000, count - done);
    await swarm.client.submitBatch(Array.from({ length: n }, () => ({ type: 'work', payload, key })));
  }
}

describe('fair order of keys within a node', () => {
  it('a key with 10 tasks is not starved by one with 10,000: its 10 start within about 20 of the big one', async () => {
    starts.length = 0;
    await submitMany('big', 10_000);
    const before = starts.length;
    await submitMany('small', 10);
    const from = starts.length;
    await until(async () => starts.filter((k) => k === 'small').length === 10, 20_000, 'the small key to start all 10');
    const lastSmall = starts.lastIndexOf('small');
    const bigMeanwhile = starts.slice(from, lastSmall + 1).filter((k) => k === 'big').length;
    const bigWaiting = 10_000 - from;
    console.log(`fairness: ${before} big tasks started while the big key was submitted, ${bigWaiting} still waiting when the small key came; its 10 started with ${bigMeanwhile} big ones between`);
    // FIFO would run every waiting big task first; with the big key's tags far ahead, the small key's
    // interleave with the next 10 of the big one, plus the 10 fetched as the small ones were added.
    expect(bigWaiting).toBeGreaterThan(5000);
    expect(bigMeanwhile).toBeLessThanOrEqual(25);

    // A task without a key takes BullMQ's path untouched (the wait list, before every prioritized job): it starts next.
    const at = starts.length;
    await swarm.client.submit({ type: 'work' });
    await until(async () => starts.includes('-'), 10_000, 'the task without a key to start');
    expect(starts.indexOf('-') - at).toBeLessThanOrEqual(12);
  }, 60_000);

  it('keys are served by weight: 3 to 1 while both wait', async () => {
    await swarm.client.submit({ type: 'work', key: 'heavy' }); // listed, so the weight below is read
    // Weights are what PUT /api/keys/:key/limits sets; here straight into the swarm's list.
    await redis.connection.hset(`${swarm.config.prefix}:{swarm}:key-limits`, 'heavy', JSON.stringify({ weight: 3 }), 'light', JSON.stringify({ weight: 1 }));
    await new Promise((r) => setTimeout(r, 1100)); // the client's weights are at most a second old
    await swarm.client.submit({ type: 'work', key: 'heavy' }); // sets the background refresh going
    await new Promise((r) => setTimeout(r, 100));
    starts.length = 0;
    await submitMany('heavy', 600, { ms: 5 });
    await submitMany('light', 600, { ms: 5 });
    const from = starts.length + 10; // past those fetched before the light key came
    // The big key of the test above still waits too (weight 1): the share between these two is what counts.
    const both = () => starts.slice(from).filter((k) => k === 'heavy' || k === 'light');
    await until(async () => both().length >= 200, 20_000, '200 more starts of the two keys');
    const heavy = both().slice(0, 200).filter((k) => k === 'heavy').length;
    console.log(`weights 3:1: of 200 starts of the two keys while both waited, heavy ${heavy}, light ${200 - heavy}`);
    expect(heavy).toBeGreaterThanOrEqual(135);
    expect(heavy).toBeLessThanOrEqual(165);
  }, 60_000);

  it('a keyed task is still placed when Redis lost its scripts (a restart): the MULTI\'s placing is run again alone', async () => {
    await redis.connection.script('FLUSH');
    const { id } = await swarm.client.submit({ type: 'work', key: 'after-flush' });
    // The key is recorded on the job by the placing script only; the host admitted it under its key.
    expect(await swarm.client.waitFor(id, { timeoutMs: 10_000 })).toMatchObject({ state: 'completed', key: 'after-flush' });
    expect(await swarm.client.key('after-flush')).toMatchObject({ started: 1, waiting: 0, active: 0 });
  });
});
