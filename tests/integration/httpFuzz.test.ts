// HTTP fuzzing with fast-check: random methods, paths (known routes, their
// neighbours, odd encodings), headers and bodies. Whatever arrives, the answer
// is never a 5xx; a 4xx is a JSON error `{ error: { code, message } }` and
// leaves Redis exactly as it was (every key and value under the swarm's prefix,
// and the key count of the whole server). Bodies nested past the depth bound
// (up to 10,000 levels) and ids outside the grammar swarmq issues (BullMQ's own
// key suffixes, `<id>:lock`, very long, non-ASCII) are drawn on purpose.
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startQuietStack, type QuietStack } from '../support/quietStack.ts';
import { redisForFile } from '../support/redis.ts';
import { dump, testConfig } from '../support/swarm.ts';

const redis = redisForFile();
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

/** Ids that would name some other Redis key (BullMQ's own suffixes, a job's lock or dependencies), or none swarmq could issue. */
const CRAFTED_IDS = [
  'meta', 'events', 'id', 'wait', 'active', 'paused', 'prioritized', 'delayed', 'completed', 'failed', 'stalled-check', 'marker', 'pc', 'de', 'limiter', 'repeat',
  'x:lock', 'r-x:dependencies', 'r-AAAAAAAAAAAA:dependencies', 'r-AAAAAAAAAAAA:processed', 'n1.AAAAAAAAAAAA:lock', 'n1.AAAAAAAAAAAA:logs', 'parked.AAAAAAAAAAAA:lock',
  'p-0000000000000000:lock', 'h1-a1:lock', 'n1.', '.x', 'r-', 'p-', '😀', 'ü'.repeat(12), '\u0000', '{swarm}', '{g1}:moved', '*', '?', 'n1.'.padEnd(6000, 'A'),
];
const craftedId = fc.oneof(
  fc.constantFrom(...CRAFTED_IDS),
  fc.integer({ min: 201, max: 6000 }).map((n) => 'n1.'.padEnd(n, 'A')),
  fc.tuple(fc.constantFrom('n1.', 'r-', 'p-', 'h1-a'), fc.string({ unit: 'binary', maxLength: 20 })).map(([a, b]) => a + b),
);

/** Every key suffix in Redis now, as an id: `meta`, `events`, …, and a job's own keys (`<job id>:lock`, …) rather than the job's id. */
async function keySuffixes(): Promise<string[]> {
  const out = new Set<string>();
  for (const key of await conn.keys(`${prefix}:*`)) {
    const rest = key.slice(prefix.length + 1);
    const suffix = rest.slice(rest.indexOf(':') + 1);
    if (/^(?:n[0-9]+\.|parked\.|r-|p-)[^:]*$/.test(suffix)) for (const k of ['lock', 'logs', 'dependencies', 'processed']) out.add(`${suffix}:${k}`);
    else out.add(suffix);
  }
  return [...out];
}

const ID_ROUTES = ['/api/tasks/', '/api/proposals/', '/api/agents/'];
const idPath = fc.tuple(fc.constantFrom(...ID_ROUTES), craftedId).map(([r, id]) => r + encodeURIComponent(id));

/** Stream ids past 64 bits a part, and ones just inside. */
const streamId = fc.oneof(
  fc.constantFrom('99999999999999999999-0', '18446744073709551616-0', '0-18446744073709551616', '18446744073709551615-18446744073709551615'),
  fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 20n - 1n }), fc.bigInt({ min: 0n, max: 10n ** 20n - 1n })).map(([a, b]) => `${a}-${b}`),
);

const segment = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/),
  fc.constantFrom('%', '%zz', '%00', '%E0%A4%A', '..', '%2e%2e', '%2F', '😀', '%F0%9F%98', 'n1.%', '{g1}', ';x=1', '*', '$'),
);

