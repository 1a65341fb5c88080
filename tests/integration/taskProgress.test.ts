// Live progress end to end on real Redis: ctx.progress in a processor, the
// latest value on GET /api/tasks/:id, the events over SSE (resumable) and
// swarm.watch, and the coalescing bound under an LLM-like flood of partial
// results, counted in Redis.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { moveWaitingJobs } from '../../queues/moveJobs.ts';
import { bullKey, nodeQueueName } from '../../queues/keys.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import type { TaskEvent } from '../../src/tasks/taskEvents.ts';
import { monitorCommands } from '../support/monitor.ts';
import { redisForFile, testTopology } from '../support/redis.ts';
import { openSse, type SseStream } from '../support/sse.ts';
import { stackForFile } from '../support/stack.ts';
import { until } from '../support/swarm.ts';

const TOKENS = 10_000;
/** What the flood's processor measured: from its first report to its return. */
const flood = { ms: 0 };
/** The hold tasks running, with the node each runs on. */
const holds: { node: string; release: () => void }[] = [];

const processors: ProcessorMap = {
  // An LLM agent streaming tokens: 10,000 partial results as fast as it can, about a second in all.
  llm: async (_payload, ctx) => {
    const t0 = performance.now();
    let text = '';
    for (let i = 1; i <= TOKENS; i++) {
      text = (text + ` t${i}`).slice(-200);
      ctx.progress({ tokens: i, text });
      if (i % 10 === 0) await sleep(1);
    }
    flood.ms = performance.now() - t0;
    return { tokens: TOKENS };
  },
  // Three steps, each written before the next is reported: reports closer than a write takes are coalesced to the
  // latest (as designed), which a loaded CI box once did to 120 ms apart.
  steps: async (_payload, ctx) => {
    for (const step of [1, 2, 3]) {
      ctx.progress({ step });
      await until(async () => ((await client.get(ctx.taskId))?.progress as { step?: number } | null)?.step === step || undefined, 10_000, `step ${step} written`);
      await sleep(60);
    }
    return 'done';
  },
  // Runs until the test lets it go.
  hold: (_payload, ctx) => {
    ctx.progress('holding');
    return new Promise((r) => holds.push({ node: ctx.nodeId, release: () => r('released') }));
  },
  tooBig: (_payload, ctx) => {
    ctx.progress('x'.repeat(20_000));
    return 'unreachable';
  },
};

const redis = redisForFile();
// Two agents of one slot each, one per node (n1, n2 of one slot group): a third task waits, and can be moved.
const stack = stackForFile(redis, {
  agents: [{ type: 'worker', count: 2, capacity: 1 }],
  processors,
  config: { coordinator: { maxAgentsPerNode: 1, workStealing: { enabled: false }, loadBalancing: { rebalanceInterval: 600_000 } } },
});
let client: SwarmClient;
const streams: SseStream[] = [];

beforeAll(() => {
  client = new SwarmClient({ redis: redis.url, prefix: stack.config.prefix });
});
afterEach(() => {
  for (const s of streams.splice(0)) s.close();
  for (const h of holds.splice(0)) h.release();
});
afterAll(async () => {
  await client?.close();
});

async function collect(id: string, after?: string): Promise<TaskEvent[]> {
  const out: TaskEvent[] = [];
  for await (const e of client.watch(id, after === undefined ? {} : { after })) out.push(e);
  return out;
}

/** The progress writes recorded for a task: one `progress` entry each in its queue's events stream. */
async function progressWrites(id: string, node: string): Promise<number> {
  const entries = (await redis.connection.xrange(bullKey(stack.config.prefix, nodeQueueName(node), 'events'), '-', '+')) as [string, string[]][];
  return entries.filter(([, f]) => f[1] === 'progress' && f[3] === id).length;
}

