// SWARMQ_DURABILITY=replicated on one primary: with a replica attached, a
// submit, an intake job and a finish are acknowledged once the replica holds
// them; with none, the submit is refused with a 503 that names durability and
// nothing is acknowledged. The default (fast) sends no WAIT at all.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTAKE_QUEUE } from '../../queues/keys.ts';
import { awaitReplicas, NotReplicatedError } from '../../queues/durability.ts';
import { confirmPickup } from '../../src/agents/durablePickup.ts';
import { launchRedisServer, type RedisServer } from '../../src/cli/redisServer.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { SwarmError } from '../../src/errors.ts';
import { durableFinishes } from '../../src/durability.ts';
import { uniquePrefix } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

const dir = mkdtempSync(join(tmpdir(), 'swarmq-durability-'));
let primary: RedisServer;
let replica: RedisServer;
let lonely: RedisServer;
const stacks: Stack[] = [];

beforeAll(async () => {
  primary = await launchRedisServer({ dir: mkdtempSync(join(dir, 'p')), appendonly: false });
  replica = await launchRedisServer({ dir: mkdtempSync(join(dir, 'r')), appendonly: false, extraArgs: ['--replicaof', '127.0.0.1', String(primary.port)] });
  lonely = await launchRedisServer({ dir: mkdtempSync(join(dir, 'l')), appendonly: false });
  await until(async () => {
    const r = new Redis(replica.port);
    const info = await r.info('replication').finally(() => r.disconnect());
    return info.includes('master_link_status:up');
  }, 10_000, 'the replica to sync');
});

afterAll(async () => {
  for (const s of stacks) await s.stop();
  await Promise.all([primary, replica, lonely].map((s) => s?.kill('SIGKILL')));
  rmSync(dir, { recursive: true, force: true });
});

async function waits(port: number): Promise<number> {
  const r = new Redis(port);
  const stats = await r.info('commandstats').finally(() => r.disconnect());
  return Number(/cmdstat_wait:calls=([0-9]+)/.exec(stats)?.[1] ?? 0);
}

