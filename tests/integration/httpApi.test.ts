// Every HTTP route and every error case, on real Redis; an error changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { redisForFile } from '../support/redis.ts';
import { commandConnection, dump, testConfig, until } from '../support/swarm.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { INTAKE_QUEUE, nodeQueueName } from '../../queues/keys.ts';

const redis = redisForFile();
let stack: Stack;
let conn: Redis;

beforeAll(async () => {
  const config = testConfig(redis);
  conn = commandConnection(redis.url);
  await conn.connect();
  // Two agents of capacity 1 in one node: easy to keep busy for the cancel cases.
  stack = await startStack(config, { agents: [{ type: 'worker', count: 2, capacity: 1, capabilities: ['gpu'] }] });
});

afterAll(async () => {
  await stack?.stop();
  conn?.disconnect();
});

/** Swarm state without what changes by itself (heartbeats, coordinators' membership renewals, BullMQ's stalled-check marker). */
async function state(): Promise<Record<string, string>> {
  const all = await dump(conn, stack.config.prefix);
  return Object.fromEntries(Object.entries(all).filter(([k]) => !k.endsWith(':{swarm}:hosts') && !k.endsWith(':{swarm}:coordinators') && !k.endsWith(':stalled-check')));
}

async function waitDone(id: string) {
  return await until(async () => {
    const r = await stack.request('GET', `/api/tasks/${id}`);
    return r.body.state === 'completed' || r.body.state === 'failed' ? r.body : undefined;
  }, 15_000, `task ${id} to finish`);
}

