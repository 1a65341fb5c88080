// Approval through every way in and out on real Redis: the TypeScript client
// (approve, reject, waitFor waiting past awaiting-approval, watch), the CLI
// (`swarmq approve`, `swarmq reject --reason`), a batch, an intake job, and a
// replicated task, whose agreed output (after the vote) is what is approved,
// and which a rejection with retry runs again on new replicas.
import { Queue, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinProcessors } from '../../processors/builtins.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { SwarmError } from '../../src/errors.ts';
import { INTAKE_QUEUE, swarmKeys } from '../../queues/keys.ts';
import type { TaskView } from '../../src/tasks/schema.ts';
import type { TaskEvent } from '../../src/tasks/taskEvents.ts';
import { spawnCli } from '../support/cli.ts';
import { redisForFile } from '../support/redis.ts';
import { stackForFile } from '../support/stack.ts';
import { until } from '../support/swarm.ts';

const feedbackSeen = new Map<string, (string | undefined)[]>();
const processors: ProcessorMap = {
  ...builtinProcessors,
  summary: (payload, ctx) => {
    feedbackSeen.set(ctx.taskId, [...(feedbackSeen.get(ctx.taskId) ?? []), ctx.feedback]);
    return { summary: `${String((payload as { of?: string } | null)?.of ?? '')}${ctx.feedback ? ` (${ctx.feedback})` : ''}` };
  },
};

const redis = redisForFile();
const stack = stackForFile(redis, { agents: [{ type: 'worker', count: 4, capacity: 4 }], processors, hostId: 'h1', driveConsensus: true });
let client: SwarmClient;

beforeAll(() => {
  client = new SwarmClient({ redis: redis.url, prefix: stack.config.prefix });
});

afterAll(async () => {
  await client?.close();
});

async function awaiting(id: string, ms = 10_000): Promise<TaskView> {
  return await until(async () => {
    const v = await client.get(id);
    return v?.state === 'awaiting-approval' ? v : undefined;
  }, ms, `task ${id} to await approval`);
}

describe('the client', () => {
  it('waitFor does not take awaiting-approval for finished; approve completes, reject with retry reruns with feedback; watch sees it all', async () => {
    const { id } = await client.submit({ type: 'summary', payload: { of: 'the report' }, approval: { required: true } });
    const watch = client.watch(id);
    const seen: TaskEvent[] = [];
    const watching = (async () => {
      for await (const e of watch) seen.push(e);
    })();
    await awaiting(id);
    const waited = await client.waitFor(id, { timeoutMs: 300 }).catch((err: unknown) => err);
    expect(waited).toBeInstanceOf(SwarmError);
    expect((waited as SwarmError).message).toContain('still awaiting-approval');

    const rejected = await client.reject(id, { reason: 'name the author', retry: true, by: 'bo' });
    expect(rejected.approval?.decisions.at(-1)).toMatchObject({ decision: 'rejected', retry: true, by: { via: 'client', name: 'bo' } });
    const second = await until(async () => {
      const v = await client.get(id);
      return v?.state === 'awaiting-approval' && v.approval?.round === 2 ? v : undefined;
    }, 10_000, 'the second output');
    expect(second.approval?.output).toEqual({ summary: 'the report (name the author)' });
    expect(feedbackSeen.get(id)).toEqual([undefined, 'name the author']);
    const done = client.waitFor(id, { timeoutMs: 10_000 });
    await client.approve(id, { round: 2 });
    expect(await done).toMatchObject({ state: 'completed', result: { summary: 'the report (name the author)' } });
    await watching;
    // The watch opened right after the submit: it may see the first start, or the task already awaiting, and
    // then that first awaiting-approval twice (read as the task's state on opening, and as the event that made it).
    let types = seen.map((e) => e.type);
    if (types[0] === 'started') types = types.slice(1);
    if (types[0] === 'awaiting-approval' && types[1] === 'awaiting-approval') types = types.slice(1);
    expect(types).toEqual(['awaiting-approval', 'approval-decided', 'started', 'awaiting-approval', 'approval-decided', 'started', 'finished']);
    expect(seen.find((e) => e.type === 'approval-decided')!.data).toMatchObject({ decision: { decision: 'rejected', reason: 'name the author', round: 1 } });

    // Refusals are SwarmErrors, as over HTTP.
    await expect(client.approve(id)).rejects.toMatchObject({ code: 'conflict' });
    await expect(client.approve('n1.nosuchtaskxx')).rejects.toMatchObject({ code: 'not_found' });
    await expect(client.reject(id, { reason: '' })).rejects.toMatchObject({ code: 'invalid_request' });
  });
});

