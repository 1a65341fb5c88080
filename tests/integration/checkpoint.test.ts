// Checkpoint and restore: a swarm with work in every state on one Redis is
// checkpointed, restored on another, and its unfinished tasks finish there under
// their own ids. Restore refuses a target that holds keys, and a malformed file
// with the field that is wrong. Real redis-servers throughout, never mocks.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { AgentHost } from '../../src/agents/host.ts';
import { checkpointToFile, restoreFromFile } from '../../src/checkpoint/cli.ts';
import { parseCheckpoint, type Checkpoint } from '../../src/checkpoint/format.ts';
import { bullmqAcceptsId, planRestore } from '../../src/checkpoint/plan.ts';
import { takeCheckpoint } from '../../src/checkpoint/read.ts';
import { restoreCheckpoint } from '../../src/checkpoint/restore.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { SwarmError } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';
import { newTaskId } from '../../src/tasks/ids.ts';
import type { TaskView } from '../../src/tasks/schema.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { INTAKE_QUEUE, nodeQueueName } from '../../queues/keys.ts';
import { spawnCli } from '../support/cli.ts';
import { emptyCheckpoint, unfinishedTask as task } from '../support/checkpointData.ts';
import { uniquePrefix } from '../support/redis.ts';
import { twoRedisForFile } from '../support/twoRedis.ts';
import { startStack } from '../support/stack.ts';
import { dump, testConfig, until } from '../support/swarm.ts';

const servers = twoRedisForFile('swarmq-checkpoint-');
const { dir, cleanups, connect } = servers;

