// A redis-server that keeps nothing on disk, killed and started again empty:
// everything the swarm wrote is gone, its roster with it. The processes that
// were running carry on without a restart: the host finds its heartbeat's record
// gone with no failure mark beside it (the health monitor writes one whenever it
// takes a host out), registers its agents again, and new tasks run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { swarmKeys } from '../../queues/keys.ts';
import { launchRedisServer, type RedisServer } from '../../src/cli/redisServer.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

let dir: string;
let server: RedisServer;
let stack: Stack;
let client: SwarmClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'swarmq-redis-lost-'));
  server = await launchRedisServer({ dir, appendonly: false, readyTimeoutMs: 10_000 });
  const config = testConfig({ url: server.url } as never);
  stack = await startStack(config, { agents: [{ type: 'worker', count: 2, capacity: 1 }], hostId: 'hl' });
  client = new SwarmClient({ redis: server.url, prefix: config.prefix });
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
  await server?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('Redis started again with none of its data', () => {
  it('the host registers its agents again and new tasks run, over the client and over HTTP', async () => {
    const before = await client.submit({ type: 'echo', payload: 1 });
    expect((await client.waitFor(before.id, { timeoutMs: 10_000 })).state).toBe('completed');
    let rejoined = 0;
    stack.host!.on('rejoined', () => rejoined++);
    const versionKey = swarmKeys(stack.config.prefix).rosterVersion;
    const admin = new Redis(server.url, { maxRetriesPerRequest: null });
    admin.on('error', () => {});
    const versionBefore = await admin.get(versionKey);
    // BullMQ prints a connection error to stderr from any queue or worker with no 'error' listener: none may be left without.
    const printed: unknown[][] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void printed.push(a));

    await server.kill('SIGKILL');
    await server.start();
    // Gone with the rest, once the client has its connection back: this server kept nothing.
    await until(async () => (await client.get(before.id).catch(() => undefined)) === null, 10_000, 'the client to reconnect');

    // Refused while the roster read is empty, until the host has registered again.
    let refusals = 0;
    let after = '';
    await until(
      async () => {
        try {
          const s = await client.submit({ type: 'echo', payload: 2 });
          after = s.id;
          return true;
        } catch (err) {
          refusals++;
          if (!/no agent in this swarm runs tasks of type|Stream isn't writeable/.test((err as Error).message)) throw err;
          return false;
        }
      },
      20_000,
      'a submit to be accepted after the data was lost',
    );
    // Accepted (the client may still route on the roster it read before the loss, and the old Workers still take
    // work until the host's next beat) and run.
    expect((await client.waitFor(after, { timeoutMs: 10_000 })).state).toBe('completed');
    await until(async () => rejoined > 0, 10_000, 'the host to register fresh agents');
    const afterRejoin = await client.submit({ type: 'echo', payload: 2 });
    expect((await client.waitFor(afterRejoin.id, { timeoutMs: 10_000 })).state).toBe('completed');
    expect(rejoined).toBe(1);
    // Routers re-read the roster when its version differs: after the loss it must not count up to the one they held.
    expect(await admin.get(versionKey)).not.toBe(versionBefore);
    admin.disconnect();
    // The coordinator's connections come back on their own backoff: until then a 503 that says to retry.
    let viaHttp = await stack.request('POST', '/api/tasks', { type: 'echo', payload: 3 });
    await until(
      async () => {
        if (viaHttp.status === 202) return true;
        expect(viaHttp.body.error.code, JSON.stringify(viaHttp.body)).toBe('redis_unavailable');
        viaHttp = await stack.request('POST', '/api/tasks', { type: 'echo', payload: 3 });
        return false;
      },
      10_000,
      'the coordinator to take a task over HTTP',
    );
    expect((await client.waitFor(String(viaHttp.body.id), { timeoutMs: 10_000 })).state).toBe('completed');
    const agents = await stack.request('GET', '/api/agents');
    expect(agents.status).toBe(200);
    expect(agents.body.total).toBe(2); // the fresh ones: what was left of the old is gone
    spy.mockRestore();
    expect(printed.map((a) => a.map(String).join(' '))).toEqual([]);
    console.log(`data lost: ${refusals} submits refused before the host registered again`);
  }, 60_000);
});