describe('the CLI', () => {
  it('`swarmq approve <id>` and `swarmq reject <id> --reason` decide, recorded as the CLI; a task not awaiting exits non-zero', async () => {
    const a = await client.submit({ type: 'summary', payload: { of: 'a' }, approval: { required: true } });
    const b = await client.submit({ type: 'summary', payload: { of: 'b' }, approval: { required: true } });
    await awaiting(a.id);
    await awaiting(b.id);
    const common = ['--redis-url', redis.url, '--prefix', stack.config.prefix];
    // Two processes at once: each CLI start costs a second or two.
    const approve = spawnCli(['approve', a.id, '--by', 'cy', ...common]);
    const reject = spawnCli(['reject', b.id, '--reason', 'wrong file', ...common]);
    expect(await approve.waitFor(/"state":/)).toMatchObject({ id: a.id, approval: { state: 'approved' } });
    expect((await approve.exited).code).toBe(0);
    expect(await reject.waitFor(/"state":/)).toMatchObject({ id: b.id, approval: { state: 'rejected' } });
    expect((await reject.exited).code).toBe(0);
    expect(await client.waitFor(a.id, { timeoutMs: 5000 })).toMatchObject({ state: 'completed', result: { summary: 'a' }, approval: { decisions: [{ by: { via: 'cli', name: 'cy' } }] } });
    const failed = await client.waitFor(b.id, { timeoutMs: 5000 });
    expect(failed.state).toBe('failed');
    expect(failed.approval?.decisions[0]).toMatchObject({ decision: 'rejected', reason: 'wrong file', by: { via: 'cli' } });
    const again = spawnCli(['approve', a.id, ...common]);
    const noReason = spawnCli(['reject', b.id, ...common]);
    expect((await again.exited).code).not.toBe(0);
    expect(again.output()).toContain('already approved');
    expect((await noReason.exited).code).not.toBe(0);
    expect(noReason.output()).toContain('--reason');
  });
});

describe('batches and the intake queue', () => {
  it('a batch of tasks needing approval all wait, are listed soonest deadline first, and each is decided on its own', async () => {
    const tasks = [3000, 1000, 2000].map((ms, i) => ({ type: 'summary', payload: { of: `part ${i}` }, approval: { required: true, timeoutMs: 60_000 + ms } }));
    const r = await stack.request('POST', '/api/tasks/batch', { tasks });
    expect(r.status).toBe(202);
    const ids = r.body.ids as string[];
    for (const id of ids) await awaiting(id);
    const listed = await stack.request('GET', '/api/approvals?limit=200');
    const order = (listed.body.tasks as TaskView[]).map((t) => t.id).filter((id) => ids.includes(id));
    expect(order).toEqual([ids[1], ids[2], ids[0]]);
    expect((listed.body.tasks as TaskView[]).find((t) => t.id === ids[0])?.approval?.output).toEqual({ summary: 'part 0' });
    expect((await client.awaitingApproval({ limit: 200 })).tasks.map((t) => t.id)).toEqual(expect.arrayContaining(ids));
    await client.approve(ids[0]!);
    await client.reject(ids[1]!, { reason: 'no' });
    await client.approve(ids[2]!);
    expect((await client.waitFor(ids[0]!, { timeoutMs: 5000 })).state).toBe('completed');
    expect((await client.waitFor(ids[1]!, { timeoutMs: 5000 })).state).toBe('failed');
    expect((await client.waitFor(ids[2]!, { timeoutMs: 5000 })).result).toEqual({ summary: 'part 2' });
  });

  it('an intake job carries approval beside its BullMQ options; a bad one fails the intake job with the reason', async () => {
    const intake = new Queue(INTAKE_QUEUE, { connection: redis.connection, prefix: stack.config.prefix });
    try {
      // Not a BullMQ option: a TypeScript producer casts; producers in other languages just add the field.
      const job = await intake.add('summary', { of: 'intake' }, { attempts: 2, approval: { required: true, timeoutMs: 60_000 } } as never);
      const routed = await until(async () => ((await intake.getJob(job.id!))?.returnvalue as { id: string } | null) ?? undefined, 10_000, 'the intake job to be routed');
      const v = await awaiting(routed.id);
      expect(v.approval).toMatchObject({ timeoutMs: 60_000, output: { summary: 'intake' } });
      await client.approve(routed.id);
      expect((await client.waitFor(routed.id, { timeoutMs: 5000 })).result).toEqual({ summary: 'intake' });

      const bad = await intake.add('summary', { of: 'x' }, { approval: { required: 'yes' } } as never);
      const failed = await until(async () => {
        const j = (await intake.getJob(bad.id!)) as Job | undefined;
        return j?.failedReason ? j : undefined;
      }, 10_000, 'the bad intake job to fail');
      expect(failed.failedReason).toContain('approval.required');
    } finally {
      await intake.close();
    }
  });
});