describe('checkpoint and restore', () => {
  it('checkpoint on one Redis, restore on another: the unfinished tasks finish there', async () => {
    const config = testConfig(servers.a);
    const prefix = config.prefix;

    // Swarm A: alpha agents (node of 2) and a beta agent (node of 1). Its processor
    // holds every task it starts until the end of the test, so work piles up in
    // every state; a 'flaky' task fails its first attempt and waits out its backoff.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const processorsA: ProcessorMap = {
      work: async (payload, ctx) => {
        const p = (payload ?? {}) as { flaky?: boolean; quick?: boolean };
        if (p.flaky && ctx.attempt === 1) throw new Error('first try fails');
        if (!p.quick) {
          await new Promise<void>((resolve, reject) => {
            void gate.then(resolve);
            ctx.signal.addEventListener('abort', () => reject(new Error('aborted')));
          });
        }
        return { on: 'A' };
      },
    };
    const specs = [
      { type: 'alpha', count: 2 },
      { type: 'beta', count: 1 },
    ];
    const hostA = new AgentHost({ config, hostId: 'h1', agents: specs, processors: processorsA, logger: silentLogger });
    await hostA.start();
    cleanups.push(async () => {
      release();
      await hostA.stop(500);
    });
    const seatsA = new Map(hostA.agents().map((ag) => [ag.id, ag.node]));
    const alphaNode = hostA.agents().find((ag) => ag.type === 'alpha')!.node;
    const betaNode = hostA.agents().find((ag) => ag.type === 'beta')!.node;
    expect(alphaNode).not.toBe(betaNode);

    const clientA = new SwarmClient({ redis: servers.a.url, prefix, config: { coordinator: { snapshotIntervalMs: 20 } } });
    cleanups.push(() => clientA.close());
    const alpha = { affinity: { agentType: 'alpha' } };
    const stateOf = async (id: string) => (await clientA.get(id))?.state;

    const done = (await clientA.submit({ type: 'work', payload: { quick: true }, ...alpha })).id;
    expect((await clientA.waitFor(done, { timeoutMs: 10_000 })).state).toBe('completed');

    const flaky = (await clientA.submit({ type: 'work', payload: { flaky: true }, attempts: 3, affinity: { agentType: 'beta' } })).id;
    await until(async () => (await stateOf(flaky)) === 'delayed', 10_000, 'the flaky task to wait out its backoff');
    // The beta agent is busy from now on, so the flaky task stays delayed.
    const betaHeld = (await clientA.submit({ type: 'work', payload: {}, affinity: { agentType: 'beta' } })).id;
    const held = [(await clientA.submit({ type: 'work', payload: { n: 1 }, ...alpha })).id, (await clientA.submit({ type: 'work', payload: { n: 2 }, ...alpha })).id];
    for (const id of [betaHeld, ...held]) await until(async () => (await stateOf(id)) === 'active', 10_000, `${id} active`);

    const plain: string[] = [];
    for (let i = 0; i < 3; i++) plain.push((await clientA.submit({ type: 'work', payload: { plain: i }, ...alpha })).id);
    const prio: Record<number, string> = {};
    for (const p of [5, 1, 3]) prio[p] = (await clientA.submit({ type: 'work', payload: { p }, priority: p, ...alpha })).id;
    const keyed = (await clientA.submit({ type: 'work', payload: { keyed: true }, idempotencyKey: 'order-42', ...alpha })).id;
    const cancelled = (await clientA.submit({ type: 'work', payload: {}, ...alpha })).id;
    await clientA.cancel(cancelled);
    const parked = await clientA.submit({ type: 'work', payload: { parked: true }, affinity: { agentType: 'gamma' }, waitForAgent: true });
    expect(parked.node).toBe('parked');
    // A delayed task (BullMQ's own delay on a node queue), and an intake job no coordinator has routed yet.
    const alphaQueueA = new Queue(nodeQueueName(alphaNode), { connection: { url: servers.a.url }, prefix });
    const intakeA = new Queue(INTAKE_QUEUE, { connection: { url: servers.a.url }, prefix });
    cleanups.push(() => alphaQueueA.close(), () => intakeA.close());
    const later = newTaskId(alphaNode); // an id of the form swarmq issues: lookups refuse any other
    await alphaQueueA.add('work', { payload: { later: true } }, { jobId: later, delay: 4000, attempts: 1 });
    await intakeA.add('work', { from: 'intake' }, { priority: 2 });

    const before = new Map<string, TaskView>();
    const unfinished = [...held, betaHeld, flaky, ...plain, ...Object.values(prio), keyed, later, parked.id];
    for (const id of [...unfinished, cancelled]) before.set(id, (await clientA.get(id))!);

    // Checkpoint A.
    const file = join(dir, 'swarm.json');
    const { summary } = await checkpointToFile(config, file);
    expect(summary).toContain('written to');
    const cp = parseCheckpoint(readFileSync(file, 'utf8'));
    expect(cp.roster.agents.map((ag) => ag.id).sort()).toEqual(['h1-a1', 'h1-a2', 'h1-a3']);
    expect(cp.roster.nodes).toHaveLength(2);
    expect(cp.roster.nodeSeq).toBe(2);
    const byId = new Map(cp.tasks.map((t) => [t.id, t]));
    for (const id of unfinished) expect(byId.has(id), `${id} in the checkpoint`).toBe(true);
    expect(byId.has(done)).toBe(false); // completed: not carried
    expect(byId.has(cancelled)).toBe(false);
    for (const id of [...held, betaHeld]) expect(byId.get(id)!.state).toBe('active');
    expect(byId.get(flaky)).toMatchObject({ state: 'delayed', attemptsMade: 1, fields: { failedReason: 'first try fails' } });
    expect(byId.get(later)).toMatchObject({ state: 'delayed', queue: nodeQueueName(alphaNode) });
    expect(byId.get(prio[1]!)).toMatchObject({ state: 'prioritized', priority: 1 });
    expect(byId.get(parked.id)).toMatchObject({ state: 'waiting', queue: nodeQueueName('parked') });
    // Prioritized tasks in the order the queue hands them out.
    expect(cp.tasks.filter((t) => t.state === 'prioritized' && t.queue !== INTAKE_QUEUE).map((t) => t.id)).toEqual([prio[1], prio[3], prio[5]]);
    expect(cp.tasks.filter((t) => t.queue === INTAKE_QUEUE)).toHaveLength(1);
    expect(cp.idempotency).toEqual([expect.objectContaining({ key: 'order-42', taskId: keyed })]);
    expect(cp.groups.flatMap((g) => g.cancelled.map((c) => c.id))).toEqual([cancelled]);

    // Restore on B.
    const configB = testConfig(servers.b, { prefix });
    const restored = await restoreFromFile(configB, file);
    expect(restored).toContain('h1'); // tells which hosts to start again
    const clientB = new SwarmClient({ redis: servers.b.url, prefix, config: { coordinator: { snapshotIntervalMs: 20 } } });
    cleanups.push(() => clientB.close());
    for (const id of unfinished) {
      const t = (await clientB.get(id))!;
      expect(t, id).not.toBeNull();
      expect(t.createdAt, `${id} keeps its timestamp`).toBe(before.get(id)!.createdAt);
      expect(t.type).toBe('work');
    }
    for (const id of [...held, betaHeld]) expect((await clientB.get(id))!.state).toBe('waiting'); // active → waiting
    expect((await clientB.get(later))!.state).toBe('delayed');
    expect(await clientB.get(flaky)).toMatchObject({ attempts: 1, error: 'first try fails' });
    expect((await clientB.get(cancelled))!.state).toBe('cancelled');
    expect(await clientB.get(done)).toBeNull();
    // A second restore into the same prefix is refused.
    await expect(restoreFromFile(configB, file)).rejects.toThrow(/already holds keys/);

    // Host h1 starts again on B with the same agents (and one gamma for the parked task).
    const processorsB: ProcessorMap = { work: (payload, ctx) => ({ on: 'B', payload, attempt: ctx.attempt }) };
    const hostB = new AgentHost({ config: configB, hostId: 'h1', agents: [...specs, { type: 'gamma', count: 1 }], processors: processorsB, logger: silentLogger });
    await hostB.start();
    cleanups.push(() => hostB.stop(500));
    for (const [id, node] of seatsA) expect(hostB.agents().find((ag) => ag.id === id)?.node, `${id} takes its old seat`).toBe(node);
    expect(hostB.agents().find((ag) => ag.type === 'gamma')!.node).toBe('n3'); // the node sequence went on from 2
    const coordinatorB = new Coordinator({ config: configB, logger: silentLogger });
    await coordinatorB.start(); // routes the intake job, unparks the parked task
    cleanups.push(() => coordinatorB.stop());

    const agentsB = new Set(hostB.agents().map((ag) => ag.id));
    const finished = new Map<string, TaskView>();
    for (const id of unfinished) {
      const t = await clientB.waitFor(id, { timeoutMs: 20_000 });
      expect(t, id).toMatchObject({ id, state: 'completed', result: { on: 'B' } });
      expect(agentsB.has(t.agentId!)).toBe(true);
      finished.set(id, t);
    }
    // Attempts made on A count: the flaky task's second attempt ran on B.
    expect(finished.get(flaky)).toMatchObject({ attempts: 2, result: { attempt: 2 } });
    // The delayed task waited until it was due, not longer nor shorter.
    expect(finished.get(later)!.startedAt!).toBeGreaterThanOrEqual(byId.get(later)!.dueAt!);
    // Priorities kept: 1 before 3 before 5.
    expect(finished.get(prio[1]!)!.startedAt!).toBeLessThanOrEqual(finished.get(prio[3]!)!.startedAt!);
    expect(finished.get(prio[3]!)!.startedAt!).toBeLessThanOrEqual(finished.get(prio[5]!)!.startedAt!);
    expect(finished.get(parked.id)!.node).toBe('n3');

    // The intake job was routed on B.
    const intakeB = new Queue(INTAKE_QUEUE, { connection: { url: servers.b.url }, prefix });
    cleanups.push(() => intakeB.close());
    const [intakeJob] = await until(async () => {
      const jobs = await intakeB.getCompleted();
      return jobs.length ? jobs : undefined;
    }, 10_000, 'the intake job to be routed on B');
    const fromIntake = await clientB.waitFor((intakeJob!.returnvalue as { id: string }).id, { timeoutMs: 10_000 });
    expect(fromIntake).toMatchObject({ state: 'completed', result: { on: 'B', payload: { from: 'intake' } } });

    // The idempotency key came along: the same key gives the same task.
    expect((await clientB.submit({ type: 'work', payload: { keyed: true }, idempotencyKey: 'order-42', ...alpha })).id).toBe(keyed);
  }, 90_000);

  it('refuses a target that holds keys under the prefix, and writes nothing; --force merges', async () => {
    const prefix = uniquePrefix('ck');
    const redisB = connect(servers.b.url);
    await redisB.set(`${prefix}:something`, 'here');
    const cp = emptyCheckpoint({ roster: { nodeSeq: 1, agents: [], nodes: [{ id: 'n1', seq: 1, queue: nodeQueueName('n1'), profile: '[]', members: 0, createdAt: 1 }] }, tasks: [task({ id: 'n1.one' })] });
    const beforeDump = await dump(redisB, prefix);
    const err = await restoreCheckpoint(redisB, prefix, cp).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwarmError);
    expect((err as SwarmError).code).toBe('conflict');
    expect((err as SwarmError).message).toContain(`${prefix}:something`);
    expect(await dump(redisB, prefix)).toEqual(beforeDump);

    const report = await restoreCheckpoint(redisB, prefix, cp, { force: true });
    expect(report).toMatchObject({ nodes: 1, skipped: 0, tasks: { waiting: 1 } });
    // Forced again: the task is there already and is left as it was.
    expect((await restoreCheckpoint(redisB, prefix, cp, { force: true })).skipped).toBe(1);
    expect(await redisB.llen(`${prefix}:${nodeQueueName('n1')}:wait`)).toBe(1);
  });

  it('refuses a malformed file, naming what is wrong and where', async () => {
    const bad = emptyCheckpoint({ tasks: [task(), task({ id: 'n1.two' })] }) as unknown as { tasks: Record<string, unknown>[] };
    bad.tasks[1]!.attemptsMade = 'two';
    expect(() => parseCheckpoint(JSON.stringify(bad), 'swarm.json')).toThrow(/swarm\.json is not a valid swarmq checkpoint: tasks\.1\.attemptsMade: /);
    expect(() => parseCheckpoint(JSON.stringify({ ...emptyCheckpoint(), version: 7 }))).toThrow(/checkpoint version 7; this swarmq reads versions 1, 2 and 3/);
    expect(() => parseCheckpoint('{"format": "swarmq-checkpoint", "version": 1, "createdAt"')).toThrow(/not JSON/);
    expect(() => parseCheckpoint(JSON.stringify(emptyCheckpoint({ tasks: [task({ state: 'delayed' })] })))).toThrow(/tasks\.0\.dueAt: a delayed task needs dueAt/);
    expect(() => parseCheckpoint(JSON.stringify({ ...emptyCheckpoint(), roster: { nodeSeq: 0, agents: [{ id: 'x' }], nodes: [] } }))).toThrow(/roster\.agents\.0\.type/);

    // The command line says so and exits 1, touching nothing.
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify(bad));
    const prefix = uniquePrefix('ck');
    const cli = spawnCli(['restore', '--in', file, '--redis-url', servers.b.url, '--prefix', prefix]);
    const { code } = await cli.exited;
    expect(code).toBe(1);
    expect(cli.output()).toMatch(/tasks\.1\.attemptsMade/);
    expect(await connect(servers.b.url).keys(`${prefix}:*`)).toEqual([]);
  });

  it('with includeFinished, completed tasks come along readable, under a new prefix too', async () => {
    const config = testConfig(servers.a);
    const stack = await startStack(config, { agents: [{ type: 'w', count: 1 }], hostId: 'fin' });
    cleanups.push(() => stack.stop());
    const clientA = new SwarmClient({ redis: servers.a.url, prefix: config.prefix });
    const intakeA = new Queue(INTAKE_QUEUE, { connection: { url: servers.a.url }, prefix: config.prefix });
    cleanups.push(() => clientA.close(), () => intakeA.close());
    const { id } = await clientA.submit({ type: 'echo', payload: 'hi' });
    expect((await clientA.waitFor(id)).state).toBe('completed');
    const viaIntake = await intakeA.add('echo', 'there');
    await until(async () => (await intakeA.getJobState(viaIntake.id!)) === 'completed', 10_000, 'the intake job');
    const routed = ((await intakeA.getJob(viaIntake.id!))!.returnvalue as { id: string }).id;
    expect((await clientA.waitFor(routed)).state).toBe('completed');

    const { checkpoint } = await takeCheckpoint(connect(servers.a.url), config.prefix, { includeFinished: true });
    expect(checkpoint.finished.map((f) => f.id).sort()).toEqual([viaIntake.id, id, routed].sort());

    const prefixB = uniquePrefix('fin');
    const report = await restoreCheckpoint(connect(servers.b.url), prefixB, parseCheckpoint(JSON.stringify(checkpoint)));
    expect(report).toMatchObject({ finished: 3, skippedFinished: 0, agents: 1 });
    const clientB = new SwarmClient({ redis: servers.b.url, prefix: prefixB });
    cleanups.push(() => clientB.close());
    expect(await clientB.get(id)).toMatchObject({ state: 'completed', result: 'hi', attempts: 1 });
    // A new intake job never takes the id of a finished one that came along.
    const intakeB = new Queue(INTAKE_QUEUE, { connection: { url: servers.b.url }, prefix: prefixB });
    cleanups.push(() => intakeB.close());
    expect(Number((await intakeB.add('echo', 'again')).id)).toBeGreaterThan(Number(viaIntake.id));
    expect((await intakeB.getJob(viaIntake.id!))?.returnvalue).toMatchObject({ id: routed });
    expect(await clientB.get(routed)).toMatchObject({ state: 'completed', result: 'there' });
  });

  it('swarmq checkpoint writes a file restore reads back', async () => {
    const prefix = uniquePrefix('ck');
    const file = join(dir, 'cli.json');
    const cli = spawnCli(['checkpoint', '--out', file, '--redis-url', servers.a.url, '--prefix', prefix]);
    expect((await cli.exited).code, cli.output()).toBe(0);
    expect(cli.output()).toMatch(/written to .*cli\.json: 0 agents, 0 nodes, 0 unfinished tasks/);
    expect(parseCheckpoint(readFileSync(file, 'utf8'))).toMatchObject({ prefix, version: 3, tasks: [], consensus: { proposals: [], rounds: [] }, keys: [] });
  });
});

