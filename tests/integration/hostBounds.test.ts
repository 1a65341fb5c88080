// What a host refuses whoever asks: a spawn job put straight on its control
// queue (not through POST /api/agents) for more agents than agents.maxSpawn, or
// with data that is not a spawn request, fails with the reason and spawns
// nothing; and no node is made past the highest node sequence swarmq names,
// where the registering script (Lua) and TypeScript name nodes the same way.
import { afterAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { AgentHost } from '../../src/agents/host.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { nodeRecordSchema } from '../../src/swarm/records.ts';
import { controlQueueName, MAX_NODE_SEQ, nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { redisForFile } from '../support/redis.ts';
import { dump, testConfig, until } from '../support/swarm.ts';

const redis = redisForFile();
const cleanups: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function startHost(hostId: string, overrides: Parameters<typeof testConfig>[1] = {}): Promise<{ host: AgentHost; prefix: string }> {
  const config = testConfig(redis, overrides);
  const host = new AgentHost({ config, hostId, agents: [], processors: builtinProcessors, logger: silentLogger });
  await host.start();
  cleanups.push(() => host.stop(200));
  return { host, prefix: config.prefix };
}

describe("a host's control queue", () => {
  it('a spawn job over agents.maxSpawn, or not a spawn request, fails with the reason; nothing is spawned', async () => {
    const { host, prefix } = await startHost('ctl', { agents: { maxSpawn: 50 } });
    const control = new Queue(controlQueueName('ctl'), { connection: redis.connection, prefix });
    cleanups.push(() => control.close());
    const outcome = async (data: unknown) => {
      const job = await control.add('spawn', data, { attempts: 3 });
      const state = await until(async () => {
        const s = await job.getState();
        return s === 'completed' || s === 'failed' ? s : undefined;
      }, 10_000, 'the control job to be answered');
      const after = (await control.getJob(job.id!))!;
      return { state, reason: after.failedReason, attempts: after.attemptsMade };
    };
    const agentsKey = swarmKeys(prefix).agents;

    expect(await outcome({ type: 'w', count: 1_000_000 })).toMatchObject({ state: 'failed', reason: expect.stringMatching(/at most 50 agents at once \(agents\.maxSpawn\), asked for 1000000/), attempts: 1 });
    expect(await outcome({ type: 'w', count: 51 })).toMatchObject({ state: 'failed', reason: expect.stringMatching(/at most 50/) });
    expect(await outcome({ type: 'w', count: 'lots' })).toMatchObject({ state: 'failed', reason: expect.stringMatching(/count/) });
    expect(await outcome({ type: 'w', count: 1, extra: true })).toMatchObject({ state: 'failed', reason: expect.stringMatching(/extra/) });
    expect(host.agents()).toEqual([]);
    expect(await redis.connection.hlen(agentsKey)).toBe(0);

    // Within the bound it spawns.
    expect(await outcome({ type: 'w', count: 50 })).toMatchObject({ state: 'completed' });
    expect(host.agents()).toHaveLength(50);
  });
});

describe('the node sequence', () => {
  it('the script names the last node as TypeScript does, and makes none past it: refused, nothing written', async () => {
    const { host, prefix } = await startHost('seq');
    const k = swarmKeys(prefix);
    await redis.connection.set(k.nodeSeq, MAX_NODE_SEQ - 1);
    const [last] = await host.spawnAgentBatch([{ type: 'a', count: 1 }]);
    const id = `n${MAX_NODE_SEQ}`;
    expect(last!.node).toBe(id);
    const record = nodeRecordSchema.parse(JSON.parse((await redis.connection.hget(k.nodes, id))!));
    expect(record).toMatchObject({ id, seq: MAX_NODE_SEQ, queue: nodeQueueName(id) });
    expect(await redis.connection.get(k.nodeSeq)).toBe(String(MAX_NODE_SEQ));
    // The host's worker listens where routers send: the queue the record names.
    expect(await redis.connection.exists(`${prefix}:${nodeQueueName(id)}:meta`)).toBe(1);

    const before = await dump(redis.connection, prefix);
    const err = await host.spawnAgentBatch([{ type: 'b', count: 1 }]).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(new RegExp(`no node can be added: the node sequence is at ${MAX_NODE_SEQ}`));
    const after = await dump(redis.connection, prefix);
    for (const key of [k.agents, k.nodes, k.nodeSeq, k.rosterVersion]) expect(after[key], key).toBe(before[key]);
    // Agents of a profile with a node keep joining it.
    expect((await host.spawnAgentBatch([{ type: 'a', count: 1 }]))[0]!.node).toBe(id);
  });

  it('a node sequence left past the bound (a restore before it was checked) makes no node named n1e+14', async () => {
    const { host, prefix } = await startHost('big');
    const k = swarmKeys(prefix);
    await redis.connection.set(k.nodeSeq, '99999999999999');
    const err = await host.spawnAgentBatch([{ type: 'a', count: 1 }]).catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(/no node can be added: the node sequence is at 99999999999999/);
    expect(await redis.connection.hgetall(k.nodes)).toEqual({});
    expect(await redis.connection.hlen(k.agents)).toBe(0);
  });
});