describe('a replicated task', () => {
  it('the agreed output (after the vote) awaits approval, its replicas complete as they are; a retry runs new replicas told why; approving completes the task with the new agreed output', async () => {
    const r = await stack.request('POST', '/api/tasks', { type: 'summary', payload: { of: 'agreed' }, consensus: { protocol: 'quorum', replicas: 3 }, approval: { required: true } });
    expect(r.status).toBe(202);
    const id = r.body.id as string;
    const v = await awaiting(id, 20_000);
    expect(v).toMatchObject({ state: 'awaiting-approval', result: null, consensus: { decided: true, votes: 3, phase: 'done' }, approval: { state: 'awaiting', output: { summary: 'agreed' } } });
    // Each replica completed as a plain task, none waiting for approval itself.
    for (const replica of v.consensus!.replicaTasks) expect(await client.get(replica)).toMatchObject({ state: 'completed', result: { summary: 'agreed' } });
    expect((await stack.request('GET', '/api/approvals')).body.tasks.map((t: TaskView) => t.id)).toContain(id);
    // Rejected with retry: new replicas (added to the flow, or on a Cluster staged without one) run with the reason, and vote again.
    const retry = await stack.request('POST', `/api/tasks/${id}/reject`, { reason: 'again', retry: true });
    expect(retry.status, JSON.stringify(retry.body)).toBe(200);
    const second = await until(async () => {
      const t = await client.get(id);
      return t?.state === 'awaiting-approval' && t.approval?.round === 2 ? t : undefined;
    }, 20_000, 'the second revision to await approval');
    expect(second).toMatchObject({ consensus: { decided: true, votes: 3 }, approval: { output: { summary: 'agreed (again)' } } });
    for (const replica of second.consensus!.replicaTasks) {
      expect(v.consensus!.replicaTasks).not.toContain(replica);
      expect(feedbackSeen.get(replica)).toEqual(['again']);
    }
    const ok = await stack.request('POST', `/api/tasks/${id}/approve`, { by: 'dee', round: 2 });
    expect(ok.status).toBe(200);
    const done = await client.waitFor(id, { timeoutMs: 10_000 });
    expect(done).toMatchObject({ state: 'completed', result: { summary: 'agreed (again)' }, approval: { state: 'approved', decisions: [{ decision: 'rejected', retry: true }, { by: { via: 'open', name: 'dee' } }] } });
    const events = await redis.connection.xrange(swarmKeys(stack.config.prefix).events, '-', '+');
    const decided = events.filter(([, f]) => f[1] === 'approval:decided').map(([, f]) => JSON.parse(f[3]!) as { task: string; node: string });
    expect(decided.filter((e) => e.task === id)).toEqual([
      expect.objectContaining({ decision: 'rejected', retry: true, round: 1, node: 'consensus-{swarm}' }),
      expect.objectContaining({ decision: 'approved', round: 2, node: 'consensus-{swarm}' }),
    ]);
  });
});
