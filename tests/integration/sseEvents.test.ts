// GET /api/events: SSE framing, resume with Last-Event-ID, the type filter,
// backlog, heartbeats, bad queries (400 JSON), and the blocking Redis
// connection closed when the client goes.
import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.ts';
import { swarmPages } from '../../src/cli/webPages.ts';
import type { SwarmConfig } from '../../src/config/schema.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { silentLogger } from '../../src/log.ts';
import { publishEvent } from '../../src/swarm/events.ts';
import { redisForFile } from '../support/redis.ts';
import { clientListsPerServer } from '../support/clusterAsRedis.ts';
import { openSse as open, type SseStream } from '../support/sse.ts';
import { testConfig, until } from '../support/swarm.ts';

const redis = redisForFile();
let conn: Redis;
let config: SwarmConfig;
let coordinator: Coordinator;
let server: Server;
let base: string;
const streams: SseStream[] = [];

/** Every stream a test opens is closed after it, passed or failed. */
async function openSse(url: string, headers?: Record<string, string>): Promise<SseStream> {
  const s = await open(url, headers);
  streams.push(s);
  return s;
}

const alert = (host: string) => ({ at: Date.now(), host, severity: 'warning' as const, reason: 'heartbeat', from: 'healthy' as const, to: 'degraded' as const, agents: 3, heartbeatAgeMs: 2500 });
const rebalance = (n: number) => ({ at: Date.now(), token: 7, moves: [{ from: 'n1', to: 'n2', count: n, moved: n, reason: 'steal' as const }] });

/** The events readers' connections on the server with most (a Cluster client has one per master it reached). */
async function eventConnections(): Promise<number> {
  const lists = await clientListsPerServer(conn);
  return Math.max(...lists.map((list) => list.split('\n').filter((l) => / name=swarmq:events /.test(l)).length));
}

beforeAll(async () => {
  conn = redis.connect({ maxRetriesPerRequest: null });
  // No balancer or monitor: only the events this test publishes reach the stream.
  config = testConfig(redis);
  coordinator = new Coordinator({ config, logger: silentLogger, intake: false, balance: false, health: false });
  await coordinator.start();
  const app = createApp({ coordinator, bodyLimitBytes: config.http.bodyLimitBytes, logger: silentLogger, eventsHeartbeatMs: 200, eventsMaxStreams: 3, ...swarmPages(coordinator) });
  server = await new Promise<Server>((r) => {
    const s = app.listen(0, () => r(s));
  });
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});

afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  await until(async () => (await eventConnections()) === 0, 10_000, 'every reader closed after the test');
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await coordinator?.stop();
});

