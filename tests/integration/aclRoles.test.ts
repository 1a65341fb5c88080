// A swarm whose every process runs under its role's Redis ACL user
// (src/security/aclRules.ts), on a redis-server of this file's own whose
// `default` user needs a password: a coordinator with its consensus driver,
// two agent hosts, a producer (SwarmClient and a plain BullMQ intake job) and
// an operator (status, checkpoint). Tasks, a replicated task and a proposal
// complete with no ACL refusal logged and no connection left without its
// user; then each role is shown what it is refused.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinProcessors } from '../../processors/builtins.ts';
import { controlQueueName, CONSENSUS_QUEUE, INTAKE_QUEUE, keyStateKeys, swarmKeys } from '../../queues/keys.ts';
import { AgentHost } from '../../src/agents/host.ts';
import { checkpointToFile } from '../../src/checkpoint/cli.ts';
import { statusReport } from '../../src/cli/status.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { consensusKeys } from '../../src/consensus/runtime/keys.ts';
import { Consensus } from '../../src/consensus/runtime/consensus.ts';
import { silentLogger } from '../../src/log.ts';
import { aclUserName, type AclRole } from '../../src/security/aclRules.ts';
import { aclUser, passwordHash, swarmRoles } from '../../src/security/aclUsers.ts';
import { startLocalRedis, type TestRedis } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

const ADMIN = 'acl-test-admin';
const adminPassword = randomBytes(12).toString('hex');
let server: TestRedis;
let admin: Redis;
let prefix: string;
const passwords = new Map<string, string>();
const opened: Redis[] = [];

let stack: Stack;
let driver: Consensus;
let hosts: AgentHost[] = [];
let producer: SwarmClient;

function urlOf(role: AclRole): string {
  const user = aclUserName(prefix, role);
  return `redis://${user}:${passwords.get(user)}@127.0.0.1:${server.port}`;
}

/** A plain connection as a role's user, for the refusals. */
function connectAs(role: AclRole): Redis {
  const r = new Redis(urlOf(role), { maxRetriesPerRequest: null, lazyConnect: true });
  r.on('error', () => {});
  opened.push(r);
  return r;
}

const host = (hostId: string): AclRole => ({ kind: 'host', hostId });
const configFor = (role: AclRole) =>
  testConfig(server, { redisUrl: urlOf(role), prefix, agents: { heartbeatIntervalMs: 200, hibernateAfterMs: 400 } });

beforeAll(async () => {
  server = await startLocalRedis();
  prefix = server.prefix;
  admin = new Redis(server.url, { connectionName: ADMIN });
  // Nobody gets in without a user of their own: a connection that lost its credentials fails.
  await admin.call('ACL', 'SETUSER', 'default', 'resetpass', `>${adminPassword}`);
  for (const role of swarmRoles(['h1', 'h2'])) {
    const password = randomBytes(16).toString('hex');
    const u = aclUser(prefix, role, passwordHash(password));
    passwords.set(u.name, password);
    await admin.call('ACL', 'SETUSER', u.name, ...u.words);
  }
  await admin.call('ACL', 'LOG', 'RESET');

  stack = await startStack(configFor({ kind: 'coordinator' }));
  driver = new Consensus({ redis: urlOf({ kind: 'coordinator' }), prefix });
  await driver.drive();
  hosts = ['h1', 'h2'].map(
    (id) => new AgentHost({ config: configFor(host(id)), hostId: id, agents: [{ type: 'worker', count: 3, capacity: 2, capabilities: [] }], processors: builtinProcessors, logger: silentLogger }),
  );
  for (const h of hosts) await h.start();
  producer = new SwarmClient({ redis: urlOf({ kind: 'producer' }), prefix });
}, 30_000);

afterAll(async () => {
  for (const c of opened) c.disconnect();
  await producer?.close();
  await driver?.close();
  await stack?.stop();
  for (const h of hosts) await h.stop(1000);
  admin?.disconnect();
  await server?.stop();
});

/** ACL LOG entries: what Redis refused, and to whom. */
async function refusals(): Promise<{ username: string; object: string; reason: string }[]> {
  const log = (await admin.call('ACL', 'LOG')) as unknown[][];
  return log.map((entry) => {
    const fields = new Map<string, unknown>();
    for (let i = 0; i + 1 < entry.length; i += 2) fields.set(String(entry[i]), entry[i + 1]);
    return { username: String(fields.get('username')), object: String(fields.get('object')), reason: String(fields.get('reason')) };
  });
}

