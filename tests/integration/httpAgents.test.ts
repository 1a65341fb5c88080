// HTTP agents against real services: the Node and the Python example, each
// started as a child process on a free port, serving task types of one
// in-process swarm. Tasks complete, a 5xx is retried, a 4xx fails at once, a
// timed-out task's request is closed (the service sees it), progress lines
// arrive in order, a 429 asks for a delay, the services refuse a request whose
// signature is wrong or stale, and an endpoint that does not answer isolates
// its agents through their breakers.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentHost, type BreakerAlert } from '../../src/agents/host.ts';
import { httpProcessor } from '../../src/agents/httpAgent.ts';
import { signature } from '../../src/agents/httpSignature.ts';
import { RetryLaterError } from '../../src/agents/retryLater.ts';
import type { TaskContext } from '../../src/agents/processor.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { silentLogger } from '../../src/log.ts';
import { spawnCli } from '../support/cli.ts';
import { freePort, redisForFile, uniquePrefix } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

const SECRET = randomBytes(24).toString('hex');
const redis = redisForFile();

interface Service {
  name: 'node' | 'python';
  url: string;
  events: { event: string; taskId?: string; why?: string }[];
  stop(): Promise<void>;
}

const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
const PYTHON_MISSING =
  python.error || python.status !== 0
    ? 'python3 is not on PATH, so the Python example agent (examples/python-agent) is NOT tested: install Python 3 (apt-get install python3, brew install python) and run this file again'
    : undefined;

