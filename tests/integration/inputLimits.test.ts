// Hostile input at every way in (HTTP, the client, the intake queue): JSON
// nested past the depth bound, intake data past the byte limit, ids that
// would name another Redis key, stream ids past 64 bits. Each gets a clear 4xx
// (an intake job: failed with the reason) and writes nothing.
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSENSUS_QUEUE, INTAKE_QUEUE, bullKey, nodeQueueName } from '../../queues/keys.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { MAX_INTAKE_TRIES } from '../../src/coordinator/intake.ts';
import { IntakeDrain } from '../../src/coordinator/intakeDrain.ts';
import { TaskRouter } from '../../src/coordinator/router.ts';
import { SwarmError } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';
import { redisForFile } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { dump, testConfig, until } from '../support/swarm.ts';

const redis = redisForFile();
let stack: Stack;
let conn: Redis;
let client: SwarmClient;
let intake: Queue;

const LIMIT_BYTES = 256 * 1024;

beforeAll(async () => {
  const config = testConfig(redis, { http: { bodyLimitBytes: LIMIT_BYTES } });
  conn = redis.connect();
  stack = await startStack(config, { agents: [{ type: 'worker', count: 3, capacity: 1 }] });
  client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
  intake = new Queue(INTAKE_QUEUE, { connection: { url: redis.url }, prefix: config.prefix });
  // Start-up writes (queue metadata BullMQ creates lazily) are over once the key set holds still.
  let last = '';
  for (let still = 0; still < 5; await new Promise((r) => setTimeout(r, 100))) {
    const now = (await conn.keys(`${config.prefix}:*`)).sort().join();
    still = now === last ? still + 1 : 0;
    last = now;
  }
});

afterAll(async () => {
  await intake?.close();
  await client?.close();
  await stack?.stop();
});

/** A value `depth` levels deep: arrays, or objects `{ a: … }`. */
function nested(depth: number, kind: 'array' | 'object' = 'array'): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v };
  return v;
}

