// A pickup made on a Cluster master that is then lost is not confirmed by a
// WAIT on the replica promoted in its place. The move to active went over the
// Worker's connection to the old master; the promoted one may lack it, yet once
// the old master rejoins as its replica, a WAIT there (on a connection with no
// writes) answers at once. With `replicated`, confirmPickup refuses it and
// hands the job back; a pickup made on the new master is confirmed.
import { Queue, Worker, type Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { connectRedis, redisTargetFromUrl, type RedisClient } from '../../queues/redisTarget.ts';
import { confirmPickup, watchReconnects } from '../../src/agents/durablePickup.ts';
import { startCluster, type TestCluster } from '../support/cluster.ts';
import { until } from '../support/swarm.ts';
import { replicaOnline } from '../support/failoverRun.ts';

let cluster: TestCluster | undefined;
const closing: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close().catch(() => {});
  await cluster?.stop();
  cluster = undefined;
});

const policy = { mode: 'replicated', replicas: 1, timeoutMs: 2000 } as const;

describe('replicated pickups across a Cluster failover', () => {
  it("a pickup made on the lost master is handed back, not confirmed by the promoted master's WAIT", async () => {
    const c = (cluster = await startCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 }));
    const conn: RedisClient = connectRedis(redisTargetFromUrl(c.url), { maxRetriesPerRequest: null });
    closing.push(async () => conn.disconnect());
    watchReconnects(conn);
    const name = '{pf}work';
    const queue = new Queue(name, { connection: conn });
    const worker = new Worker(name, null, { connection: conn, autorun: false });
    closing.push(() => queue.close(), () => worker.close());
    await queue.add('t', { n: 1 }, { jobId: 'before' });
    const picked = (await worker.getNextJob('tok-1', { block: false })) as Job;
    expect(picked.id).toBe('before');

    const key = `bull:${name}:before`;
    const old = await c.masterOf(key);
    await old.server.kill('SIGKILL');
    await until(async () => (await c.masterOf(key)).port !== old.port, 15_000, 'the replica to take over');
    await old.server.start();
    const now = await c.masterOf(key);
    // The old master is back as the new one's replica: a WAIT there would now answer 1.
    await replicaOnline(now.port);
    // The client learns the new slot map as the Worker's lock renewals would teach it (a MOVED reply).
    await until(async () => ((await conn.exists(key)) >= 0 && (await c.masterOf(key)).port === now.port ? true : undefined), 10_000, 'the client to follow the slot');

    const pickup = await confirmPickup(conn, picked, 'tok-1', policy);
    expect(pickup.confirmed).toBe(false);
    if (!pickup.confirmed) expect(pickup.why).toMatch(/another master|made again/);

    // A pickup made on the new master is confirmed by its replica.
    await queue.add('t', { n: 2 }, { jobId: 'after' });
    const next = (await until(async () => (await worker.getNextJob('tok-2', { block: false })) ?? undefined, 10_000, 'a job to pick up')) as Job;
    expect(await confirmPickup(conn, next, 'tok-2', policy)).toEqual({ confirmed: true });
  }, 60_000);
});