async function startService(name: Service['name']): Promise<Service> {
  const port = await freePort();
  const file = fileURLToPath(new URL(name === 'node' ? '../../examples/node-agent/server.mjs' : '../../examples/python-agent/server.py', import.meta.url));
  const child: ChildProcess = spawn(name === 'node' ? process.execPath : 'python3', [file], { env: { ...process.env, SWARMQ_AGENT_SECRET: SECRET, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Service['events'] = [];
  let stderr = '';
  let buffered = '';
  child.stdout!.on('data', (c: Buffer) => {
    buffered += c.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const l of lines) {
      if (!l.trim()) continue;
      try {
        events.push(JSON.parse(l) as Service['events'][number]);
      } catch {
        // Kept, so a test that counts events sees the garbled line rather than the process dying on it.
        events.push({ event: 'unreadable', why: l });
      }
    }
  });
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await until(async () => events.some((e) => e.event === 'listening') || child.exitCode !== null, 10_000, `the ${name} example to listen`);
  if (child.exitCode !== null) throw new Error(`the ${name} example exited with ${child.exitCode}: ${stderr}`);
  return {
    name,
    url: `http://127.0.0.1:${port}/run`,
    events,
    async stop() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

const services: Partial<Record<Service['name'], Service>> = {};
let stack: Stack | undefined;
const typeOf = (s: Service['name']) => `write-${s}`;
const started = () => Object.values(services).filter((s): s is Service => s !== undefined);

beforeAll(async () => {
  services.node = await startService('node');
  if (!PYTHON_MISSING) services.python = await startService('python');
  const endpoints = Object.fromEntries(started().map((s) => [typeOf(s.name), s.url]));
  stack = await startStack(testConfig(redis, { agents: { endpointSecret: SECRET } }), { agents: [{ type: 'writer', count: 4 }], endpoints, hostId: 'ha' });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
  await Promise.all(started().map((s) => s.stop()));
});

async function submit(type: string, payload: unknown, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await stack!.request('POST', '/api/tasks', { type, payload, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return (res.body as { id: string }).id;
}

async function finished(id: string): Promise<{ state: string; result: any; error: string | null; attempts: number; agentId: string | null; progress: unknown }> {
  return await until(async () => {
    const res = await stack!.request('GET', `/api/tasks/${id}`);
    return res.body.state === 'completed' || res.body.state === 'failed' ? res.body : undefined;
  }, 15_000, `task ${id} to finish`);
}

function ctxFor(taskId: string, signal = new AbortController().signal): TaskContext {
  return { taskId, agentId: 'direct-a1', nodeId: 'n0', attempt: 1, signal, progress: () => {}, usage: async () => ({ task: null, key: null }) };
}

for (const name of ['node', 'python'] as const) {
  describe(`the ${name} example agent`, () => {
    const service = () => {
      if (name === 'python' && PYTHON_MISSING) throw new Error(PYTHON_MISSING);
      return services[name]!;
    };

    it('runs tasks for the swarm: results recorded with the agent that ran them', async () => {
      const s = service();
      const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => submit(typeOf(name), { text: `doc ${i}` })));
      const tasks = await Promise.all(ids.map(finished));
      for (const [i, t] of tasks.entries()) {
        expect(t.state).toBe('completed');
        expect(t.result).toMatchObject({ written: `DOC ${i}`, type: typeOf(name), attempt: 1, by: name, agentId: t.agentId });
      }
      expect(new Set(tasks.map((t) => t.agentId)).size).toBeGreaterThan(1);
      expect(s.events.filter((e) => e.event === 'refused' || e.event === 'unreadable')).toEqual([]);
    });

    it('retries a 5xx, and fails a 4xx at once with the body as the error', async () => {
      service();
      const retried = await finished(await submit(typeOf(name), { failAttempts: 2 }, { attempts: 3 }));
      expect(retried.state).toBe('completed');
      expect(retried.result.attempt).toBe(3);
      const refused = await finished(await submit(typeOf(name), { reject: 'no such document' }, { attempts: 3 }));
      expect(refused.state).toBe('failed');
      expect(refused.attempts).toBe(1);
      expect(refused.error).toContain('answered 422');
      expect(refused.error).toContain('no such document');
    });

    it('closes the request when the task times out, and the service sees it', async () => {
      const s = service();
      const id = await submit(typeOf(name), { sleepMs: 10_000 }, { timeoutMs: 300, attempts: 1 });
      const t = await finished(id);
      expect(t.state).toBe('failed');
      expect(t.error).toContain('timed out');
      await until(async () => s.events.some((e) => e.event === 'aborted' && e.taskId === id), 3000, `the ${name} service to see task ${id} aborted`);
      expect(s.events.some((e) => e.event === 'done' && e.taskId === id)).toBe(false);
    });

    it('streams progress lines to onProgress in order, then the result; in the swarm the streamed result and the last progress are recorded', async () => {
      const s = service();
      const seen: unknown[] = [];
      const p = httpProcessor({ type: typeOf(name), endpoint: s.url, secret: SECRET, timeoutMs: 5000, maxSockets: 2, onProgress: (ctx, v) => seen.push({ task: ctx.taskId, v }) });
      try {
        const result = await p({ progress: 5, stepMs: 5, text: 'streamed' }, ctxFor(`direct-${name}-1`));
        expect(seen).toEqual([1, 2, 3, 4, 5].map((step) => ({ task: `direct-${name}-1`, v: { step, of: 5 } })));
        expect(result).toMatchObject({ written: 'STREAMED', by: name });
      } finally {
        p.close();
      }
      const t = await finished(await submit(typeOf(name), { progress: 3, text: 'swarm' }));
      expect(t.state).toBe('completed');
      expect(t.result).toMatchObject({ written: 'SWARM', by: name });
      // The host hands the service's progress lines to ctx.progress: the task keeps the last one.
      expect(t.progress).toEqual({ step: 3, of: 3 });
    });

    it('turns a 429 with Retry-After into a RetryLaterError carrying the delay', async () => {
      const s = service();
      const p = httpProcessor({ type: typeOf(name), endpoint: s.url, secret: SECRET, timeoutMs: 5000, maxSockets: 1 });
      try {
        const err = await Promise.resolve(p({ rateLimitSeconds: 2 }, ctxFor(`direct-${name}-429`))).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(RetryLaterError);
        expect((err as RetryLaterError).delayMs).toBe(2000);
        expect((err as Error).message).toContain('answered 429');
      } finally {
        p.close();
      }
    });

    // Skipped until the node runner maps RetryLaterError (src/agents/retryLater.ts: handBackLater in its catch,
    // before the breaker judges); with that mapping it passes, without it the task fails: drop `.skip` then.
    it('429 delays the task in the swarm without spending an attempt', async () => {
      service();
      const t0 = Date.now();
      // One attempt only: had the 429 spent it, the task would fail.
      const t = await finished(await submit(typeOf(name), { rateLimitSeconds: 1, text: 'later' }, { attempts: 1 }));
      expect(t.state).toBe('completed');
      expect(t.result).toMatchObject({ written: 'LATER', attempt: 1 });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    });

    it('refuses a request with a wrong or stale signature, and takes a good one', async () => {
      const s = service();
      const body = JSON.stringify({ taskId: `sig-${name}`, type: typeOf(name), payload: { text: 'x' }, attempt: 1, agentId: 'a', nodeId: 'n', deadline: Date.now() + 5000 });
      const post = (ts: number, secret: string) =>
        fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-swarmq-timestamp': String(ts), 'x-swarmq-signature': signature(secret, ts, body), 'idempotency-key': `sig-${name}-${ts}` }, body });
      const before = s.events.filter((e) => e.event === 'refused').length;
      const wrong = await post(Date.now(), `${SECRET}x`);
      expect(wrong.status).toBe(401);
      expect(await wrong.json()).toEqual({ error: 'bad signature' });
      const stale = await post(Date.now() - 10 * 60_000, SECRET);
      expect(stale.status).toBe(401);
      expect(await stale.json()).toEqual({ error: 'stale x-swarmq-timestamp' });
      // Signed for another timestamp than the one sent (one clock reading: two could straddle a millisecond and agree).
      const now = Date.now();
      const tampered = await fetch(s.url, { method: 'POST', headers: { 'x-swarmq-timestamp': String(now), 'x-swarmq-signature': signature(SECRET, now - 1, body) }, body });
      expect(tampered.status).toBe(401);
      // The service logs each refusal on stdout, read here as it arrives: after its answer, possibly.
      await until(async () => s.events.filter((e) => e.event === 'refused').length >= before + 3 || undefined, 5000, 'the service to log its three refusals');
      expect(s.events.filter((e) => e.event === 'refused').length).toBe(before + 3);
      const good = await post(Date.now(), SECRET);
      expect(good.status).toBe(200);
      expect(await good.json()).toMatchObject({ written: 'X', by: name });
    });
  });
}

describe('an endpoint that does not answer', () => {
  it("fails its tasks as retriable, naming the endpoint, and its agents' breakers isolate them", async () => {
    const dead = `http://127.0.0.1:${await freePort()}/run`;
    const config = testConfig(redis, { agents: { endpointSecret: SECRET, breakerFailures: 3, breakerCooldownMs: 60_000 } });
    const alerts: BreakerAlert[] = [];
    const host = new AgentHost({ config, hostId: 'dead', agents: [{ type: 'writer', count: 2 }], processors: {}, endpoints: { ghost: dead }, logger: silentLogger });
    host.on('breaker', (a) => alerts.push(a));
    await host.start();
    const client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
    try {
      const ids = await Promise.all(Array.from({ length: 6 }, () => client.submit({ type: 'ghost', attempts: 1 })));
      const tasks = await Promise.all(ids.slice(0, 1).map((s) => client.waitFor(s.id, { timeoutMs: 10_000 })));
      expect(tasks[0]!.state).toBe('failed');
      expect(tasks[0]!.error).toContain(`HTTP agent ${dead} could not be reached`);
      expect(tasks[0]!.error).toContain('ECONNREFUSED');
      await until(async () => alerts.filter((a) => a.reason === 'isolated').length === 2, 10_000, 'both agents isolated');
      expect(alerts.map((a) => a.agent).sort()).toEqual(['dead-a1', 'dead-a2']);
    } finally {
      await client.close();
      await host.stop(500);
    }
  }, 30_000);
});

describe('swarmq agents --endpoint', () => {
  it('serves a task type with 20 agents whose work the Python example does, end to end', async () => {
    if (PYTHON_MISSING) throw new Error(PYTHON_MISSING);
    const prefix = uniquePrefix('cli-http');
    const cli = spawnCli(['agents', '--redis-url', redis.url, '--prefix', prefix, '--count', '20', '--type', 'writer', '--host-id', 'py', '--endpoint', services.python!.url], {
      env: { SWARMQ_AGENT_SECRET: SECRET, SWARMQ_HEARTBEAT_INTERVAL_MS: '200' },
    });
    const client = new SwarmClient({ redis: redis.url, prefix });
    try {
      await cli.waitFor(/agent host ready/, 20_000);
      const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => client.submit({ type: 'writer', payload: { text: `page ${i}` } })));
      const tasks = await Promise.all(ids.map((t) => client.waitFor(t.id, { timeoutMs: 20_000 })));
      expect(tasks.map((t) => t.state)).toEqual(ids.map(() => 'completed'));
      expect(tasks.map((t) => (t.result as { written: string; by: string }).written)).toEqual(ids.map((_, i) => `PAGE ${i}`));
      expect(new Set(tasks.map((t) => t.agentId)).size).toBeGreaterThan(1);
      expect(tasks.every((t) => t.agentId?.startsWith('py-'))).toBe(true);
    } finally {
      await client.close();
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
  }, 60_000);

  it('exits 1 naming the secret to set when none is given', async () => {
    const cli = spawnCli(['agents', '--redis-url', redis.url, '--prefix', uniquePrefix('cli-http'), '--endpoint', 'http://127.0.0.1:1/run'], { env: { SWARMQ_AGENT_SECRET: '' } });
    expect((await cli.exited).code).toBe(1);
    expect(cli.output()).toMatch(/SWARMQ_AGENT_SECRET or SWARMQ_AGENT_SECRET_FILE/);
  }, 30_000);
});

describe('the host refuses HTTP agents without a secret', () => {
  it('says which variable to set', () => {
    const config = testConfig(redis);
    expect(() => new AgentHost({ config, processors: {}, endpoints: { ghost: 'http://127.0.0.1:1/run' }, logger: silentLogger })).toThrow(/SWARMQ_AGENT_SECRET or SWARMQ_AGENT_SECRET_FILE/);
  });
});