describe('a swarm with one Redis user per role', () => {
  it('runs tasks, a batch, an intake job, a replicated task and a proposal with nothing refused', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await producer.submit({ type: 'echo', payload: i, idempotencyKey: `acl-${i}` })).id);
    ids.push(...(await producer.submitBatch([{ type: 'echo', payload: 'a' }, { type: 'echo', payload: 'b' }])).ids);
    for (const id of ids) expect(await producer.waitFor(id, { timeoutMs: 15_000 })).toMatchObject({ state: 'completed' });

    // Hosts hibernate when idle, and a waker connection, under the host's user, watches their nodes' queues.
    await until(async () => hosts.every((h) => h.hibernatingNodes().length > 0), 10_000, 'both hosts to hibernate their nodes');
    // A host's waker connects just after its nodes hibernate: wait for both hosts' wakers rather than read the list once.
    const expected = [aclUserName(prefix, host('h1')), aclUserName(prefix, host('h2'))];
    const wakers = await until(async () => {
      const users = [...String(await admin.client('LIST')).matchAll(/ name=swarmq:waker:(\S+) .* user=(\S+)/g)].map((m) => m[2]);
      return expected.every((u) => users.includes(u)) ? users : undefined;
    }, 10_000, "both hosts' wakers to connect under their own users");
    expect(wakers).toEqual(expect.arrayContaining(expected));
    const late = await producer.submit({ type: 'echo', payload: 'late' });
    expect(await producer.waitFor(late.id, { timeoutMs: 15_000 })).toMatchObject({ state: 'completed', result: 'late' });

    const parked = await producer.submit({ type: 'echo', payload: 'never', waitForAgent: true, affinity: { agentType: 'nobody-runs-this' } });
    expect(await producer.cancel(parked.id)).toMatchObject({ state: 'cancelled' });

    const intake = new Queue(INTAKE_QUEUE, { prefix, connection: connectAs({ kind: 'producer' }) });
    try {
      const job = await intake.add('echo', { hello: 'acl' });
      const routed = await until(async () => ((await intake.getJob(job.id!))?.returnvalue as { id: string } | null) ?? undefined, 10_000, 'the intake job to be routed');
      expect(await producer.waitFor(routed.id, { timeoutMs: 15_000 })).toMatchObject({ state: 'completed', result: { hello: 'acl' } });
    } finally {
      await intake.close();
    }

    // Keys: limits set through the coordinator's API, keyed tasks submitted by the producer and gated by the hosts
    // (a held one brought back when a slot frees), a waiting keyed task cancelled by the producer.
    expect((await stack.request('PUT', '/api/keys/acl-key/limits', { maxActive: 1, rate: '100/s', weight: 2 })).status).toBe(200);
    const keyed = await Promise.all(Array.from({ length: 4 }, (_, i) => producer.submit({ type: 'sleep', payload: { ms: 50 + i }, key: 'acl-key' })));
    for (const k of keyed) expect(await producer.waitFor(k.id, { timeoutMs: 15_000 })).toMatchObject({ state: 'completed', key: 'acl-key' });
    const keyedParked = await producer.submit({ type: 'echo', payload: 'never', key: 'acl-key', waitForAgent: true, affinity: { agentType: 'nobody-runs-this' } });
    expect(await producer.cancel(keyedParked.id)).toMatchObject({ state: 'cancelled' });
    expect((await stack.request('GET', '/api/keys/acl-key')).body).toMatchObject({ active: 0, waiting: 0, started: 4 });
    // Budgets: set through the API, usage counted by the hosts, the spent key's next submit refused by the producer's own check.
    expect((await stack.request('PUT', '/api/keys/acl-budget/budget', { tokens: 100 })).status).toBe(200);
    const spender = await producer.submit({ type: 'report-usage', payload: { tokens: 100 }, key: 'acl-budget' });
    expect(await producer.waitFor(spender.id, { timeoutMs: 15_000 })).toMatchObject({ state: 'completed', usage: { tokens: 100 } });
    await until(async () => (await producer.submit({ type: 'echo', key: 'acl-budget' }).then(() => false, (e: { code?: string }) => e.code === 'budget_exhausted')), 5000, "the producer's submit to be refused");

    const replicated = await producer.submit({ type: 'echo', payload: 'same', consensus: { protocol: 'quorum', replicas: 3 } });
    expect(await producer.waitFor(replicated.id, { timeoutMs: 20_000 })).toMatchObject({ state: 'completed', result: 'same' });

    // A task needing approval: a host parks its output, the operator (`swarmq approve` runs as it) approves it.
    const gated = await producer.submit({ type: 'echo', payload: 'gated', approval: { required: true } });
    await until(async () => (await producer.get(gated.id))?.state === 'awaiting-approval', 10_000, 'the output to await approval');
    const operatorClient = new SwarmClient({ redis: urlOf({ kind: 'operator' }), prefix, via: 'cli' });
    try {
      await operatorClient.approve(gated.id, { by: 'op' });
    } finally {
      await operatorClient.close();
    }
    expect(await producer.waitFor(gated.id, { timeoutMs: 15_000 })).toMatchObject({ state: 'completed', result: 'gated' });

    const decision = await driver.propose({ protocol: 'quorum', value: { release: 'acl' }, participants: { count: 4 }, timeoutMs: 10_000 });
    expect(decision).toMatchObject({ decided: true, value: { release: 'acl' } });

    // The coordinator spawns agents on a host through its control queue, and retires them.
    const spawned = await stack.request('POST', '/api/agents', { hostId: 'h2', type: 'worker', count: 1 });
    expect(spawned.status).toBe(201);
    const retired = await stack.request('DELETE', `/api/agents/${spawned.body.agents[0].id}`);
    expect(retired.status).toBe(200);

    // The operator's tools.
    const operator = configFor({ kind: 'operator' });
    expect(await statusReport(operator, false)).toMatch(/agents \(\d+ live\)/);
    const dir = mkdtempSync(join(tmpdir(), 'swarmq-acl-'));
    try {
      expect((await checkpointToFile(operator, join(dir, 'cp.json'))).summary).toContain('written to');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    expect(await refusals()).toEqual([]);
  }, 90_000);

  it('every connection the processes opened is under its role user', async () => {
    const list = String(await admin.client('LIST'));
    const users = [...list.matchAll(/ name=(\S*) .* user=(\S+)/g)].map((m) => ({ name: m[1]!, user: m[2]! }));
    const ours = new Set(passwords.keys());
    const strays = users.filter((u) => !ours.has(u.user) && u.name !== ADMIN);
    expect(strays).toEqual([]);
    // Each role's processes are connected (a host's Workers, waker and inbox reader among them).
    for (const role of ['coordinator', 'producer', 'host-h1', 'host-h2']) expect(users.some((u) => u.user === `${prefix}-${role}`), role).toBe(true);
  });

  it('refuses a host the lease, other hosts\' control queues and inboxes, proposals\' jobs and other prefixes', async () => {
    const h1 = connectAs(host('h1'));
    const s = swarmKeys(prefix);
    const ck = consensusKeys(prefix);
    const refused = /NOPERM|no permissions|can't access/;
    await expect(h1.set(s.lease, '999')).rejects.toThrow(refused);
    await expect(h1.set(s.leaseOwner, 'h1')).rejects.toThrow(refused);
    await expect(h1.set(s.loads, '{}')).rejects.toThrow(refused);
    await expect(h1.hset(`${prefix}:{g1}:partition`, 'owner', 'h1')).rejects.toThrow(refused);
    await expect(h1.hset(`${prefix}:{swarm}:partition:host:h2`, 'owner', 'h1')).rejects.toThrow(refused);
    await expect(h1.hset(`${prefix}:${CONSENSUS_QUEUE}:p-0123456789abcdef`, 'data', '{}')).rejects.toThrow(refused);
    await expect(h1.hset(`${ck.decided('p-0123456789abcdef').replace(':decided', ':replay:h2')}`, 'x', '1')).rejects.toThrow(refused);
    // Another host's inbox: an entry may be added (messages are sealed), nothing read or removed.
    await expect(h1.xadd(ck.inbox('h2'), '*', 'x', '1')).resolves.toEqual(expect.any(String));
    await expect(h1.xrange(ck.inbox('h2'), '-', '+')).rejects.toThrow(refused);
    await expect(h1.del(ck.inbox('h2'))).rejects.toThrow(refused);
    await expect(h1.get(`other-swarm:{swarm}:lease`)).rejects.toThrow(refused);
    await expect(h1.flushall()).rejects.toThrow(refused);
    await expect(h1.scan('0')).rejects.toThrow(refused);
    await expect(h1.call('CONFIG', 'GET', 'requirepass')).rejects.toThrow(refused);
    await expect(h1.call('FUNCTION', 'FLUSH')).rejects.toThrow(refused);
    await expect(h1.publish('anything', 'x')).rejects.toThrow(refused);
    // The swarm's list of keys' limits is the coordinator's and the operator's (a host reads a key's own copy).
    await expect(h1.hset(s.keyLimits, 'acl-key', '{}')).rejects.toThrow(refused);

    const h2Control = new Queue(controlQueueName('h2'), { prefix, connection: h1 });
    h2Control.on('error', () => {});
    try {
      await expect(h2Control.add('spawn', { type: 'worker', count: 1 })).rejects.toThrow(refused);
    } finally {
      await h2Control.close();
    }
  });

  it('refuses a producer the decision on an output awaiting approval (an operator\'s act: swarmq approve)', async () => {
    const gated = await producer.submit({ type: 'echo', payload: 'gated', approval: { required: true } });
    await until(async () => (await producer.get(gated.id))?.state === 'awaiting-approval', 10_000, 'the output to await approval');
    await expect(producer.approve(gated.id)).rejects.toThrow(/NOPERM|no permissions|can't access/);
    expect((await producer.get(gated.id))?.state).toBe('awaiting-approval');
    await admin.call('ACL', 'LOG', 'RESET');
  });

  it('refuses a producer the roster, the lease, the loads, the inboxes and proposals', async () => {
    const p = connectAs({ kind: 'producer' });
    const s = swarmKeys(prefix);
    const refused = /NOPERM|no permissions|can't access/;
    await expect(p.hset(s.agents, 'h1-a1', '{}')).rejects.toThrow(refused);
    await expect(p.zadd(s.hosts, Date.now(), 'h9')).rejects.toThrow(refused);
    await expect(p.hset(s.endpointSilence, 'h1', '{"endpoints":[]}')).rejects.toThrow(refused);
    await expect(p.set(s.lease, '999')).rejects.toThrow(refused);
    await expect(p.set(s.loads, '{}')).rejects.toThrow(refused);
    await expect(p.xadd(s.events, '*', 'type', 'x')).rejects.toThrow(refused);
    await expect(p.xadd(consensusKeys(prefix).inbox('h1'), '*', 'x', '1')).rejects.toThrow(refused);
    // A key's limits, slots and holds: the coordinator's and the hosts'.
    await expect(p.hset(keyStateKeys(prefix, 'acl-key').limits, 'maxActive', '1000')).rejects.toThrow(refused);
    await expect(p.zadd(keyStateKeys(prefix, 'acl-key').active, 1, 'x')).rejects.toThrow(refused);
    await expect(p.hset(keyStateKeys(prefix, 'acl-key').state, 'holdUntil', '0')).rejects.toThrow(refused);
    await expect(p.hset(s.keyLimits, 'acl-key', '{}')).rejects.toThrow(refused);
    // Budgets and spend: read, never written.
    await expect(p.hset(keyStateKeys(prefix, 'acl-key').budget, 'tokens', '1')).rejects.toThrow(refused);
    await expect(p.hincrbyfloat(keyStateKeys(prefix, 'acl-key').spent, 'tokens', '-1000')).rejects.toThrow(refused);
    await expect(p.hset(s.keyBudgets, 'acl-key', '{}')).rejects.toThrow(refused);
    // The roster it routes on stays readable.
    expect(Object.keys(await p.hgetall(s.agents)).length).toBeGreaterThan(0);
    const proposer = new Consensus({ redis: urlOf({ kind: 'producer' }), prefix });
    try {
      await expect(proposer.submit({ protocol: 'quorum', value: 1, participants: { count: 3 } })).rejects.toThrow(refused);
    } finally {
      await proposer.close();
    }
  });
});
