// Redis away: the API answers 503 (readiness too) and writes nothing; when Redis
// is back, submits work again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisForFile } from '../support/redis.ts';
import { testConfig, until } from '../support/swarm.ts';
import { startStack, type Stack } from '../support/stack.ts';

const redis = redisForFile({ own: true });
let stack: Stack;

beforeAll(async () => {
  stack = await startStack(testConfig(redis), { agents: [{ type: 'worker', count: 1 }] });
});

// Generous: after a Redis restart on a loaded box, Workers and the monitor take a while to let go.
afterAll(async () => {
  await stack?.stop();
}, 90_000);

describe('Redis down', () => {
  it('POST, GET, DELETE and /readyz answer 503; /healthz stays 200; all recover with Redis', async () => {
    const before = await stack.request('POST', '/api/tasks', { type: 'echo', payload: 1 });
    expect(before.status).toBe(202);
    await redis.kill('SIGKILL');

    const post = await stack.request('POST', '/api/tasks', { type: 'echo', payload: 2 });
    expect(post.status).toBe(503);
    expect(post.body.error.code).toBe('redis_unavailable');
    expect((await stack.request('POST', '/api/tasks/batch', { tasks: [{ type: 'echo' }] })).status).toBe(503);
    expect((await stack.request('GET', `/api/tasks/${before.body.id}`)).status).toBe(503);
    expect((await stack.request('DELETE', `/api/tasks/${before.body.id}`)).status).toBe(503);
    expect((await stack.request('GET', '/readyz')).status).toBe(503);
    expect((await stack.request('GET', '/healthz')).status).toBe(200);
    // Validation still answers first: a bad body is a 400 even with Redis away.
    expect((await stack.request('POST', '/api/tasks', { payload: 1 })).status).toBe(400);

    await redis.restart();
    await until(async () => (await stack.request('GET', '/readyz')).status === 200, 15_000, 'readiness');
    const after = await until(async () => {
      const r = await stack.request('POST', '/api/tasks', { type: 'echo', payload: 3 });
      return r.status === 202 ? r : undefined;
    }, 15_000, 'submits to work again');
    await until(async () => (await stack.request('GET', `/api/tasks/${after.body.id}`)).body.state === 'completed', 15_000, 'task to complete');
  }, 60_000);
});