describe('durability', () => {
  it('replicated, with a replica: submits (HTTP, client, intake) and finishes wait for it, then complete', async () => {
    const config = testConfig({ url: primary.url } as never, { prefix: uniquePrefix('dur'), durability: { mode: 'replicated', timeoutMs: 2000 } });
    const stack = await startStack(config, { agents: [{ type: 'worker', count: 2 }] });
    stacks.push(stack);
    const before = await waits(primary.port);
    const http = await stack.request('POST', '/api/tasks', { type: 'echo', payload: 1 });
    expect(http.status, JSON.stringify(http.body)).toBe(202);
    const client = new SwarmClient({ redis: primary.url, prefix: config.prefix, config: { durability: { mode: 'replicated' } } });
    const viaClient = await client.submit({ type: 'echo', payload: 2 });
    const intake = new Queue(INTAKE_QUEUE, { connection: { url: primary.url }, prefix: config.prefix });
    const job = await intake.add('echo', 3);
    for (const id of [String(http.body.id), viaClient.id]) expect((await client.waitFor(id, { timeoutMs: 10_000 })).state).toBe('completed');
    await until(async () => (await intake.getJob(job.id!))?.returnvalue, 10_000, 'the intake job to be routed');
    // One WAIT at least for each acknowledgement: three submits, three finishes.
    expect((await waits(primary.port)) - before).toBeGreaterThanOrEqual(6);
    // The replica has the finished task, read from it directly.
    const r = new Redis(replica.port);
    const keys = await r.keys(`${config.prefix}:*:${String(http.body.id)}`);
    expect(await r.hget(keys[0]!, 'finishedOn')).toMatch(/^[0-9]+$/);
    r.disconnect();
    await intake.close();
    await client.close();
  });

  it('replicated, with no replica: a submit is refused with 503 not_replicated, the client with a SwarmError', async () => {
    const config = testConfig({ url: lonely.url } as never, { prefix: uniquePrefix('dur'), durability: { mode: 'replicated', timeoutMs: 100 } });
    const stack = await startStack(config, { agents: [{ type: 'worker', count: 1 }] });
    stacks.push(stack);
    const r = await stack.request('POST', '/api/tasks', { type: 'echo', payload: 1 });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('not_replicated');
    expect(r.body.error.message).toMatch(/durability is replicated/);
    expect(r.body.error.message).toMatch(/0 of 1 replica/);
    const client = new SwarmClient({ redis: lonely.url, prefix: config.prefix, config: { durability: { mode: 'replicated', timeoutMs: 100 } } });
    const err = await client.submit({ type: 'echo', payload: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwarmError);
    expect((err as SwarmError).code).toBe('not_replicated');
    await client.close();
  });

  it('replicated: a task picked up runs only once a replica holds its pickup; until then it is handed back unrun', async () => {
    const server = await launchRedisServer({ dir: mkdtempSync(join(dir, 'x')), appendonly: false });
    let late: RedisServer | undefined;
    let stack: Stack | undefined;
    try {
      const runs = new Map<string, number>();
      const processors = { count: async (_: unknown, ctx: { taskId: string }) => void runs.set(ctx.taskId, (runs.get(ctx.taskId) ?? 0) + 1) };
      const config = testConfig({ url: server.url } as never, { prefix: uniquePrefix('dur'), durability: { mode: 'replicated', timeoutMs: 100 } });
      stack = await startStack(config, { agents: [{ type: 'worker', count: 1 }], processors });
      // Submitted without waiting for a replica (fast), so the task is in its queue.
      const client = new SwarmClient({ redis: server.url, prefix: config.prefix });
      const { id } = await client.submit({ type: 'count' });
      await new Promise((r) => setTimeout(r, 1000));
      expect(runs.get(id)).toBeUndefined();
      expect((await client.get(id))?.state).not.toBe('completed');
      late = await launchRedisServer({ dir: mkdtempSync(join(dir, 'y')), appendonly: false, extraArgs: ['--replicaof', '127.0.0.1', String(server.port)] });
      expect((await client.waitFor(id, { timeoutMs: 15_000 })).state).toBe('completed');
      expect(runs.get(id)).toBe(1);
      await client.close();
    } finally {
      await stack?.stop();
      await Promise.all([server.kill('SIGKILL'), late?.kill('SIGKILL')]);
    }
  });

  it('replicated: callers waiting on one connection share a WAIT, so with no replica they do not queue a timeout each', async () => {
    const conn = new Redis(lonely.port);
    try {
      const policy = { mode: 'replicated' as const, replicas: 1, timeoutMs: 300 };
      const t0 = Date.now();
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => awaitReplicas(conn, ['k'], policy).catch((e: unknown) => e)));
      for (const o of outcomes) expect(o).toBeInstanceOf(NotReplicatedError);
      // One WAIT out, the other nine share the next: two timeouts, not ten.
      expect(Date.now() - t0).toBeLessThan(1500);
    } finally {
      conn.disconnect();
    }
  });

  it('replicated: a pickup no replica confirms is handed back, tried again while Redis refuses it, for as long as given (its lock)', async () => {
    const conn = new Redis(lonely.port);
    try {
      const policy = { mode: 'replicated' as const, replicas: 1, timeoutMs: 100 };
      // The job's own hand-back, refused as a Cluster refuses commands while a failover is under way, then let through.
      let calls = 0;
      const job = {
        id: 'j1',
        queueQualifiedName: 'p:q',
        processedOn: Date.now(),
        moveToWait: async () => {
          if (++calls <= 7) throw new Error('CLUSTERDOWN The cluster is down');
          return 0;
        },
      } as unknown as Parameters<typeof confirmPickup>[1];
      const pickup = await confirmPickup(conn, job, 'tok', policy, 5000);
      expect(pickup.confirmed).toBe(false);
      // Eight calls: seven refused, 100 ms apart, the eighth took it back (a fixed five tries gave up refused).
      expect(calls).toBe(8);
      // Given no time past the first try, it stops after it (the job is left to BullMQ's stalled check).
      calls = 0;
      expect((await confirmPickup(conn, job, 'tok', policy, 0)).confirmed).toBe(false);
      expect(calls).toBe(1);
    } finally {
      conn.disconnect();
    }
  });

  it('replicated: a finish Redis refuses for a while (read-only, a demoted primary) is sent again, not taken for the job failing', async () => {
    const policy = { mode: 'replicated' as const, replicas: 1, timeoutMs: 100 };
    // Backends standing in for BullMQ's, each with its finishes' answers in turn (an Error is thrown).
    const backendOf = (answers: (number | Error)[]) => {
      const calls: string[] = [];
      const backend = {
        calls,
        moveToFinished: async (jobId: string, _args: unknown[]) => {
          calls.push(jobId);
          const a = answers[Math.min(calls.length, answers.length) - 1]!;
          if (a instanceof Error) throw a;
          return a;
        },
        moveToFinishedArgs: (...a: unknown[]) => a,
        queue: { toKey: (id: string) => `p:q:${id}` },
      };
      return backend;
    };
    const readOnly = () => new Error("READONLY You can't write against a read only replica.");
    const notOurs = () => new Error('Missing lock for job j. moveToFinished');
    const conn = new Redis(primary.port);
    const alone = new Redis(lonely.port);
    try {
      // Refused three times as a demoted primary refuses writes, 100 ms apart, then taken and confirmed by the replica.
      const retries: string[] = [];
      const demoted = backendOf([readOnly(), readOnly(), readOnly(), 0]);
      expect(durableFinishes({ backend: demoted }, conn, policy, (_id, why) => retries.push(why), 10_000)).toBe(true);
      await expect(demoted.moveToFinished('j1', [])).resolves.toBe(0);
      expect(demoted.calls).toHaveLength(4);
      expect(retries).toHaveLength(3);
      // No replica confirms: sent again; the repeat refused as not ours means the first was kept. Done, not failed.
      const unconfirmed = backendOf([0, notOurs()]);
      expect(durableFinishes({ backend: unconfirmed }, alone, policy, undefined, 10_000)).toBe(true);
      await expect(unconfirmed.moveToFinished('j2', [])).resolves.toBe(0);
      expect(unconfirmed.calls).toHaveLength(2);
      // Refused at once as not ours (BullMQ's lost lock): BullMQ's to handle, as before; so is an error Redis would not clear.
      const lost = backendOf([notOurs()]);
      expect(durableFinishes({ backend: lost }, conn, policy)).toBe(true);
      await expect(lost.moveToFinished('j3', [])).rejects.toThrow(/Missing lock/);
      const broken = backendOf([new Error('ERR Error running script')]);
      expect(durableFinishes({ backend: broken }, conn, policy)).toBe(true);
      await expect(broken.moveToFinished('j4', [])).rejects.toThrow(/Error running script/);
      expect(broken.calls).toHaveLength(1);
      // Past the lock (here none), a refusal is no longer waited out.
      const late = backendOf([readOnly(), 0]);
      expect(durableFinishes({ backend: late }, conn, policy, undefined, 0)).toBe(true);
      await expect(late.moveToFinished('j5', [])).rejects.toThrow(/READONLY/);
    } finally {
      conn.disconnect();
      alone.disconnect();
    }
  });

  it('replicated: a write made before its connection was made again is not confirmed, even with a replica in sync', async () => {
    const conn = new Redis(primary.port);
    try {
      const policy = { mode: 'replicated' as const, replicas: 1, timeoutMs: 2000 };
      await conn.set('k', '1');
      const writtenAt = Date.now();
      await awaitReplicas(conn, ['k'], policy, writtenAt); // watched from here on, and confirmed
      await new Promise((r) => setTimeout(r, 5)); // the reconnect comes after the write, as it does after a failover
      const ready = new Promise((r) => conn.once('ready', r));
      conn.disconnect(true); // as a failover does: ioredis connects again (here to the same primary)
      await ready;
      // A WAIT on the new socket covers only its writes: the earlier one (on a master that may be gone) is not confirmed.
      const stale = await awaitReplicas(conn, ['k'], policy, writtenAt).catch((e: unknown) => e);
      expect(stale).toBeInstanceOf(NotReplicatedError);
      expect((stale as Error).message).toMatch(/made again after the write/);
      await conn.set('k', '2');
      await awaitReplicas(conn, ['k'], policy); // a write since is confirmed
    } finally {
      conn.disconnect();
    }
  });

  it('fast (the default) sends no WAIT', async () => {
    // A server of its own: the tests above leave WAITs of theirs finishing on theirs (a blocked WAIT is counted when it ends).
    const quiet = await launchRedisServer({ dir: mkdtempSync(join(dir, 'q')), appendonly: false });
    try {
      const config = testConfig({ url: quiet.url } as never, { prefix: uniquePrefix('dur') });
      expect(config.durability.mode).toBe('fast');
      const stack = await startStack(config, { agents: [{ type: 'worker', count: 1 }] });
      stacks.push(stack);
      const r = await stack.request('POST', '/api/tasks', { type: 'echo', payload: 1 });
      expect(r.status).toBe(202);
      await until(async () => (await stack.request('GET', `/api/tasks/${r.body.id}`)).body.state === 'completed', 10_000, 'the task to complete');
      expect(await waits(quiet.port)).toBe(0);
      await stack.stop();
      stacks.splice(stacks.indexOf(stack), 1);
    } finally {
      await quiet.kill('SIGKILL');
    }
  });
});