describe('task progress', () => {
  it('an LLM-like flood of 10,000 partial results: the watcher gets the last one and `finished`; Redis gets at most one write per 50 ms', async () => {
    const evalshas: string[] = [];
    const monitor = testTopology() === 'single' ? await monitorCommands(redis.url, (c) => c.cmd === 'evalsha' && c.args[1] === '4' && c.args[3] === `${c.args[2]}:lock` && evalshas.push(c.args[2]!)) : undefined;
    try {
      const { id, node } = await client.submit({ type: 'llm', attempts: 1 });
      const watched = collect(id);
      const sse = await openSse(`${stack.base}/api/tasks/${id}/events`);
      streams.push(sse);
      const events = await watched;
      const last = events.at(-1)!;
      expect(last).toMatchObject({ type: 'finished', taskId: id, data: { state: 'completed', result: { tokens: TOKENS }, error: null } });
      const progress = events.filter((e) => e.type === 'progress');
      expect(progress.at(-1)!.data).toMatchObject({ value: { tokens: TOKENS } });
      expect(events.filter((e) => e.type === 'started')).toHaveLength(1);

      const view = (await stack.request('GET', `/api/tasks/${id}`)).body;
      expect(view).toMatchObject({ state: 'completed', progress: { tokens: TOKENS } });

      const writes = await progressWrites(id, view.node);
      // The leading write, one per 50 ms after it, and the flush before the finish (+1 ms: the coalescer's clock is Date.now, whole ms).
      const bound = 2 + Math.floor((flood.ms + 1) / 50);
      console.log(`flood: ${TOKENS} reports in ${flood.ms.toFixed(0)} ms → ${writes} progress writes (bound ${bound}); the watcher saw ${progress.length} progress events`);
      expect(writes).toBeLessThanOrEqual(bound);
      expect(writes).toBeGreaterThanOrEqual(Math.min(bound, 5));
      if (monitor) {
        // Every call of the script, recorded or not, names the job hash first: no call was made beyond the writes.
        const jobKey = bullKey(stack.config.prefix, nodeQueueName(node), id);
        expect(evalshas.filter((k) => k === jobKey)).toHaveLength(writes);
      }

      // The SSE stream says the same, ending with `finished`.
      const messages = await until(async () => (sse.messages.at(-1)?.event === 'finished' ? sse.messages : undefined), 10_000, 'SSE finished');
      expect(JSON.parse(messages.at(-1)!.data)).toMatchObject({ type: 'finished', data: { state: 'completed' } });
      const sseProgress = messages.filter((m) => m.event === 'progress');
      expect(JSON.parse(sseProgress.at(-1)!.data).data.value.tokens).toBe(TOKENS);
    } finally {
      monitor?.stop();
    }
  }, 30_000);

  it('SSE: started, each progress, finished with ids; a reconnect with Last-Event-ID gets only what came after', async () => {
    const { id } = await client.submit({ type: 'steps', attempts: 1 });
    const sse = await openSse(`${stack.base}/api/tasks/${id}/events`);
    streams.push(sse);
    expect(sse.status).toBe(200);
    expect(sse.contentType).toMatch(/^text\/event-stream/);
    const messages = await until(async () => (sse.messages.at(-1)?.event === 'finished' ? sse.messages : undefined), 10_000, 'SSE finished');
    expect(messages.map((m) => m.event)).toEqual(['started', 'progress', 'progress', 'progress', 'finished']);
    expect(messages.filter((m) => m.event === 'progress').map((m) => JSON.parse(m.data).data.value)).toEqual([{ step: 1 }, { step: 2 }, { step: 3 }]);
    for (const m of messages) expect(m.id).toMatch(/^n\d+@\d+-\d+$/);

    const resumed = await openSse(`${stack.base}/api/tasks/${id}/events`, { 'last-event-id': messages[1]!.id! });
    streams.push(resumed);
    const rest = await until(async () => (resumed.messages.at(-1)?.event === 'finished' ? resumed.messages : undefined), 10_000, 'resumed SSE finished');
    expect(rest.map((m) => [m.event, m.id])).toEqual(messages.slice(2).map((m) => [m.event, m.id]));

    // The client resumes the same way; a watch of a finished task is told only that it finished.
    expect((await collect(id, messages[2]!.id)).map((e) => e.type)).toEqual(['progress', 'finished']);
    expect(await collect(id)).toEqual([{ id: expect.any(String), type: 'finished', taskId: id, data: { state: 'completed', result: 'done', error: null } }]);
  }, 20_000);

  it('bad requests: unknown task 404, bad Last-Event-ID 400, unknown query 400 (JSON, nothing streamed)', async () => {
    expect((await stack.request('GET', '/api/tasks/n1.AAAAAAAAAAAA/events')).status).toBe(404);
    expect((await stack.request('GET', '/api/tasks/nope/events')).status).toBe(404);
    const { id } = await client.submit({ type: 'steps', attempts: 1 });
    const bad = await stack.request('GET', `/api/tasks/${id}/events`, undefined, { 'last-event-id': 'n1@not-an-id' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('Last-Event-ID');
    expect((await stack.request('GET', `/api/tasks/${id}/events?x=1`)).status).toBe(400);
    await expect(collect('n1.AAAAAAAAAAAA')).rejects.toMatchObject({ code: 'not_found' });
    await client.waitFor(id);
  }, 20_000);

  it('a value over agents.progressMaxBytes throws in the processor, saying what to do', async () => {
    const { id } = await client.submit({ type: 'tooBig', attempts: 1 });
    const done = await client.waitFor(id);
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(/20002 bytes of JSON, over the limit of 16384 \(agents\.progressMaxBytes\)/);
    expect(done.progress).toBeNull();
  }, 20_000);

  it('a watch of a waiting task follows it when it is moved to another node, and the dashboard lists running tasks with progress', async () => {
    const a = await client.submit({ type: 'hold', attempts: 1 });
    await until(async () => holds.length === 1 || undefined, 20_000, 'the first hold to start');
    // Routing reads the loads the leader publishes: until it has published a's start, a second task may go to a's
    // node (no stealing here) and wait there. Such a one is cancelled (still waiting) and submitted again.
    const b = await until(async () => {
      const t = await client.submit({ type: 'hold', attempts: 1 });
      if (t.node !== a.node) return t;
      await client.cancel(t.id);
      await sleep(50);
      return undefined;
    }, 20_000, 'a second hold routed to the other node');
    await until(async () => holds.length === 2 || undefined, 20_000, 'both agents busy');
    // The route reads the nodes the published loads call busy: the leader's next snapshot, a moment after the starts.
    const running = await until(async () => {
      const r = await stack.request('GET', '/api/running');
      return r.status !== 200 || r.body.tasks.length === 2 ? r : undefined;
    }, 10_000, '/api/running to list both running tasks');
    expect(running.status).toBe(200);
    expect(running.body.tasks.map((t: { id: string }) => t.id).sort()).toEqual([a.id, b.id].sort());
    expect(running.body.tasks[0]).toMatchObject({ type: 'hold', host: 'h1', progress: 'holding' });
    expect((await stack.request('GET', '/api/running?limit=0')).status).toBe(400);

    const c = await client.submit({ type: 'steps', attempts: 1 });
    const events = collect(c.id);
    await sleep(100); // the watch is on c's first node now
    const other = c.node === 'n1' ? 'n2' : 'n1';
    expect(await moveWaitingJobs(redis.connection, { prefix: stack.config.prefix, from: c.node, to: other, max: 1, jobId: c.id })).toBe(1);
    // Free the agent of the other node only: c can run nowhere else.
    expect(holds.map((h) => h.node).sort()).toEqual(['n1', 'n2']);
    holds.find((h) => h.node === other)!.release();
    const seen = await events;
    expect(seen.map((e) => e.type)).toEqual(['started', 'progress', 'progress', 'progress', 'finished']);
    expect(seen[0]!.data).toEqual({ node: other });
    expect(seen.at(-1)!.id.startsWith(`${other}@`)).toBe(true);
    expect((await client.get(c.id))!.node).toBe(other);
  }, 30_000);
});