const path = fc.oneof(
  fc.constantFrom(...ROUTES),
  fc.tuple(fc.constantFrom(...ROUTES), fc.array(segment, { minLength: 1, maxLength: 3 })).map(([r, s]) => `${r.replace(/\/$/, '')}/${s.join('/')}`),
  fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`),
  fc.tuple(fc.constantFrom(...ROUTES), fc.stringMatching(/^[A-Za-z0-9=&%+._-]{0,30}$/)).map(([r, q]) => `${r}?${q}`),
  idPath,
  streamId.map((id) => `/api/events?from=${id}`),
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

/** JSON text nested `depth` levels (written out: JSON.stringify itself overflows a few thousand down). */
function nestedJson(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** Past the default bound of 64, from just past it to 10,000, in each place a body may nest it. */
const deepBody = fc
  .tuple(fc.oneof(fc.integer({ min: 65, max: 200 }), fc.integer({ min: 200, max: 10_000 })), fc.constantFrom<'array' | 'object'>('array', 'object'), fc.constantFrom('task', 'idempotent', 'affinity', 'extra', 'batch', 'proposal', 'participants', 'spawn', 'bare'))
  .map(([depth, kind, where]) => {
    const deep = nestedJson(depth, kind);
    switch (where) {
      case 'task':
        return `{"type":"echo","payload":${deep}}`;
      case 'idempotent':
        return `{"type":"echo","payload":${deep},"idempotencyKey":"fuzz-deep"}`;
      case 'affinity':
        return `{"type":"echo","affinity":${deep}}`;
      case 'extra':
        return `{"type":"echo","payload":1,"x":${deep}}`;
      case 'batch':
        return `{"tasks":[{"type":"echo","payload":1,"idempotencyKey":"fuzz-b"},{"type":"echo","payload":${deep},"waitForAgent":true}]}`;
      case 'proposal':
        return `{"protocol":"quorum","value":${deep}}`;
      case 'participants':
        return `{"protocol":"quorum","value":1,"participants":${deep}}`;
      case 'spawn':
        return `{"type":"w","count":1,"capabilities":${deep}}`;
      default:
        return deep;
    }
  });

const body = fc.option(
  fc.oneof(
    fc.json({ maxDepth: 3 }),
    taskish.map((t) => JSON.stringify(t)),
    fc.array(taskish, { maxLength: 3 }).map((tasks) => JSON.stringify({ tasks })),
    fc.record({ protocol: fc.string({ maxLength: 10 }), value: fc.anything({ maxDepth: 1 }), participants: fc.anything({ maxDepth: 1 }) }).map((p) => JSON.stringify(p)),
    fc.string({ maxLength: 200 }),
    deepBody,
    fc.constantFrom('{', '[', '{"type":', '\u0000', 'null', '"x"', '1e999', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}', 'x'.repeat(2 * 1024 * 1024)),
  ),
  { nil: undefined },
);

const headerName = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/).filter((h) => !['content-length', 'host', 'connection', 'transfer-encoding', 'expect', 'upgrade', 'keep-alive', 'te', 'trailer'].includes(h));
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,40}$/).map((v) => v.trim());
const headers = fc.dictionary(headerName, headerValue, { maxKeys: 4 });
const special = fc.record(
  {
    'last-event-id': fc.oneof(fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')), fc.constant('1-0'), streamId),
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
  conn = redis.connect({ maxRetriesPerRequest: null });
  const config = testConfig(redis, { http: { bodyLimitBytes: 64 * 1024 } });
  prefix = config.prefix;
  stack = await startQuietStack(config);
});

afterAll(async () => {
  await stack?.stop();
});

/** Redis as it stands once start-up and the first visit of each page are over (queue metadata BullMQ and Bull Board create lazily). */
async function warmedUp(): Promise<string> {
  for (const r of ROUTES) await send('GET', r, {}, undefined);
  let state = await digest();
  for (let still = 0; still < 5; ) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await digest();
    still = now === state ? still + 1 : 0;
    state = now;
  }
  return state;
}

let state = '';
let accepted = 0;

/** Sends one request and checks its answer: never a 5xx; a 4xx is a JSON error and leaves Redis as it was. */
async function check(m: string, p: string, all: Record<string, string>, b: string | undefined): Promise<number> {
  const res = await send(m, p, all, b);
  const where = `${m} ${p.slice(0, 200)} ${JSON.stringify(all)} ${b?.slice(0, 200)} -> ${res.status} ${res.text.slice(0, 300)}`;
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
  return res.status;
}

describe('HTTP fuzzing', () => {
  it('never answers 5xx; every 4xx is a JSON error and leaves Redis unchanged', async () => {
    state = await warmedUp();
    accepted = 0;
    await fc.assert(
      fc.asyncProperty(method, path, contentType, headers, special, body, async (m, p, ct, h, sp, b) => {
        await check(m, p, { ...h, ...sp, ...(ct ? { 'content-type': ct } : {}) }, b);
      }),
      { numRuns: 400, interruptAfterTimeLimit: 20_000 },
    );
    expect(accepted).toBeLessThan(400);
  }, 40_000);

  it('bodies nested past the bound, ids outside the grammar and stream ids past 64 bits reach their routes and get a 4xx', async () => {
    state = await warmedUp();
    accepted = 0;
    const MAX_PART = 2n ** 64n - 1n;
    const json = { 'content-type': 'application/json' };
    const deepPost = fc.tuple(fc.constantFrom('/api/tasks', '/api/tasks/batch', '/api/proposals', '/api/agents'), deepBody).map(([p, b]) => ({ m: 'POST', p, h: json, b, want: 400 }));
    const idRequest = fc.tuple(fc.constantFrom('GET', 'DELETE'), idPath).map(([m, p]) => ({ m, p, h: {}, b: undefined, want: 404 }));
    const beyond = (id: string) => (id.split('-').some((part) => BigInt(part) > MAX_PART) ? 400 : 200);
    const resume = fc.oneof(
      streamId.map((id) => ({ m: 'GET', p: `/api/events?from=${id}`, h: {}, b: undefined, want: beyond(id) })),
      streamId.map((id) => ({ m: 'GET', p: '/api/events', h: { 'last-event-id': id }, b: undefined, want: beyond(id) })),
    );
    // Each crafted id, and each key suffix Redis holds now, on each route that takes an id.
    for (const id of new Set([...CRAFTED_IDS, ...(await keySuffixes())])) {
      for (const route of ID_ROUTES) {
        for (const m of ['GET', 'DELETE']) expect(await check(m, route + encodeURIComponent(id), {}, undefined), `${m} ${route}${id.slice(0, 100)}`).toBe(404);
      }
    }
    await fc.assert(
      fc.asyncProperty(fc.oneof(deepPost, idRequest, resume), async ({ m, p, h, b, want }) => {
        expect(await check(m, p, h, b), `${m} ${p.slice(0, 200)} ${JSON.stringify(h)} ${b?.slice(0, 100)}`).toBe(want);
      }),
      { numRuns: 300, interruptAfterTimeLimit: 20_000 },
    );
    expect(accepted).toBe(0);
  }, 40_000);
});
