// A batch of waitForAgent tasks no agent can take yet is parked with one roster
// re-read for the whole batch, not one per task: a batch of 1,000 used to cost
// ~2,000 HGETALLs (agents and nodes, per task), which with thousands of agents
// made parking 100 times slower than routing. Counted with MONITOR on a
// redis-server of this file's own: the HGETALLs of the roster's agents hash.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { AgentHost } from '../../src/agents/host.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { redisForFile } from '../support/redis.ts';
import { monitorCommands } from '../support/monitor.ts';
import { testConfig, until } from '../support/swarm.ts';
import { swarmKeys } from '../../queues/keys.ts';

const redis = redisForFile({ own: true });
let conn: Redis;
let client: SwarmClient;
let host: AgentHost;
let monitor: { stop(): void } | undefined;
let agentsKey: string;
let agentReads = 0;
const marks = new Set<string>();

beforeAll(async () => {
  conn = redis.connect();
  const config = testConfig(redis);
  agentsKey = swarmKeys(config.prefix).agents;
  monitor = await monitorCommands(redis.url, ({ cmd, args: [key] }) => {
    if (cmd === 'hgetall' && key === agentsKey) agentReads++;
    if (cmd === 'echo' && key) marks.add(key);
  });
  // Agents of one type ('w'), so the roster the router reads is not empty.
  host = new AgentHost({ config, hostId: 'h', agents: [{ type: 'w', count: 30 }], processors: builtinProcessors, logger: silentLogger });
  await host.start();
  // A long snapshot interval: the only roster reads in the count are the ones a submit makes.
  client = new SwarmClient({ redis: redis.url, prefix: config.prefix, config: { coordinator: { snapshotIntervalMs: 60_000 } } });
  await client.submit({ type: 'echo', payload: 'warm up', affinity: { agentType: 'w' } });
});

afterAll(async () => {
  await client?.close();
  await host?.stop(200);
  monitor?.stop();
});

/** Roster reads so far: every command sent before this call has reached the monitor. */
async function rosterReads(): Promise<number> {
  const mark = `mark-${marks.size}-${Math.random()}`;
  await conn.echo(mark);
  await until(async () => marks.has(mark), 5_000, 'the monitor to catch up');
  return agentReads;
}

const parkedTask = (i: number) => ({ type: 'echo', payload: i, affinity: { agentType: 'nobody-yet' }, waitForAgent: true });

describe('a batch of tasks waiting for an agent', () => {
  it.each([20, 200])('a batch of %i parked tasks reads the roster a constant number of times', async (n) => {
    const before = await rosterReads();
    const { ids } = await client.submitBatch(Array.from({ length: n }, (_, i) => parkedTask(i)));
    const reads = (await rosterReads()) - before;
    expect(ids).toHaveLength(n);
    expect(ids.every((id) => id.startsWith('parked.'))).toBe(true);
    // One forced re-read of the roster, whatever the batch size.
    expect(reads).toBeLessThanOrEqual(1);
  });

  it('a batch mixing routable and parked tasks still routes the routable ones to the capable node', async () => {
    const before = await rosterReads();
    const { ids } = await client.submitBatch([parkedTask(0), { type: 'echo', payload: 'x', affinity: { agentType: 'w' } }, parkedTask(1)]);
    expect((await rosterReads()) - before).toBeLessThanOrEqual(1);
    expect(ids[0]).toMatch(/^parked\./);
    expect(ids[1]).toMatch(/^n\d+\./);
    expect(ids[2]).toMatch(/^parked\./);
  });

  it('a batch with a task no agent can take and no waitForAgent is refused, naming it, after one re-read', async () => {
    const before = await rosterReads();
    const err = await client.submitBatch([parkedTask(0), { type: 'echo', payload: 'x', affinity: { agentType: 'nobody-yet' } }]).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as { details?: { path: string }[] }).details?.[0]?.path).toBe('tasks.1.affinity');
    expect((await rosterReads()) - before).toBeLessThanOrEqual(1);
  });
});
