// Checkpoints carry keys and outputs awaiting approval (format version 3): a
// swarm with keyed tasks waiting for an agent and outputs awaiting approval is
// checkpointed on one Redis and restored into a fresh one. There the keyed
// tasks still carry their key, count as waiting for it and sit in their node's
// fair order, under the key's limits; the outputs still await approval, are
// listed, can be approved (completing with the output made before the
// checkpoint, no processor run) or rejected, and a deadline still fails one.
// Real redis-servers throughout.
import { describe, expect, it } from 'vitest';
import { AgentHost } from '../../src/agents/host.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { parseCheckpoint } from '../../src/checkpoint/format.ts';
import { planRestore } from '../../src/checkpoint/plan.ts';
import { takeCheckpoint } from '../../src/checkpoint/read.ts';
import { restoreCheckpoint } from '../../src/checkpoint/restore.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { silentLogger } from '../../src/log.ts';
import { nodeQueueName } from '../../queues/keys.ts';
import { emptyCheckpoint, unfinishedTask as task } from '../support/checkpointData.ts';
import { twoRedisForFile } from '../support/twoRedis.ts';
import { testConfig, until } from '../support/swarm.ts';

const servers = twoRedisForFile('swarmq-checkpoint-keys-');
const { cleanups, connect } = servers;

