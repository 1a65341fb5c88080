// SWARMQ_API_TOKEN: every protected route refuses a request without the token
// or with a wrong one (401 JSON, Redis untouched) and serves it with the
// token, as a Bearer header or as the session cookie POST /login sets.
// /healthz, /readyz and /metrics stay open. A session is a random id whose
// record lives in Redis: logging out ends it on every coordinator at once.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentHost } from '../../src/agents/host.ts';
import { exposureWarning } from '../../src/api/auth.ts';
import type { SwarmConfig } from '../../src/config/schema.ts';
import { loadConfig } from '../../src/config/settings.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { startQuietStack, type QuietStack } from '../support/quietStack.ts';
import { redisForFile } from '../support/redis.ts';
import { dump, testConfig } from '../support/swarm.ts';

const TOKEN = 'correct-horse-battery-staple-42';
const redis = redisForFile();
let conn: Redis;
let stack: QuietStack;
let prefix: string;
let config: SwarmConfig;
let host: AgentHost | undefined;
const stacks: QuietStack[] = [];

interface Route {
  method: string;
  path: string;
  body?: unknown;
  /** Status with the token (anything but 401 shows the request got past the guard). */
  ok: number;
}

const protectedRoutes: Route[] = [
  { method: 'POST', path: '/api/tasks', body: { type: 'echo', payload: 1 }, ok: 202 },
  { method: 'POST', path: '/api/tasks/batch', body: { tasks: [{ type: 'echo', payload: 2 }] }, ok: 202 },
  { method: 'GET', path: '/api/tasks/n1.nope', ok: 404 },
  { method: 'DELETE', path: '/api/tasks/n1.nope', ok: 404 },
  { method: 'DELETE', path: '/api/batches/AAAAAAAAAAAA', ok: 404 },
  { method: 'GET', path: '/api/agents', ok: 200 },
  { method: 'POST', path: '/api/agents', body: { host: 'nohost', count: 1 }, ok: 400 },
  { method: 'DELETE', path: '/api/agents/nobody', ok: 404 },
  { method: 'GET', path: '/api/nodes', ok: 200 },
  { method: 'GET', path: '/api/health', ok: 200 },
  { method: 'GET', path: '/api/dead-letter', ok: 200 },
  { method: 'POST', path: '/api/proposals', body: { protocol: 'quorum', value: 1 }, ok: 400 },
  { method: 'GET', path: '/api/keys', ok: 200 },
  { method: 'GET', path: '/api/keys/acme', ok: 200 },
  { method: 'PUT', path: '/api/keys/acme/limits', body: { maxActive: 2 }, ok: 200 },
  { method: 'GET', path: '/api/keys/acme/budget', ok: 200 },
  { method: 'PUT', path: '/api/keys/acme/budget', body: { tokens: 1000 }, ok: 200 },
  { method: 'GET', path: '/admin/queues', ok: 200 },
  { method: 'GET', path: '/dashboard', ok: 200 },
  { method: 'GET', path: '/api/no-such-route', ok: 404 },
];