describe('tasks', () => {
  it('POST /api/tasks → 202 { id, node }, then GET shows the whole record', async () => {
    const r = await stack.request('POST', '/api/tasks', { type: 'echo', payload: { n: 1 }, priority: 5, timeoutMs: 5000 });
    expect(r.status).toBe(202);
    expect(Object.keys(r.body).sort()).toEqual(['id', 'node']);
    const t = await waitDone(r.body.id);
    expect(Object.keys(t).sort()).toEqual(['agentId', 'attempts', 'createdAt', 'error', 'finishedAt', 'id', 'node', 'progress', 'result', 'startedAt', 'state', 'type'].sort());
    expect(t).toMatchObject({ id: r.body.id, type: 'echo', state: 'completed', node: r.body.node, attempts: 1, result: { n: 1 }, error: null });
    expect(t.agentId).toMatch(/^h1-a[12]$/);
  });

  it('the same idempotencyKey gives the same id and one task', async () => {
    const a = await stack.request('POST', '/api/tasks', { type: 'echo', payload: 1, idempotencyKey: 'k-1' });
    const b = await stack.request('POST', '/api/tasks', { type: 'echo', payload: 2, idempotencyKey: 'k-1' });
    expect(a.status).toBe(202);
    expect(b.body).toEqual(a.body);
    const t = await waitDone(a.body.id);
    expect(t.result).toBe(1);
    const node = a.body.node as string;
    const completed = await conn.zrange(`${stack.config.prefix}:${nodeQueueName(node)}:completed`, '0', '-1');
    expect(completed.filter((id) => id === a.body.id)).toHaveLength(1);
    const jobs = await conn.keys(`${stack.config.prefix}:${nodeQueueName(node)}:${node}.*`);
    expect(jobs.filter((k) => !k.includes(':lock') && !k.includes(':logs'))).toHaveLength(completed.length);
  });

  it('a failing task ends failed with its error and its attempts', async () => {
    const r = await stack.request('POST', '/api/tasks', { type: 'fail', payload: { message: 'boom' }, attempts: 2 });
    const t = await waitDone(r.body.id);
    expect(t).toMatchObject({ state: 'failed', error: 'boom', attempts: 2, result: null });
    expect(t.agentId).toMatch(/^h1-a[12]$/); // the agent of the final attempt
    // Given up: in the dead-letter queue with its payload and last error.
    const dlq = await until(async () => {
      const d = await stack.request('GET', '/api/dead-letter');
      return (d.body.tasks as { id: string }[]).find((x) => x.id === r.body.id);
    }, 5000, 'the task in the dead-letter queue');
    expect(dlq).toMatchObject({ type: 'fail', payload: { message: 'boom' }, error: 'boom', attempts: 2, agentId: t.agentId, node: t.node });
  });

  it('a task that names no attempts gets the default 3, backing off between them', async () => {
    const r = await stack.request('POST', '/api/tasks', { type: 'fail', payload: { message: 'again' } });
    const t = await waitDone(r.body.id);
    expect(t).toMatchObject({ state: 'failed', error: 'again', attempts: 3 });
  });

  it('a task over its timeout fails with a message saying so', async () => {
    const r = await stack.request('POST', '/api/tasks', { type: 'sleep', payload: { ms: 5000 }, timeoutMs: 100 });
    const t = await waitDone(r.body.id);
    expect(t.state).toBe('failed');
    expect(t.error).toMatch(/timed out after 100 ms/);
  });

  it('POST /api/tasks/batch → 202 { ids }, all complete', async () => {
    const tasks = Array.from({ length: 25 }, (_, i) => ({ type: 'echo', payload: { i } }));
    const r = await stack.request('POST', '/api/tasks/batch', { tasks });
    expect(r.status).toBe(202);
    expect(r.body.ids).toHaveLength(25);
    const done = await Promise.all(r.body.ids.map((id: string) => waitDone(id)));
    expect(done.map((t) => t.result.i)).toEqual(tasks.map((t) => t.payload.i));
  });

  it('a batch honours idempotency keys, against earlier submits and within itself', async () => {
    const single = await stack.request('POST', '/api/tasks', { type: 'echo', payload: 'first', idempotencyKey: 'b-1' });
    const r = await stack.request('POST', '/api/tasks/batch', {
      tasks: [
        { type: 'echo', payload: 'again', idempotencyKey: 'b-1' },
        { type: 'echo', payload: 'new', idempotencyKey: 'b-2' },
        { type: 'echo', payload: 'new twice', idempotencyKey: 'b-2' },
        { type: 'echo', payload: 'plain' },
      ],
    });
    expect(r.status).toBe(202);
    const [a, b, c, d] = r.body.ids as string[];
    expect(a).toBe(single.body.id);
    expect(c).toBe(b);
    expect(new Set([a, b, d]).size).toBe(3);
    expect((await waitDone(a!)).result).toBe('first');
    expect((await waitDone(b!)).result).toBe('new');
    expect((await waitDone(d!)).result).toBe('plain');
    const again = await stack.request('POST', '/api/tasks/batch', { tasks: [{ type: 'echo', payload: 'x', idempotencyKey: 'b-2' }] });
    expect(again.body.ids).toEqual([b]);
  });

  it('GET of an unknown id → 404', async () => {
    for (const id of ['n1.doesnotexist', 'no-dot', 'n999.x']) {
      const r = await stack.request('GET', `/api/tasks/${id}`);
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('not_found');
    }
  });

  it('DELETE cancels a waiting task (200) and a running one (200, wasRunning); finished or unknown ones get 409 / 404', async () => {
    // Keep both agents busy so the third task waits.
    const busy = await Promise.all([1, 2].map(() => stack.request('POST', '/api/tasks', { type: 'sleep', payload: { ms: 1500 } })));
    await until(async () => {
      const r = await stack.request('GET', `/api/tasks/${busy[1]!.body.id}`);
      const s = await stack.request('GET', `/api/tasks/${busy[0]!.body.id}`);
      return r.body.state === 'active' && s.body.state === 'active';
    });
    const waiting = await stack.request('POST', '/api/tasks', { type: 'echo', payload: 'never' });
    expect((await stack.request('GET', `/api/tasks/${waiting.body.id}`)).body.state).toBe('waiting');
    const del = await stack.request('DELETE', `/api/tasks/${waiting.body.id}`);
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ id: waiting.body.id, state: 'cancelled', type: 'echo' });
    expect((await stack.request('GET', `/api/tasks/${waiting.body.id}`)).body.state).toBe('cancelled');
    expect((await stack.request('DELETE', `/api/tasks/${waiting.body.id}`)).status).toBe(200);

    // Running: taken from its agent (its signal aborted), cancelled, not retried (tests/integration/cancelRunning.test.ts has the rest).
    const active = await stack.request('DELETE', `/api/tasks/${busy[0]!.body.id}`);
    expect(active.status).toBe(200);
    expect(active.body).toMatchObject({ id: busy[0]!.body.id, state: 'cancelled', wasRunning: true, result: null });
    const finished = await waitDone(busy[1]!.body.id);
    expect(finished.state).toBe('completed');
    const late = await stack.request('DELETE', `/api/tasks/${busy[1]!.body.id}`);
    expect(late.status).toBe(409);
    expect(late.body.error).toMatchObject({ code: 'conflict', details: { state: 'completed' } });
    expect((await stack.request('DELETE', '/api/tasks/n1.unknown')).status).toBe(404);
    // The cancelled waiting task never ran.
    expect((await stack.request('GET', `/api/tasks/${waiting.body.id}`)).body).toMatchObject({ state: 'cancelled', agentId: null, startedAt: null });
    expect((await stack.request('GET', `/api/tasks/${busy[0]!.body.id}`)).body).toMatchObject({ state: 'cancelled', result: null });
  });
});

