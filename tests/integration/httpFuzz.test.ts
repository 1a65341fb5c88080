// HTTP fuzzing with fast-check: random methods, paths (known routes, their
// neighbours, odd encodings), headers and bodies. Whatever arrives, the answer
// is never a 5xx; a 4xx is a JSON error `{ error: { code, message } }` and
// leaves Redis exactly as it was (every key and value under the swarm's prefix,
// and the key count of the whole server).
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startQuietStack, type QuietStack } from '../support/quietStack.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { dump, testConfig } from '../support/swarm.ts';

let redis: TestRedis;
let conn: Redis;
let stack: QuietStack;
let prefix: string;

const ROUTES = [
  '/api/tasks',
  '/api/tasks/batch',
  '/api/tasks/n1.abc',
  '/api/agents',
  '/api/agents/a1',
  '/api/nodes',
  '/api/hierarchy',
  '/api/health',
  '/api/hosts',
  '/api/recoveries',
  '/api/dead-letter',
  '/api/proposals',
  '/api/proposals/p1',
  '/api/events',
  '/healthz',
  '/readyz',
  '/metrics',
  '/dashboard',
  '/admin/queues',
  '/login',
  '/',
];

const segment = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/),
  fc.constantFrom('%', '%zz', '%00', '%E0%A4%A', '..', '%2e%2e', '%2F', '😀', '%F0%9F%98', 'n1.%', '{g1}', ';x=1', '*', '$'),
);

const path = fc.oneof(
  fc.constantFrom(...ROUTES),
  fc.tuple(fc.constantFrom(...ROUTES), fc.array(segment, { minLength: 1, maxLength: 3 })).map(([r, s]) => `${r.replace(/\/$/, '')}/${s.join('/')}`),
  fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`),
  fc.tuple(fc.constantFrom(...ROUTES), fc.stringMatching(/^[A-Za-z0-9=&%+._-]{0,30}$/)).map(([r, q]) => `${r}?${q}`),
);

const method = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS');

const contentType = fc.option(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'application/json; charset=utf-16',
    'application/json; charset=latin1',
    'application/x-www-form-urlencoded',
    'text/plain',
    'multipart/form-data; boundary=x',
    'application/octet-stream',
    'application/merge-patch+json',
    'nonsense',
  ),
  { nil: undefined },
);

const taskish = fc.record(
  {
    type: fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.constant(null), fc.constantFrom('echo', 'sleep', 'cpu', 'fail', '__proto__')),
    payload: fc.anything({ maxDepth: 2 }),
    priority: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 5 })),
    attempts: fc.oneof(fc.integer({ min: -5, max: 1000 }), fc.string({ maxLength: 5 })),
    timeoutMs: fc.oneof(fc.integer(), fc.constant(Number.MAX_SAFE_INTEGER)),
    affinity: fc.anything({ maxDepth: 2 }),
    strategy: fc.string({ maxLength: 12 }),
    idempotencyKey: fc.oneof(fc.string({ maxLength: 40 }), fc.integer()),
  },
  { requiredKeys: [] },
);

const body = fc.option(
  fc.oneof(
    fc.json({ maxDepth: 3 }),
    taskish.map((t) => JSON.stringify(t)),
    fc.array(taskish, { maxLength: 3 }).map((tasks) => JSON.stringify({ tasks })),
    fc.record({ protocol: fc.string({ maxLength: 10 }), value: fc.anything({ maxDepth: 1 }), participants: fc.anything({ maxDepth: 1 }) }).map((p) => JSON.stringify(p)),
    fc.string({ maxLength: 200 }),
    fc.constantFrom('{', '[', '{"type":', '\u0000', 'null', '"x"', '1e999', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}', 'x'.repeat(2 * 1024 * 1024)),
  ),
  { nil: undefined },
);

const headerName = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/).filter((h) => !['content-length', 'host', 'connection', 'transfer-encoding', 'expect', 'upgrade', 'keep-alive', 'te', 'trailer'].includes(h));
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,40}$/).map((v) => v.trim());
const headers = fc.dictionary(headerName, headerValue, { maxKeys: 4 });
const special = fc.record(
  {
    'last-event-id': fc.oneof(fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')), fc.constant('1-0')),
    accept: fc.constantFrom('application/json', 'text/html', 'text/event-stream', '*/*', 'image/png'),
    authorization: fc.constantFrom('Bearer x', 'Basic Zm9vOmJhcg==', 'Bearer', ''),
    cookie: fc.constantFrom('swarmq_session=x', 'a=b; swarmq_session=', '=;;'),
    'content-encoding': fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'bogus'),
  },
  { requiredKeys: [] },
);

async function send(m: string, p: string, h: Record<string, string>, b: string | undefined): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(stack.base + p, { method: m, headers: h, redirect: 'manual', signal: AbortSignal.timeout(10_000), ...(b !== undefined && m !== 'GET' ? { body: b } : {}) });
  // An SSE stream stays open: its status and type are the answer.
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
    await res.body?.cancel();
    return { status: res.status, type: res.headers.get('content-type'), text: '' };
  }
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

async function digest(): Promise<string> {
  return JSON.stringify([await conn.dbsize(), await dump(conn, prefix)]);
}

beforeAll(async () => {
  redis = await startRedis();
  conn = new Redis(redis.url, { maxRetriesPerRequest: null });
  const config = testConfig(redis, { http: { bodyLimitBytes: 64 * 1024 } });
  prefix = config.prefix;
  stack = await startQuietStack(config);
});

afterAll(async () => {
  await stack?.stop();
  conn?.disconnect();
  await redis?.stop();
});

describe('HTTP fuzzing', () => {
  it('never answers 5xx; every 4xx is a JSON error and leaves Redis unchanged', async () => {
    // Warm-up: the first visit of a page creates queue metadata lazily (Bull Board's queues); that is not a request changing anything.
    for (const r of ROUTES) await send('GET', r, {}, undefined);
    let state = await digest();
    for (let still = 0; still < 5; ) {
      await new Promise((r) => setTimeout(r, 100));
      const now = await digest();
      still = now === state ? still + 1 : 0;
      state = now;
    }
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(method, path, contentType, headers, special, body, async (m, p, ct, h, sp, b) => {
        const all: Record<string, string> = { ...h, ...sp, ...(ct ? { 'content-type': ct } : {}) };
        const res = await send(m, p, all, b);
        const where = `${m} ${p} ${JSON.stringify(all)} ${b?.slice(0, 200)} -> ${res.status} ${res.text.slice(0, 300)}`;
        expect(res.status, where).toBeLessThan(500);
        const now = await digest();
        if (res.status >= 400) {
          expect(res.type, where).toMatch(/^application\/json/);
          const err = JSON.parse(res.text) as { error?: { code?: unknown; message?: unknown } };
          expect(typeof err.error?.code, where).toBe('string');
          expect(typeof err.error?.message, where).toBe('string');
          expect(now, `Redis changed after ${where}`).toBe(state);
        } else if (now !== state) {
          // A request the fuzzer happened to make valid (a parked task, say) may write; the next ones are compared with that.
          accepted++;
          state = now;
        }
      }),
      { numRuns: 400, interruptAfterTimeLimit: 20_000 },
    );
    expect(accepted).toBeLessThan(400);
  }, 40_000);
});