async function call(r: Route, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(stack.base + r.path, {
    method: r.method,
    redirect: 'manual',
    headers: { ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(r.body !== undefined ? { body: JSON.stringify(r.body) } : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // a page
  }
  return { status: res.status, body, headers: res.headers };
}

beforeAll(async () => {
  conn = redis.connect({ maxRetriesPerRequest: null });
  config = testConfig(redis, { http: { apiToken: TOKEN } });
  prefix = config.prefix;
  stack = await startQuietStack(config);
});

afterAll(async () => {
  for (const s of stacks) await s.stop();
  await host?.stop(1000);
  await stack?.stop();
});

describe('API token', () => {
  it('refuses each protected route without the token and with a wrong one, changing nothing', async () => {
    const before = await dump(conn, prefix);
    for (const r of protectedRoutes) {
      for (const headers of [
        {},
        { authorization: `Bearer ${TOKEN}x` },
        { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
        { authorization: TOKEN },
        { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` },
        // The cookie of the old scheme (a fixed HMAC of the token), and a well-formed id nobody issued.
        { cookie: `swarmq_session=${createHmac('sha256', TOKEN).update('swarmq session v1').digest('base64url')}` },
        { cookie: `swarmq_session=${randomBytes(32).toString('base64url')}` },
        { cookie: `swarmq_session=${TOKEN}` },
      ] as Record<string, string>[]) {
        const res = await call(r, headers);
        expect(res.status, `${r.method} ${r.path} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.body, `${r.method} ${r.path}`).toMatchObject({ error: { code: 'unauthorized' } });
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }
    }
    const events = await fetch(`${stack.base}/api/events`);
    expect(events.status).toBe(401);
    expect(await dump(conn, prefix)).toEqual(before);
  });

  it('serves each protected route with the Bearer token', async () => {
    // An agent that runs echo, so a submit is accepted (after the refusals above, which had to find Redis still).
    host = new AgentHost({ config, hostId: 'auth-h', agents: [{ type: 'worker', count: 1 }], processors: builtinProcessors, logger: silentLogger });
    await host.start();
    for (const r of protectedRoutes) {
      const res = await call(r, { authorization: `Bearer ${TOKEN}` });
      expect(res.status, `${r.method} ${r.path}: ${JSON.stringify(res.body).slice(0, 300)}`).toBe(r.ok);
    }
    const events = await fetch(`${stack.base}/api/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(events.status).toBe(200);
    await events.body?.cancel();
  });

  it('keeps /healthz, /readyz and /metrics open for probes and scrapers', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await fetch(stack.base + path)).status, path).toBe(200);
  });

  it('logs a browser in with a form: an HttpOnly, SameSite=Strict cookie, then the pages and the API', async () => {
    const page = await fetch(`${stack.base}/dashboard`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('<form method="post" action="/login">');

    const wrong = await fetch(`${stack.base}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=nope&next=%2Fdashboard' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const login = await fetch(`${stack.base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${encodeURIComponent(TOKEN)}&next=%2Fadmin%2Fqueues`,
    });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/admin/queues');
    const setCookie = login.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/swarmq_session=/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(';')[0]!;
    expect((await call({ method: 'GET', path: '/dashboard', ok: 200 }, { cookie })).status).toBe(200);
    expect((await call({ method: 'GET', path: '/admin/queues', ok: 200 }, { cookie })).status).toBe(200);
    expect((await call({ method: 'POST', path: '/api/tasks', body: { type: 'echo', payload: 'cookie' }, ok: 202 }, { cookie })).status).toBe(202);

    // Another origin is never a place to be sent after logging in.
    const offsite = await fetch(`${stack.base}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(TOKEN)}&next=%2F%2Fevil.example` });
    expect(offsite.headers.get('location')).toBe('/dashboard');

    const json = await fetch(`${stack.base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'wrong' }) });
    expect(json.status).toBe(401);
    expect(await json.json()).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('warns about listening beyond loopback without a token, and only then', () => {
    expect(exposureWarning('0.0.0.0', undefined)).toMatch(/SWARMQ_API_TOKEN/);
    expect(exposureWarning('::', undefined)).toMatch(/SWARMQ_API_TOKEN/);
    expect(exposureWarning('10.1.2.3', undefined)).toMatch(/SWARMQ_API_TOKEN/);
    expect(exposureWarning('0.0.0.0', TOKEN)).toBeUndefined();
    for (const h of ['127.0.0.1', '127.0.1.1', 'localhost', '::1', '[::1]']) expect(exposureWarning(h, undefined), h).toBeUndefined();
  });

  it('ends a session on logout at once, on every coordinator; Redis holds only a hash of its id', async () => {
    const other = await startQuietStack(config);
    stacks.push(other);
    const cookie = await logIn(stack.base);
    const id = cookie.slice('swarmq_session='.length);
    const key = `${prefix}:{swarm}:session:${createHash('sha256').update(id).digest('hex')}`;
    const ttl = await conn.ttl(key);
    expect(ttl).toBeGreaterThan(11 * 3600);
    expect(ttl).toBeLessThanOrEqual(12 * 3600);
    expect(JSON.stringify(await dump(conn, prefix))).not.toContain(id);
    for (const base of [stack.base, other.base]) expect((await fetch(`${base}/api/nodes`, { headers: { cookie } })).status, base).toBe(200);

    const out = await fetch(`${other.base}/logout`, { method: 'POST', headers: { cookie } });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/swarmq_session=;/);
    expect(await conn.exists(key)).toBe(0);
    for (const base of [stack.base, other.base]) {
      const res = await fetch(`${base}/api/nodes`, { headers: { cookie } });
      expect(res.status, base).toBe(401);
    }
  });

  it('opens nothing with a session record written to Redis without the token, nor with one issued under another token', async () => {
    const id = randomBytes(32).toString('base64url');
    await conn.set(`${prefix}:{swarm}:session:${createHash('sha256').update(id).digest('hex')}`, 'anything', 'EX', 60);
    expect((await fetch(`${stack.base}/api/nodes`, { headers: { cookie: `swarmq_session=${id}` } })).status).toBe(401);

    const rotated = await startQuietStack({ ...config, http: { ...config.http, apiToken: `${TOKEN}-rotated` } });
    stacks.push(rotated);
    const cookie = await logIn(stack.base);
    expect((await fetch(`${rotated.base}/api/nodes`, { headers: { cookie } })).status).toBe(401);
  });

  it('marks the cookie Secure behind a trusted TLS proxy (SWARMQ_TRUST_PROXY), and only there', async () => {
    const plain = await fetch(`${stack.base}/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' }, body: JSON.stringify({ token: TOKEN }) });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('set-cookie')).not.toMatch(/;\s*Secure/i);

    const proxied = await startQuietStack(loadConfig({ REDIS_URL: redis.url, SWARMQ_PREFIX: prefix, SWARMQ_API_TOKEN: TOKEN, SWARMQ_TRUST_PROXY: 'loopback' }));
    stacks.push(proxied);
    const tls = await fetch(`${proxied.base}/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' }, body: JSON.stringify({ token: TOKEN }) });
    expect(tls.status).toBe(200);
    const setCookie = tls.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/;\s*Secure/i);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    const http = await fetch(`${proxied.base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKEN }) });
    expect(http.headers.get('set-cookie')).not.toMatch(/;\s*Secure/i);
  });
});

/** Logs in with the JSON form of POST /login; the `name=value` of the session cookie. */
async function logIn(base: string): Promise<string> {
  const res = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKEN }) });
  expect(res.status).toBe(200);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}