/** The JSON text of nested(depth, kind), written out: JSON.stringify itself overflows the stack a few thousand levels down. */
function nestedJson(depth: number, kind: 'array' | 'object' = 'array'): string {
  return kind === 'array' ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** An intake job whose data is `json` as is (BullMQ's add would stringify it): added delayed, its data replaced before it runs. */
async function addRawIntake(name: string, json: string): Promise<Job> {
  const job = await intake.add(name, 0, { delay: 300 });
  await conn.hset(bullKey(stack.config.prefix, INTAKE_QUEUE, job.id!), 'data', json);
  return job;
}

/** Swarm state without what changes by itself (heartbeats, stalled checks, the metrics' counters, coordinators' membership renewals). */
async function state(): Promise<Record<string, string>> {
  const all = await dump(conn, stack.config.prefix);
  // Left out: what runs on its own meanwhile (heartbeats, the leader's lease and published loads, stats, events).
  return Object.fromEntries(Object.entries(all).filter(([k]) => !/:\{swarm\}:(hosts|stats|events|lease.*|coordinators|loads|loads-version)$|:stalled-check$/.test(k)));
}

async function settledIntake(job: Job): Promise<Job> {
  await until(async () => ['completed', 'failed'].includes(await job.getState()), 15_000, `intake job ${job.id} to settle`);
  return (await Queue.prototype.getJob.call(intake, job.id!)) as Job;
}

describe('JSON nesting depth (http.maxJsonDepth, 64 by default)', () => {
  it('POST /api/tasks: 5,000 deep is a 400 naming the field and the limit, and writes nothing (not even its idempotency key)', async () => {
    const before = await state();
    const r = await stack.request('POST', '/api/tasks', `{"type":"echo","payload":${nestedJson(5000)},"idempotencyKey":"deep-1"}`);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_request');
    expect(r.body.error.message).toMatch(/payload.*64/);
    expect(r.body.error.details).toEqual([{ path: 'payload', message: expect.stringMatching(/64/) }]);
    expect(await conn.exists(`${stack.config.prefix}:{swarm}:idem:deep-1`)).toBe(0);
    expect(await state()).toEqual(before);
  });

  it('the bound is inclusive: a payload 64 deep runs, 65 deep is refused', async () => {
    const ok = await stack.request('POST', '/api/tasks', { type: 'echo', payload: nested(64, 'object') });
    expect(ok.status).toBe(202);
    const done = await client.waitFor(ok.body.id, { timeoutMs: 10_000 });
    expect(done.result).toEqual(nested(64, 'object'));
    const over = await stack.request('POST', '/api/tasks', { type: 'echo', payload: nested(65, 'object') });
    expect(over.status).toBe(400);
    expect(over.body.error.details[0].path).toBe('payload');
  });

  it('POST /api/tasks/batch: one task nested 4,000 deep refuses the batch, naming it', async () => {
    const before = await state();
    const r = await stack.request('POST', '/api/tasks/batch', `{"tasks":[{"type":"echo","payload":1,"idempotencyKey":"deep-b"},{"type":"echo","payload":{"x":${nestedJson(4000)}}}]}`);
    expect(r.status).toBe(400);
    expect(r.body.error.details).toEqual([{ path: 'tasks.1.payload', message: expect.stringMatching(/64/) }]);
    expect(await state()).toEqual(before);
  });

  it('POST /api/proposals: a value nested 3,000 deep is a 400 naming value', async () => {
    const before = await state();
    const r = await stack.request('POST', '/api/proposals', `{"protocol":"quorum","value":${nestedJson(3000, 'object')}}`);
    expect(r.status).toBe(400);
    expect(r.body.error.details).toEqual([{ path: 'value', message: expect.stringMatching(/64/) }]);
    expect(await state()).toEqual(before);
  });

  it('the TypeScript client refuses it before writing anything', async () => {
    const before = await state();
    const single = await client.submit({ type: 'echo', payload: nested(5000), idempotencyKey: 'deep-c' }).catch((e: unknown) => e);
    expect(single).toBeInstanceOf(SwarmError);
    expect((single as SwarmError).code).toBe('invalid_request');
    expect((single as SwarmError).message).toMatch(/payload.*64/);
    const batch = await client.submitBatch([{ type: 'echo', payload: nested(5000) }]).catch((e: unknown) => e);
    expect((batch as SwarmError).details).toEqual([{ path: 'tasks.0.payload', message: expect.stringMatching(/64/) }]);
    expect(await state()).toEqual(before);
  });

  it('an intake job nested 5,000 deep fails at once with the reason, and routes nothing', async () => {
    const job = await addRawIntake('echo', nestedJson(5000));
    const before = await state();
    const done = await settledIntake(job);
    expect(done.failedReason).toMatch(/payload.*64/);
    expect(done.attemptsStarted).toBe(1);
    expect(await conn.exists(`${stack.config.prefix}:{swarm}:intake:${job.id}`)).toBe(0);
    const after = await state();
    // Only the intake job itself moved (to failed).
    const changed = Object.keys({ ...before, ...after }).filter((k) => before[k] !== after[k]);
    expect(changed.every((k) => k.startsWith(`${stack.config.prefix}:${INTAKE_QUEUE}:`)), changed.join(', ')).toBe(true);
  });
});

describe('intake job size (http.bodyLimitBytes)', () => {
  it('data over the body limit fails the intake job naming the limit, and reaches no node queue', async () => {
    const job = await intake.add('echo', { blob: 'x'.repeat(LIMIT_BYTES + 1) });
    const before = await state();
    const done = await settledIntake(job);
    expect(done.failedReason).toMatch(new RegExp(`limit of ${LIMIT_BYTES} bytes`));
    const after = await state();
    const changed = Object.keys({ ...before, ...after }).filter((k) => before[k] !== after[k]);
    expect(changed.every((k) => k.startsWith(`${stack.config.prefix}:${INTAKE_QUEUE}:`)), changed.join(', ')).toBe(true);
  });

  it('data within the limit is routed as before', async () => {
    const job = await intake.add('echo', { blob: 'x'.repeat(LIMIT_BYTES - 100) });
    const done = await settledIntake(job);
    expect(done.failedReason).toBeFalsy();
    expect((await client.waitFor((done.returnvalue as { id: string }).id, { timeoutMs: 10_000 })).state).toBe('completed');
  });
});

describe('intake errors that are neither bad input nor Redis', () => {
  it('fail the intake job with the reason after a bounded number of tries, not retried for ever', async () => {
    // A router with a bug: every routing throws a plain Error.
    class BrokenRouter extends TaskRouter {
      override route(): Promise<string> {
        return Promise.reject(new Error('routing table is corrupt'));
      }
    }
    const config = testConfig(redis);
    const router = new BrokenRouter({ redis: conn, config });
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const drain = new IntakeDrain({ router, connection, prefix: config.prefix, keepSeconds: 60, maxBytes: LIMIT_BYTES, lockMs: 30_000, stalledIntervalMs: 30_000, landInOneStep: true, logger: silentLogger });
    drain.start();
    const q = new Queue(INTAKE_QUEUE, { connection: { url: redis.url }, prefix: config.prefix });
    try {
      const job = await q.add('echo', { n: 1 });
      await until(async () => (await job.getState()) === 'failed', 20_000, 'the intake job to fail');
      const failed = (await q.getJob(job.id!))!;
      expect(failed.failedReason).toMatch(/routing table is corrupt/);
      expect(failed.attemptsStarted).toBe(MAX_INTAKE_TRIES);
    } finally {
      await drain.stop();
      await q.close();
      await router.close();
      connection.disconnect();
    }
  }, 30_000);
});

describe('ids outside the grammar swarmq issues are a 404 and build no key', () => {
  it('GET /api/proposals/<BullMQ key suffix> → 404', async () => {
    // A proposal makes the consensus queue's own keys (meta, events, id, …) exist.
    expect((await stack.request('POST', '/api/proposals', { protocol: 'quorum', value: 1, participants: { count: 3 } })).status).toBe(202);
    for (const id of ['meta', 'events', 'id', 'completed', 'stalled-check', 'wait', 'p-1', 'x:lock']) {
      const r = await stack.request('GET', `/api/proposals/${encodeURIComponent(id)}`);
      expect(r.status, id).toBe(404);
      expect(r.body.error.code, id).toBe('not_found');
    }
  });

  it('GET and DELETE /api/tasks/<an active task id>:lock → 404, and the task runs on', async () => {
    const { body } = await stack.request('POST', '/api/tasks', { type: 'sleep', payload: { ms: 1500 } });
    const id = body.id as string;
    await until(async () => (await client.get(id))?.state === 'active', 10_000, 'the task to start');
    expect(await conn.exists(`${stack.config.prefix}:${nodeQueueName(body.node)}:${id}:lock`)).toBe(1);
    for (const crafted of [`${id}:lock`, `${id}:logs`, 'meta', 'x:lock', `${id.split('.')[0]}.wait`]) {
      for (const method of ['GET', 'DELETE']) {
        const r = await stack.request(method, `/api/tasks/${encodeURIComponent(crafted)}`);
        expect(r.status, `${method} ${crafted}`).toBe(404);
        expect(r.body.error.code).toBe('not_found');
      }
    }
    await expect(client.get(`${id}:lock`)).resolves.toBeNull();
    await expect(client.cancel(`${id}:lock`)).rejects.toMatchObject({ code: 'not_found' });
    expect((await client.waitFor(id, { timeoutMs: 10_000 })).state).toBe('completed');
  });

  it('GET /api/tasks/r-<id>:dependencies → 404', async () => {
    const r = await stack.request('POST', '/api/tasks', { type: 'sleep', payload: { ms: 1000 }, consensus: { protocol: 'quorum', replicas: 2 } });
    expect(r.status).toBe(202);
    const id = r.body.id as string;
    expect(await conn.exists(bullKey(stack.config.prefix, CONSENSUS_QUEUE, `${id}:dependencies`))).toBe(1);
    for (const crafted of [`${id}:dependencies`, 'r-x:dependencies', `${id}:processed`]) {
      for (const method of ['GET', 'DELETE']) expect((await stack.request(method, `/api/tasks/${encodeURIComponent(crafted)}`)).status, `${method} ${crafted}`).toBe(404);
    }
    expect((await stack.request('GET', `/api/tasks/${id}`)).status).toBe(200);
  });

  it('DELETE /api/agents/<not an agent id> → 404', async () => {
    for (const crafted of ['x:lock', 'meta', 'h1', 'h1-a1:x', '😀']) {
      const r = await stack.request('DELETE', `/api/agents/${encodeURIComponent(crafted)}`);
      expect(r.status, crafted).toBe(404);
    }
  });
});

describe('event stream resume points', () => {
  it('a stream id with a part over 2^64−1 is a 400, by query or by Last-Event-ID; 2^64−1 itself is a stream id', async () => {
    for (const from of ['99999999999999999999-0', '0-18446744073709551616', '18446744073709551616-0']) {
      const q = await stack.request('GET', `/api/events?from=${from}`);
      expect(q.status, from).toBe(400);
      expect(q.body.error.code).toBe('invalid_request');
      const h = await stack.request('GET', '/api/events', undefined, { 'last-event-id': from });
      expect(h.status, from).toBe(400);
    }
    const res = await fetch(`${stack.base}/api/events?from=18446744073709551615-18446744073709551615`);
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });
});