describe('bad input is refused with a clear error and writes nothing', () => {
  // The tests above leave work finishing and the coordinator publishing the loads it changed: compared before and
  // after each refusal, the state must first be still (two reads half a second apart alike), or their writes count.
  beforeAll(async () => {
    await until(async () => {
      const a = JSON.stringify(await state());
      await new Promise((r) => setTimeout(r, 500));
      return a === JSON.stringify(await state());
    }, 15_000, 'the swarm to be still');
  });

  const cases: [string, () => Promise<{ status: number; body: any }>, number, string, string | undefined][] = [
    ['missing type', () => stack.request('POST', '/api/tasks', { payload: 1 }), 400, 'invalid_request', 'type'],
    ['unknown field', () => stack.request('POST', '/api/tasks', { type: 'echo', colour: 'red' }), 400, 'invalid_request', '(root)'],
    ['priority out of range', () => stack.request('POST', '/api/tasks', { type: 'echo', priority: 0 }), 400, 'invalid_request', 'priority'],
    ['payload against the type schema', () => stack.request('POST', '/api/tasks', { type: 'sleep', payload: { ms: 'long' } }), 400, 'invalid_request', 'payload.ms'],
    ['unknown task type', () => stack.request('POST', '/api/tasks', { type: 'translate' }), 400, 'unknown_task_type', 'type'],
    ['affinity nobody meets', () => stack.request('POST', '/api/tasks', { type: 'echo', affinity: { capabilities: ['tpu'] } }), 400, 'no_capable_agent', 'affinity'],
    ['invalid JSON', () => stack.request('POST', '/api/tasks', '{"type": '), 400, 'invalid_request', '(body)'],
    ['wrong content type', () => stack.request('POST', '/api/tasks', 'type=echo', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type', undefined],
    ['body over 1 MiB', () => stack.request('POST', '/api/tasks', { type: 'echo', payload: 'x'.repeat(1024 * 1024 + 10) }), 413, 'payload_too_large', undefined],
    ['batch with one bad task', () => stack.request('POST', '/api/tasks/batch', { tasks: [{ type: 'echo' }, { type: 'echo' }, { type: 'sleep', payload: {} }] }), 400, 'invalid_request', 'tasks.2.payload.ms'],
    ['batch with an unknown type', () => stack.request('POST', '/api/tasks/batch', { tasks: [{ type: 'echo' }, { type: 'nope' }] }), 400, 'unknown_task_type', 'tasks.1.type'],
    ['empty batch', () => stack.request('POST', '/api/tasks/batch', { tasks: [] }), 400, 'invalid_request', 'tasks'],
    ['batch over 1,000', () => stack.request('POST', '/api/tasks/batch', { tasks: Array.from({ length: 1001 }, () => ({ type: 'echo' })) }), 400, 'invalid_request', 'tasks'],
    ['batch not an object', () => stack.request('POST', '/api/tasks/batch', [{ type: 'echo' }]), 400, 'invalid_request', 'tasks'],
  ];
  for (const [name, call, status, code, path] of cases) {
    it(name, async () => {
      const before = await state();
      const r = await call();
      expect(r.status).toBe(status);
      expect(r.body.error.code).toBe(code);
      expect(typeof r.body.error.message).toBe('string');
      if (path) expect(r.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
      expect(await state()).toEqual(before);
    });
  }

  it('an unknown route is a JSON 404', async () => {
    const r = await stack.request('GET', '/api/nothing-here');
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
  });
});

describe('swarm and operations', () => {
  it('GET /api/agents lists agents with their node, host and heartbeat', async () => {
    const r = await stack.request('GET', '/api/agents');
    expect(r.status).toBe(200);
    expect(r.body.agents).toHaveLength(2);
    for (const a of r.body.agents) {
      expect(a).toMatchObject({ type: 'worker', capacity: 1, hostId: 'h1', live: true, capabilities: ['gpu'] });
      expect(a.taskTypes).toEqual(expect.arrayContaining(['echo', 'sleep', 'cpu', 'fail']));
      expect(a.lastHeartbeat).toBeGreaterThan(Date.now() - 5000);
    }
  });

  it('GET /api/nodes lists nodes with waiting and active counts', async () => {
    // Counts as the leading coordinator publishes them: the earlier tests' tasks leave them within a round or two.
    const r = await until(async () => {
      const res = await stack.request('GET', '/api/nodes');
      return res.body.nodes?.[0]?.waiting === 0 && res.body.nodes[0].active === 0 ? res : undefined;
    }, 5_000, 'the earlier tasks to leave the counts');
    expect(r.status).toBe(200);
    expect(r.body.nodes).toHaveLength(1);
    expect(r.body.nodes[0]).toMatchObject({ members: 2, liveAgents: 2, capacity: 2, waiting: 0, active: 0, queue: nodeQueueName(r.body.nodes[0].id) });
  });

  it('/healthz and /readyz answer 200 while Redis is up', async () => {
    expect((await stack.request('GET', '/healthz')).status).toBe(200);
    expect((await stack.request('GET', '/readyz')).status).toBe(200);
  });

  it('Bull Board at /admin/queues shows the intake queue and every node queue', async () => {
    const page = await stack.request('GET', '/admin/queues');
    expect(page.status).toBe(200);
    const api = await stack.request('GET', '/admin/queues/api/queues?activeQueue=&page=1&jobsPerPage=10');
    expect(api.status).toBe(200);
    const names = (api.body.queues as { name: string }[]).map((q) => q.name);
    expect(names).toContain(INTAKE_QUEUE);
    expect(names.some((n) => /^node-\{g\d+\}-n\d+$/.test(n))).toBe(true);
  });
});
