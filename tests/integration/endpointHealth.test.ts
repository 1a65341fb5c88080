// An HTTP agent answers for its endpoint: a service that stops answering turns
// its agents degraded, then failed, like a silent host (GET /api/health, GET
// /api/agents, a health:alert), while the host stays healthy and nothing is
// recovered; when it answers again they are healthy. A service refusing tasks
// with 4xx is up: its agents are not isolated. A real swarm on a real Redis,
// the service a local server each test drives.
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { BreakerAlert } from '../../src/agents/host.ts';
import { swarmKeys } from '../../queues/keys.ts';
import type { HealthAlert, HostHealth } from '../../src/health/monitor.ts';
import { parseEventEntry, type StreamEntry } from '../../src/swarm/events.ts';
import type { SwarmConfigInput } from '../../src/config/schema.ts';
import { monitorCommands, type MonitoredCommand } from '../support/monitor.ts';
import { redisForFile } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

const SECRET = randomBytes(24).toString('hex');
const redis = redisForFile();

type Mode = 'ok' | 'reset' | '503' | '422';

/** The user's service: answers as `mode` says, counting requests. */
async function startService(): Promise<{ url: string; mode: Mode; requests: number; close(): Promise<void> }> {
  const state = { mode: 'ok' as Mode, requests: 0 };
  const server: Server = createServer((req, res) => {
    state.requests++;
    req.resume();
    req.on('end', () => {
      if (state.mode === 'reset') req.socket.destroy();
      else if (state.mode === 'ok') res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      else res.writeHead(Number(state.mode)).end(state.mode === '422' ? 'no such document' : 'unavailable');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/run`;
  return Object.assign(state, {
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  });
}

// Short thresholds, so a silence fails within 1.5 s; beats every 50 ms keep the host itself far from degraded.
const THRESHOLDS = { degradedAfterMs: 500, criticalAfterMs: 1000, failedAfterMs: 1500 };
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function swarmWith(service: { url: string }, agents: Partial<SwarmConfigInput['agents']>, hostId: string): Promise<Stack> {
  const config = testConfig(redis, { agents: { endpointSecret: SECRET, heartbeatIntervalMs: 50, ...THRESHOLDS, ...agents }, coordinator: { livenessIntervalMs: 50 } });
  const stack = await startStack(config, { agents: [{ type: 'probe', count: 2 }], endpoints: { probe: { url: service.url, timeoutMs: 1000 } }, hostId });
  closers.push(() => stack.stop());
  return stack;
}

async function submit(stack: Stack, n: number): Promise<string[]> {
  return await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const res = await stack.request('POST', '/api/tasks', { type: 'probe', payload: { i }, attempts: 1 });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      return (res.body as { id: string }).id;
    }),
  );
}

async function finished(stack: Stack, id: string): Promise<{ state: string; error: string | null }> {
  return await until(async () => {
    const res = await stack.request('GET', `/api/tasks/${id}`);
    return res.body.state === 'completed' || res.body.state === 'failed' ? res.body : undefined;
  }, 15_000, `task ${id} to finish`);
}

async function hostHealth(stack: Stack, host: string): Promise<HostHealth | undefined> {
  const res = await stack.request('GET', '/api/health');
  return (res.body.hosts as HostHealth[]).find((h) => h.host === host);
}

describe("an HTTP agent's endpoint that stops answering", () => {
  it('turns its agents degraded then failed, alerts, recovers nothing, and they are healthy once it answers again', async () => {
    const service = await startService();
    closers.push(() => service.close());
    const stack = await swarmWith(service, { breakerFailures: 2, breakerCooldownMs: 400 }, 'eh1');
    const alerts: HealthAlert[] = [];
    stack.coordinator.health.on('health:alert', (a) => alerts.push(a));
    let recoveries = 0;
    stack.coordinator.health.on('recovery', () => recoveries++);
    let rejoined = 0;
    stack.host!.on('rejoined', () => rejoined++);
    const silenceKey = swarmKeys(stack.config.prefix).endpointSilence;

    for (const id of await submit(stack, 4)) expect((await finished(stack, id)).state).toBe('completed');
    const commands: MonitoredCommand[] = [];
    const feed = await monitorCommands(redis.url, (c) => {
      // Writes only: the monitor reads the key every round.
      if (c.args[0] === silenceKey && (c.cmd === 'hset' || c.cmd === 'hdel')) commands.push(c);
    });
    closers.push(async () => feed.stop());
    // While every endpoint answers, a beat carries no endpoint silence: ten beats, no write to its key.
    await new Promise((r) => setTimeout(r, 500));
    expect(commands).toEqual([]);
    expect(await hostHealth(stack, 'eh1')).toMatchObject({ state: 'healthy' });
    expect(await hostHealth(stack, 'eh1')).not.toHaveProperty('endpoints');

    service.mode = 'reset';
    const failedAt = Date.now();
    for (const id of await submit(stack, 4)) expect((await finished(stack, id)).error).toMatch(/could not be reached/);
    const seen = new Set<string>();
    const failed = await until(async () => {
      const h = await hostHealth(stack, 'eh1');
      const e = h?.endpoints?.[0];
      if (e) seen.add(e.state);
      return e?.state === 'failed' ? h : undefined;
    }, 10_000, 'the endpoint to be failed');
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(THRESHOLDS.failedAfterMs - 100);
    expect(seen.has('degraded')).toBe(true);
    // The host beats on: its own state is untouched.
    expect(failed).toMatchObject({ host: 'eh1', state: 'healthy', connection: 'open', agents: 2 });
    expect(failed!.endpoints).toEqual([expect.objectContaining({ url: service.url, types: ['probe'], state: 'failed', agents: 2 })]);
    expect(failed!.endpoints![0]!.silentForMs).toBeGreaterThanOrEqual(THRESHOLDS.failedAfterMs);

    const failedAgents = await stack.request('GET', '/api/agents?state=failed');
    expect(failedAgents.body.matched).toBe(2);
    for (const a of failedAgents.body.agents) {
      expect(a.hostId).toBe('eh1');
      expect(a.endpoints).toEqual([{ url: service.url, state: 'failed' }]);
    }
    expect((await stack.request('GET', '/api/agents?state=healthy')).body.matched).toBe(0);
    // Live: the host's heartbeat is recent.
    expect((await stack.request('GET', '/api/agents?state=live')).body.matched).toBe(2);
    expect((await stack.request('GET', '/api/summary')).body.agents.byHealth).toMatchObject({ healthy: 0, failed: 2 });

    const endpointAlerts = alerts.filter((a) => a.reason === 'endpoint');
    expect(endpointAlerts.map((a) => a.to)).toEqual(expect.arrayContaining(['degraded', 'failed']));
    expect(endpointAlerts.at(-1)).toMatchObject({ host: 'eh1', endpoint: service.url, agents: 2, to: 'failed', severity: 'critical' });
    expect(alerts.filter((a) => a.reason !== 'endpoint' && a.reason !== 'predicted-degradation')).toEqual([]);
    // On the events stream, the endpoint named, through the alert's schema.
    const entries = (await redis.connection.xrange(swarmKeys(stack.config.prefix).events, '-', '+')) as StreamEntry[];
    const streamed = entries.map(parseEventEntry).flatMap((p) => (p.ok && p.event.type === 'health:alert' && p.event.data.reason === 'endpoint' ? [p.event.data] : []));
    expect(streamed.at(-1)).toMatchObject({ host: 'eh1', endpoint: service.url, to: 'failed', agents: 2 });

    // Written when the silence began (and when an earlier-sent request's failure moved it back), not every beat.
    const writes = commands.length;
    expect(writes).toBeGreaterThanOrEqual(1);
    expect(writes).toBeLessThanOrEqual(4);
    expect(commands.every((c) => c.cmd === 'hset')).toBe(true);
    await new Promise((r) => setTimeout(r, 400));
    expect(commands.length).toBe(writes);

    // Not a failed host: no recovery, no failed mark, no rejoin, its agents still in the roster.
    expect(recoveries).toBe(0);
    expect(await redis.connection.hexists(swarmKeys(stack.config.prefix).failedHosts, 'eh1')).toBe(0);
    expect(await redis.connection.hlen(swarmKeys(stack.config.prefix).recoveries)).toBe(0);
    expect(rejoined).toBe(0);
    expect((await stack.request('GET', '/api/agents?host=eh1')).body.matched).toBe(2);

    // It answers again: the agents come back from their breakers' cool-down, run tasks, and are healthy.
    service.mode = 'ok';
    for (const id of await submit(stack, 2)) expect((await finished(stack, id)).state).toBe('completed');
    await until(async () => {
      const h = await hostHealth(stack, 'eh1');
      return h && !h.endpoints;
    }, 5000, 'the endpoint to answer again');
    expect((await stack.request('GET', '/api/agents?state=healthy')).body.matched).toBe(2);
    expect(alerts.filter((a) => a.reason === 'endpoint').at(-1)).toMatchObject({ endpoint: service.url, from: 'failed', to: 'healthy', severity: 'info', agents: 2, silentForMs: 0 });
    expect(commands.at(-1)).toMatchObject({ cmd: 'hdel', args: [silenceKey, 'eh1'] });
    expect(await redis.connection.hexists(silenceKey, 'eh1')).toBe(0);
    expect(recoveries).toBe(0);
  }, 40_000);

  it('a host that leaves takes its endpoint silence with it', async () => {
    const service = await startService();
    closers.push(() => service.close());
    const stack = await swarmWith(service, {}, 'eh3');
    const silenceKey = swarmKeys(stack.config.prefix).endpointSilence;
    service.mode = '503';
    for (const id of await submit(stack, 2)) expect((await finished(stack, id)).error).toMatch(/answered 503/);
    await until(async () => (await redis.connection.hexists(silenceKey, 'eh3')) === 1, 5000, 'the silence to be published');
    await stack.host!.stop(1000);
    expect(await redis.connection.hexists(silenceKey, 'eh3')).toBe(0);
  }, 30_000);
});

describe('a service refusing tasks with 4xx', () => {
  it("is up: the refusals fail the tasks, not the agents (no isolation, no silence); 5xx still isolate", async () => {
    const service = await startService();
    closers.push(() => service.close());
    const stack = await swarmWith(service, { breakerFailures: 2, breakerCooldownMs: 60_000 }, 'eh2');
    const breakers: BreakerAlert[] = [];
    stack.host!.on('breaker', (a) => breakers.push(a));

    service.mode = '422';
    for (const id of await submit(stack, 6)) expect((await finished(stack, id))).toMatchObject({ state: 'failed', error: expect.stringMatching(/answered 422 for task .*: no such document/) });
    expect(breakers).toEqual([]);
    expect(await redis.connection.hexists(swarmKeys(stack.config.prefix).endpointSilence, 'eh2')).toBe(0);
    // Listed once the health view has read the host (a loaded machine may not have yet): then with no endpoint problem.
    const health = await until(async () => await hostHealth(stack, 'eh2'), 5000, 'host eh2 in /api/health');
    expect(health).not.toHaveProperty('endpoints');

    // Neither agent is isolated (a 60 s cool-down would hold these tasks).
    service.mode = 'ok';
    for (const id of await submit(stack, 4)) expect((await finished(stack, id)).state).toBe('completed');

    // The same series of 503s isolates both agents: the breaker counts what is the agent's (its service's) fault.
    service.mode = '503';
    for (const id of await submit(stack, 4)) expect((await finished(stack, id)).error).toMatch(/answered 503/);
    await until(async () => breakers.filter((b) => b.reason === 'isolated').length === 2, 5000, 'both agents isolated');
  }, 30_000);
});
