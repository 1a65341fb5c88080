// Without a token the API listens on loopback, and then a web page is the way
// in: by DNS rebinding (its own name pointed at 127.0.0.1, so the browser sends
// `Host: attacker.example`) or by a cross-site form/fetch POST. Both are
// refused on every route before anything is read or written; tools (no Origin,
// no Sec-Fetch-Site) and the server's own pages are served.
import { request } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/settings.ts';
import { startQuietStack, type QuietStack } from '../support/quietStack.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';
import { dump, testConfig } from '../support/swarm.ts';
import { INTAKE_QUEUE } from '../../queues/keys.ts';

const redis = redisForFile();
let conn: Redis;
let open: QuietStack;
let behindProxy: QuietStack;

interface Answer {
  status: number;
  body: unknown;
}

/** A raw request, so Host, Origin and Sec-Fetch-* are exactly what a browser under attack would send. */
function send(stack: QuietStack, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const port = Number(new URL(stack.base).port);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // a page
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const json = { 'content-type': 'application/json' };
const task = JSON.stringify({ type: 'echo', payload: 1 });
const boardAdd = `/admin/queues/api/queues/${encodeURIComponent(INTAKE_QUEUE)}/add`;
const boardJob = JSON.stringify({ name: 'from-a-page', data: { evil: true } });

beforeAll(async () => {
  conn = redis.connect({ maxRetriesPerRequest: null });
  open = await startQuietStack(testConfig(redis));
  // As a deployment sets it: from the environment.
  behindProxy = await startQuietStack(
    loadConfig({ REDIS_URL: redis.url, SWARMQ_PREFIX: uniquePrefix('proxied'), SWARMQ_ALLOWED_HOSTS: 'swarm.example.com, ops.example.com:8443' }),
  );
});

afterAll(async () => {
  await behindProxy?.stop();
  await open?.stop();
});

describe('Host (DNS rebinding)', () => {
  it('refuses every route when Host is a name that is not this server, writing nothing', async () => {
    const before = await dump(conn, open.coordinator.config.prefix);
    const port = new URL(open.base).port;
    const requests: [string, string, Record<string, string>, string?][] = [
      ['POST', '/api/tasks', json, task],
      ['POST', '/api/tasks/batch', json, JSON.stringify({ tasks: [{ type: 'echo' }] })],
      ['DELETE', '/api/tasks/n1.x', {}],
      ['POST', '/api/agents', json, JSON.stringify({ host: 'h', count: 1 })],
      ['GET', '/api/nodes', {}],
      ['GET', '/api/tasks/n1.x', {}],
      ['POST', boardAdd, json, boardJob],
      ['GET', '/admin/queues', {}],
      ['GET', '/dashboard', {}],
      ['GET', '/metrics', {}],
    ];
    for (const host of [`attacker.example:${port}`, 'attacker.example', `127.0.0.1.attacker.example:${port}`, `localhost.attacker.example:${port}`]) {
      for (const [method, path, headers, body] of requests) {
        const res = await send(open, method, path, { ...headers, host }, body);
        expect(res.status, `${method} ${path} Host ${host}`).toBe(403);
        expect(res.body, `${method} ${path}`).toMatchObject({ error: { code: 'host_not_allowed', message: expect.stringContaining('SWARMQ_ALLOWED_HOSTS') } });
      }
    }
    expect(await dump(conn, open.coordinator.config.prefix)).toEqual(before);
  });

  it('serves its own address and the loopback names, on any port (an SSH tunnel changes it)', async () => {
    const port = new URL(open.base).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'localhost:8080', `LOCALHOST:${port}`]) {
      expect((await send(open, 'GET', '/api/nodes', { host })).status, host).toBe(200);
    }
  });

  it('serves the names of SWARMQ_ALLOWED_HOSTS (a port where one is given) and no other', async () => {
    for (const host of ['swarm.example.com', 'swarm.example.com:443', 'ops.example.com:8443', '127.0.0.1:1234']) {
      expect((await send(behindProxy, 'GET', '/api/nodes', { host })).status, host).toBe(200);
    }
    for (const host of ['ops.example.com', 'ops.example.com:9000', 'example.com', 'evil-swarm.example.com']) {
      const res = await send(behindProxy, 'GET', '/api/nodes', { host });
      expect(res.status, host).toBe(403);
      expect(res.body).toMatchObject({ error: { code: 'host_not_allowed' } });
    }
  });
});