/** A processor per side: `draft` says where it ran; `block` holds its agent until released (on A, never). */
function processorsOn(side: 'A' | 'B', runs: Map<string, number>): ProcessorMap {
  return {
    draft: (payload, ctx) => {
      runs.set(ctx.taskId, (runs.get(ctx.taskId) ?? 0) + 1);
      return { text: `draft of ${String((payload as { of?: string } | null)?.of)} on ${side}` };
    },
    block: async (_payload, ctx) => {
      if (side === 'B') return 'unblocked';
      return await new Promise<never>((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted'))));
    },
  };
}

describe('a checkpoint carries keys and outputs awaiting approval', () => {
  it('restored into a fresh Redis: keyed tasks keep their key, count and order; outputs await, are listed, approved or rejected, and time out', async () => {
    const config = testConfig(servers.a);
    const prefix = config.prefix;
    const runsA = new Map<string, number>();
    // One agent: the approval tasks run first, then `block` takes it and the keyed tasks wait.
    const hostA = new AgentHost({ config, hostId: 'h1', agents: [{ type: 'alpha', count: 1, capacity: 1 }], processors: processorsOn('A', runsA), logger: silentLogger });
    await hostA.start();
    cleanups.push(() => hostA.stop(500));
    const clientA = new SwarmClient({ redis: servers.a.url, prefix, config: { coordinator: { snapshotIntervalMs: 20 } } });
    cleanups.push(() => clientA.close());
    await clientA.setKeyLimits('acme', { maxActive: 1, weight: 2 });

    const awaitingOn = async (client: SwarmClient, id: string) =>
      await until(async () => ((await client.get(id))?.state === 'awaiting-approval' ? (await client.get(id))! : undefined), 10_000, `${id} to await approval`);
    const approveMe = (await clientA.submit({ type: 'draft', payload: { of: 'notes' }, approval: { required: true, timeoutMs: 120_000 } })).id;
    const rejectMe = (await clientA.submit({ type: 'draft', payload: { of: 'memo' }, key: 'acme', approval: { required: true, timeoutMs: 120_000 } })).id;
    const short = (await clientA.submit({ type: 'draft', payload: { of: 'brief' }, approval: { required: true, timeoutMs: 9000 } })).id;
    for (const id of [approveMe, rejectMe, short]) await awaitingOn(clientA, id);
    const shortDeadline = (await clientA.get(short))!.approval!.deadline!;

    const block = (await clientA.submit({ type: 'block' })).id;
    await until(async () => (await clientA.get(block))?.state === 'active', 10_000, 'the blocking task to start');
    const keyed = [(await clientA.submit({ type: 'draft', payload: { of: 'k1' }, key: 'acme' })).id, (await clientA.submit({ type: 'draft', payload: { of: 'k2' }, key: 'acme' })).id];
    const acmeOn = async (client: SwarmClient) => (await client.keys()).find((k) => k.key === 'acme');
    // The keyed task awaiting approval started (it left the waiting set then); the two behind `block` wait.
    expect(await acmeOn(clientA)).toMatchObject({ waiting: 2, limits: { maxActive: 1, weight: 2 } });

    const { checkpoint, warnings } = await takeCheckpoint(connect(servers.a.url), prefix);
    expect(warnings).toEqual([]);
    const cp = parseCheckpoint(JSON.stringify(checkpoint));
    expect(cp.version).toBe(3);
    expect(cp.keys).toEqual([{ key: 'acme', limits: { maxActive: 1, weight: 2 } }]);
    const carried = new Map(cp.tasks.map((t) => [t.id, t]));
    for (const id of keyed) expect(carried.get(id)?.data).toMatchObject({ key: 'acme' });
    expect(carried.get(approveMe)).toMatchObject({ state: 'delayed', dueAt: (await clientA.get(approveMe))!.approval!.deadline });

    // Into a fresh Redis, under the same prefix, before any host or coordinator runs there.
    const redisB = connect(servers.b.url);
    const report = await restoreCheckpoint(redisB, prefix, cp);
    expect(report).toMatchObject({ keyLimits: 1, keyed: 3, awaitingApproval: 3 });
    const clientB = new SwarmClient({ redis: servers.b.url, prefix, config: { coordinator: { snapshotIntervalMs: 20 } } });
    cleanups.push(() => clientB.close());

    // Keys: limits as set on A, the two tasks waiting for the key (not the one awaiting approval), in the fair order.
    expect(await acmeOn(clientB)).toMatchObject({ waiting: 2, active: 0, limits: { maxActive: 1, weight: 2 } });
    const node = (await clientB.get(keyed[0]!))!.node;
    for (const id of keyed) expect(await clientB.get(id)).toMatchObject({ state: 'waiting', key: 'acme' });
    expect(await clientB.get(rejectMe)).toMatchObject({ state: 'awaiting-approval', key: 'acme' });
    const prioritized = await redisB.zrange(`${prefix}:${nodeQueueName(node)}:prioritized`, '0', '-1', 'WITHSCORES');
    const scoreOf = (id: string) => Number(prioritized[prioritized.indexOf(id) + 1]);
    expect(prioritized.indexOf(keyed[0]!)).toBeGreaterThanOrEqual(0);
    // Placed by fairTag-5.lua: band 0's keyed half (2^31 and up), in the order they were submitted, 1000 / weight apart.
    expect(scoreOf(keyed[0]!)).toBeGreaterThanOrEqual(2 ** 31);
    expect(scoreOf(keyed[1]!) - scoreOf(keyed[0]!)).toBe(500);

    // Approval: all three await with the outputs made on A, listed soonest deadline first.
    for (const id of [approveMe, rejectMe, short]) expect((await clientB.get(id))!.approval).toMatchObject({ state: 'awaiting', round: 1 });
    expect((await clientB.get(approveMe))!.approval!.output).toEqual({ text: 'draft of notes on A' });
    expect((await clientB.awaitingApproval()).tasks.map((t) => t.id)).toEqual([short, approveMe, rejectMe]);
    expect((await clientB.get(short))!.approval!.deadline).toBe(shortDeadline);

    // Decided before any host runs on B: recorded, and the host that starts completes or fails them.
    await clientB.approve(approveMe, { by: 'ana' });
    await clientB.reject(rejectMe, { reason: 'not for this customer' });
    const runsB = new Map<string, number>();
    const hostB = new AgentHost({ config: testConfig(servers.b, { prefix }), hostId: 'h1', agents: [{ type: 'alpha', count: 1, capacity: 1 }], processors: processorsOn('B', runsB), logger: silentLogger });
    await hostB.start();
    cleanups.push(() => hostB.stop(500));

    expect(await clientB.waitFor(approveMe, { timeoutMs: 10_000 })).toMatchObject({ state: 'completed', result: { text: 'draft of notes on A' }, agentId: 'h1-a1' });
    const rejected = await clientB.waitFor(rejectMe, { timeoutMs: 10_000 });
    expect(rejected).toMatchObject({ state: 'failed', approval: { state: 'rejected' } });
    expect(rejected.error).toContain('not for this customer');
    for (const id of keyed) expect(await clientB.waitFor(id, { timeoutMs: 10_000 })).toMatchObject({ state: 'completed', key: 'acme', result: { text: expect.stringMatching(/ on B$/) } });
    expect(await clientB.waitFor(block, { timeoutMs: 10_000 })).toMatchObject({ state: 'completed', result: 'unblocked' });
    // No output that waited was made again; the keyed tasks ran once each, and their key counts them as started.
    for (const id of [approveMe, rejectMe, short]) expect(runsB.get(id)).toBeUndefined();
    for (const id of keyed) expect(runsB.get(id)).toBe(1);
    expect(await acmeOn(clientB)).toMatchObject({ waiting: 0, active: 0, started: 2 });

    // The short deadline still applies on B: no decision, so the task fails as timed out once it passes.
    const timedOut = await clientB.waitFor(short, { timeoutMs: Math.max(10_000, shortDeadline - Date.now() + 10_000) });
    expect(timedOut).toMatchObject({ state: 'failed', approval: { state: 'timed-out' } });
    expect(timedOut.error).toMatch(/timed out: no one approved or rejected its output within 9000 ms/);
    expect(timedOut.finishedAt!).toBeGreaterThanOrEqual(shortDeadline);
  }, 60_000);
});

describe('the restore plan for keys and approval (pure)', () => {
  const awaiting = (deadline: number, round = 1) => JSON.stringify({ output: { text: 'x' }, agent: 'h1-a1', since: deadline - 1000, deadline, round });

  it('reads a version-2 file (no keys section): its keyed tasks are placed again, its awaiting outputs indexed', () => {
    const v2 = {
      ...emptyCheckpoint({
        roster: { nodeSeq: 1, agents: [], nodes: [] },
        tasks: [
          task({ id: 'n1.k', data: { payload: null, key: 'acme' }, fields: { sqKey: 'acme' }, priority: 3 }),
          task({ id: 'n1.a', state: 'delayed', dueAt: 50_000, data: { payload: null, approval: { timeoutMs: 1000 }, key: 'acme' }, fields: { sqAwaiting: awaiting(50_000), sqRound: '1', sqDecision: '' } }),
          task({ id: 'n1.d', state: 'waiting', data: { payload: null, approval: { timeoutMs: 1000 } }, fields: { sqAwaiting: awaiting(50_000), sqDecision: JSON.stringify({ decision: 'approved', by: { via: 'cli' }, at: 1, round: 1 }) } }),
          task({ id: 'n1.r', state: 'waiting', data: { payload: null, approval: { timeoutMs: 1000 }, key: 'acme' }, fields: { sqAwaiting: awaiting(50_000), sqDecision: JSON.stringify({ decision: 'rejected', by: { via: 'cli' }, at: 1, round: 1, reason: 'again', retry: true }) } }),
          task({ id: 'n1.late', state: 'delayed', dueAt: 5_000, data: { payload: null, approval: { timeoutMs: 1000 } }, fields: { sqAwaiting: awaiting(5_000), sqDecision: '' } }),
        ],
      }),
      version: 2,
    } as Record<string, unknown>;
    delete v2.keys;
    const cp = parseCheckpoint(JSON.stringify(v2));
    expect(cp).toMatchObject({ version: 3, keys: [] });
    const plan = planRestore(cp, 'p', 10_000);
    const jobs = new Map(plan.queues.flatMap((q) => q.jobs).map((j) => [j.id, j]));
    // The key field is left to fairTag-5.lua, which takes a job that has one for placed already.
    expect(jobs.get('n1.k')).toMatchObject({ keyed: { fair: { node: 'n1', key: 'acme', inc: 1000, band: 3 }, waitingKey: 'p:{k:acme}:waiting', waiting: true }, fields: {} });
    // Awaiting: indexed by its deadline, not waiting for its key (no host admits it again unless it is rejected with retry).
    expect(jobs.get('n1.a')).toMatchObject({ landsAs: 'delayed', keyed: { waiting: false }, awaitingApproval: { indexKey: 'p:{g1}:awaiting-approval', member: 'n1 n1.a', deadline: 50_000 } });
    expect(jobs.get('n1.d')?.awaitingApproval).toBeUndefined();
    expect(jobs.get('n1.r')).toMatchObject({ keyed: { waiting: true } });
    // Past its deadline at the restore: lands waiting, and the host that takes it fails it as timed out.
    expect(jobs.get('n1.late')).toMatchObject({ landsAs: 'waiting' });
    expect(jobs.get('n1.late')?.awaitingApproval).toBeUndefined();
    expect(plan.counts).toMatchObject({ keyed: 3, awaitingApproval: 1, keyLimits: 0 });
    expect(plan.keys).toMatchObject({ limits: [], names: ['acme'] });
  });

  it('a version-3 file: key weights set tag steps, and a bad keys section is refused by its path', () => {
    const cp = emptyCheckpoint({ roster: { nodeSeq: 1, agents: [], nodes: [] }, keys: [{ key: 'acme', limits: { weight: 4, rate: { max: 20, perMs: 1000 } } }, { key: 'idle', limits: {} }], tasks: [task({ data: { payload: null, key: 'acme' } })] });
    const plan = planRestore(parseCheckpoint(JSON.stringify(cp)), 'p', 0);
    expect(plan.queues[0]!.jobs[0]!.keyed?.fair.inc).toBe(250);
    expect(plan.keys.limits.map((l) => ({ ...l, json: JSON.parse(l.json) as unknown }))).toEqual([{ key: 'acme', fields: { weight: '4', rateMax: '20', ratePerMs: '1000' }, json: { weight: 4, rate: { max: 20, perMs: 1000 } } }]);
    expect(plan.keys.names).toEqual(['acme', 'idle']);
    expect(() => parseCheckpoint(JSON.stringify({ ...cp, keys: [{ key: 'a b', limits: {} }] }))).toThrow(/keys\.0\.key: /);
    expect(() => parseCheckpoint(JSON.stringify({ ...cp, keys: [{ key: 'a', limits: { maxActive: 0 } }] }))).toThrow(/keys\.0\.limits\.maxActive: /);
    expect(() => parseCheckpoint(JSON.stringify({ ...cp, keys: [{ key: 'a', limits: {} }, { key: 'a', limits: {} }] }))).toThrow(/keys\.1\.key: key a appears twice/);
    // Version 2 had no keys section: one there is refused, not dropped.
    expect(() => parseCheckpoint(JSON.stringify({ ...cp, version: 2 }))).toThrow(/keys/);
  });
});