describe('GET /api/events', () => {
  it('streams each event with its stream id, type and typed data; resumes after Last-Event-ID; heartbeats; frees its connection', async () => {
    const live = await openSse(`${base}/api/events`);
    expect(live.status).toBe(200);
    expect(live.contentType).toMatch(/^text\/event-stream/);
    await live.waitForComment(/^connected$/);
    await until(async () => (await eventConnections()) === 1, 10_000, 'the blocking connection');
    await publishEvent(conn, config.prefix, 'health:alert', alert('h1'));
    await publishEvent(conn, config.prefix, 'load:rebalanced', rebalance(4));
    const [first, second] = await live.waitForMessages(2);
    expect(first!.event).toBe('health:alert');
    expect(first!.id).toMatch(/^\d+-\d+$/);
    const body = JSON.parse(first!.data) as { id: string; type: string; at: number; data: { host: string } };
    expect(body).toMatchObject({ id: first!.id, type: 'health:alert', data: { host: 'h1', reason: 'heartbeat' } });
    expect(body.at).toBe(Number(first!.id!.split('-')[0]));
    expect(second!.event).toBe('load:rebalanced');
    expect(JSON.parse(second!.data).data.moves[0].moved).toBe(4);
    await live.waitForComment(/^heartbeat \d+$/, 5000);
    live.close();
    await until(async () => (await eventConnections()) === 0, 10_000, 'the blocking connection to close after the client left');

    // Missed while away: only what came after the last id seen.
    await publishEvent(conn, config.prefix, 'health:alert', alert('h2'));
    const resumed = await openSse(`${base}/api/events`, { 'last-event-id': second!.id! });
    const [missed] = await resumed.waitForMessages(1);
    expect(JSON.parse(missed!.data).data.host).toBe('h2');
    const fromFirst = await openSse(`${base}/api/events`, { 'last-event-id': first!.id! });
    expect((await fromFirst.waitForMessages(2)).map((m) => m.event)).toEqual(['load:rebalanced', 'health:alert']);
    resumed.close();
    fromFirst.close();
  });

  it('filters by type and replays a backlog', async () => {
    const filtered = await openSse(`${base}/api/events?types=load:rebalanced&backlog=50`);
    const backlog = await filtered.waitForMessages(1);
    expect(backlog.every((m) => m.event === 'load:rebalanced')).toBe(true);
    const seen = filtered.messages.length;
    await publishEvent(conn, config.prefix, 'health:alert', alert('h3'));
    await publishEvent(conn, config.prefix, 'load:rebalanced', rebalance(9));
    const all = await filtered.waitForMessages(seen + 1);
    expect(JSON.parse(all.at(-1)!.data).data.moves[0].moved).toBe(9);
    // A later event of another type reaches an unfiltered reader, so the filtered one has had its chance.
    const everything = await openSse(`${base}/api/events?backlog=2`);
    expect((await everything.waitForMessages(2)).map((m) => m.event)).toEqual(['health:alert', 'load:rebalanced']);
    expect(filtered.messages.filter((m) => m.event !== 'load:rebalanced')).toEqual([]);
    filtered.close();
    everything.close();
    await until(async () => (await eventConnections()) === 0, 10_000, 'no reader left behind');
  });

  it('is fed only valid events: publishEvent refuses a malformed one and writes nothing', async () => {
    const key = `${config.prefix}:{swarm}:events`;
    const before = await conn.xlen(key);
    // Cast: the malformed data is the point; TypeScript would refuse it at compile time.
    const bad = { at: Date.now(), host: 'h1', severity: 'apocalyptic', reason: 'x' } as unknown as Parameters<typeof publishEvent<'health:alert'>>[3];
    await expect(publishEvent(conn, config.prefix, 'health:alert', bad)).rejects.toThrow(/malformed health:alert.*severity/);
    expect(await conn.xlen(key)).toBe(before);
  });

  it('serves at most eventsMaxStreams streams at once (each holds a Redis connection): 429 past that, until one closes', async () => {
    const three = await Promise.all([1, 2, 3].map(() => openSse(`${base}/api/events`)));
    expect(three.map((s) => s.status)).toEqual([200, 200, 200]);
    const fourth = await fetch(`${base}/api/events`);
    expect(fourth.status).toBe(429);
    expect(((await fourth.json()) as { error: { code: string } }).error.code).toBe('too_many_requests');
    three[0]!.close();
    await until(async () => {
      const res = await fetch(`${base}/api/events`);
      await res.body?.cancel();
      return res.status === 200;
    }, 10_000, 'a stream slot freed by the closed one');
  });

  it('refuses a bad query or Last-Event-ID with a 400 JSON error and opens no connection', async () => {
    for (const [path, headers] of [
      ['/api/events?types=nope', {}],
      ['/api/events?types=', {}],
      ['/api/events?backlog=5000', {}],
      ['/api/events?from=yesterday', {}],
      ['/api/events', { 'last-event-id': 'not-an-id' }],
    ] as [string, Record<string, string>][]) {
      const res = await fetch(base + path, { headers });
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    }
    expect(await eventConnections()).toBe(0);
  });
});