describe('the restore plan (pure)', () => {
  it('keeps order, ids, priorities, due times and attempt counters; renames integer ids; finishes half-done unparking', () => {
    const cp = emptyCheckpoint({
      groups: [{ group: 'parked', moved: { 'parked.x': 'n2', 'parked.y': 'n1' }, cancelled: [] }],
      tasks: [
        task({ id: 'n1.a', state: 'active', attemptsStarted: 1, fields: { processedOn: '5' } }),
        task({ id: 'n1.b', state: 'waiting' }),
        task({ id: 'n1.c', state: 'prioritized', priority: 4, opts: { attempts: 3, priority: 9, delay: 50, jobId: 'old' } }),
        task({ id: 'n1.d', state: 'delayed', timestamp: 1_000, dueAt: 20_000, attemptsMade: 2 }),
        task({ id: 'n1.e', state: 'delayed', timestamp: 1_000, dueAt: 5_000 }),
        task({ id: 'parked.y', queue: nodeQueueName('n1'), state: 'waiting' }), // delivered already
        task({ id: '17', queue: INTAKE_QUEUE, intakeTask: { taskId: 'n1.z', ttlMs: null } }),
        task({ id: 'parked.x', queue: nodeQueueName('parked'), state: 'unparking' }),
        task({ id: 'parked.y', queue: nodeQueueName('parked'), state: 'unparking' }),
      ],
    });
    const plan = planRestore(cp, 'p', 10_000);
    const n1 = plan.queues.find((q) => q.name === nodeQueueName('n1'))!;
    expect(n1.jobs.map((j) => j.id)).toEqual(['n1.a', 'n1.b', 'n1.c', 'n1.d', 'n1.e', 'parked.y']);
    expect(n1.jobs[0]).toMatchObject({ landsAs: 'waiting', from: 'active', opts: { jobId: 'n1.a', timestamp: 1_000 }, fields: { processedOn: '5', ats: '1' } });
    expect(n1.jobs[2]).toMatchObject({ landsAs: 'prioritized', opts: { jobId: 'n1.c', priority: 4, attempts: 3 } });
    expect(n1.jobs[2]!.opts.delay).toBeUndefined();
    expect(n1.jobs[3]).toMatchObject({ landsAs: 'delayed', opts: { delay: 19_000, timestamp: 1_000 }, fields: { atm: '2' } });
    expect(n1.jobs[4]).toMatchObject({ landsAs: 'waiting' }); // was due before the restore
    // The unparking task whose node queue had it already is done; the other lands in its node.
    expect(plan.queues.find((q) => q.name === nodeQueueName('n2'))!.jobs.map((j) => j.id)).toEqual(['parked.x']);
    expect(plan.counts.unparkingDelivered).toBe(2);
    const intake = plan.queues.find((q) => q.name === INTAKE_QUEUE)!.jobs[0]!;
    expect(intake).toMatchObject({ renamed: true, intakeTask: { taskId: 'n1.z' } });
    expect(intake.opts.jobId).toBeUndefined();
    expect(plan.groups[0]).toMatchObject({ movedKey: 'p:{parked}:moved' });
    expect([bullmqAcceptsId('17'), bullmqAcceptsId('n3.Zx-_'), bullmqAcceptsId('a:b')]).toEqual([false, true, false]);
  });
});