describe('Origin (cross-site requests)', () => {
  it('refuses a change a page of another site asks for, on the API and on Bull Board, writing nothing', async () => {
    const port = new URL(open.base).port;
    const host = `127.0.0.1:${port}`;
    const before = await dump(conn, open.coordinator.config.prefix);
    const attackers: Record<string, string>[] = [
      { origin: 'https://attacker.example' },
      { origin: 'https://attacker.example', 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'cross-site' },
      // Another port of the same host is the same site but another origin.
      { origin: 'http://127.0.0.1:1', 'sec-fetch-site': 'same-site' },
      { origin: 'http://127.0.0.1:1' },
      { origin: 'null' },
      { 'sec-fetch-site': 'same-site' },
    ];
    for (const from of attackers) {
      for (const [method, path, headers, body] of [
        ['POST', '/api/tasks', { 'content-type': 'text/plain' }, task],
        ['POST', '/api/tasks', json, task],
        ['DELETE', '/api/tasks/n1.x', {}, undefined],
        ['POST', boardAdd, { 'content-type': 'text/plain' }, boardJob],
        ['POST', boardAdd, json, boardJob],
        ['PUT', `/admin/queues/api/queues/${encodeURIComponent(INTAKE_QUEUE)}/pause`, {}, undefined],
      ] as [string, string, Record<string, string>, string?][]) {
        const res = await send(open, method, path, { ...headers, ...from, host }, body);
        expect(res.status, `${method} ${path} ${JSON.stringify(from)}`).toBe(403);
        expect(res.body).toMatchObject({ error: { code: 'origin_not_allowed' } });
      }
    }
    expect(await dump(conn, open.coordinator.config.prefix)).toEqual(before);
  });

  it('serves reads from anywhere, and changes from its own pages and from tools', async () => {
    const port = new URL(open.base).port;
    const host = `127.0.0.1:${port}`;
    // A cross-site page may make a GET, but cannot read the answer (no CORS).
    expect((await send(open, 'GET', '/api/nodes', { host, origin: 'https://attacker.example', 'sec-fetch-site': 'cross-site' })).status).toBe(200);
    const jobs = await open.coordinator.intakeQueue.count();
    // Bull Board's own page: same origin.
    const own = await send(open, 'POST', boardAdd, { ...json, host, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' }, boardJob);
    expect(own.status, JSON.stringify(own.body)).toBe(200);
    // An older browser without Fetch Metadata: the Origin alone.
    expect((await send(open, 'POST', boardAdd, { ...json, host, origin: `http://${host}` }, boardJob)).status).toBe(200);
    // curl, SDKs: neither header.
    expect((await send(open, 'POST', boardAdd, { ...json, host }, boardJob)).status).toBe(200);
    expect(await open.coordinator.intakeQueue.count()).toBe(jobs + 3);
    const submit = await send(open, 'POST', '/api/tasks', { ...json, host }, task);
    expect(submit.status).not.toBe(403);
  });

  it('takes the origins of SWARMQ_ALLOWED_HOSTS, for a proxy that passes its own Host upstream', async () => {
    const port = new URL(behindProxy.base).port;
    const upstream = `127.0.0.1:${port}`;
    const served = await send(behindProxy, 'DELETE', '/api/tasks/n1.x', { host: upstream, origin: 'https://swarm.example.com' });
    expect(served.status).toBe(404);
    const other = await send(behindProxy, 'DELETE', '/api/tasks/n1.x', { host: upstream, origin: 'https://other.example.com' });
    expect(other.status).toBe(403);
  });
});
