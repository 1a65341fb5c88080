// Bull Board follows the swarm: node queues appear as nodes are made and leave
// with them, and the consensus queue shows up once a proposal has made it.
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentHost } from '../../src/agents/host.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { CONSENSUS_QUEUE, DEAD_LETTER_QUEUE, INTAKE_QUEUE, nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { redisForFile } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { commandConnection, testConfig, until } from '../support/swarm.ts';

const redis = redisForFile();
let stack: Stack;
let second: AgentHost | undefined;

beforeAll(async () => {
  stack = await startStack(testConfig(redis), { agents: [{ type: 'w', count: 1 }] });
});

afterAll(async () => {
  await second?.stop(1000);
  await stack?.stop();
});

async function boardQueues(): Promise<string[]> {
  const api = await stack.request('GET', '/admin/queues/api/queues?activeQueue=&page=1&jobsPerPage=10');
  expect(api.status).toBe(200);
  return (api.body.queues as { name: string }[]).map((q) => q.name);
}

describe('Bull Board at /admin/queues', () => {
  it('lists intake, dead-letter and every node queue, live as nodes come and go', async () => {
    // The board follows the router's roster snapshot, which may not hold n1 at the very first request.
    await until(async () => (await boardQueues()).includes(nodeQueueName('n1')), 10_000, 'n1 on the board');
    const names = await boardQueues();
    expect(names).toEqual(expect.arrayContaining([INTAKE_QUEUE, DEAD_LETTER_QUEUE, nodeQueueName('n1')]));

    second = new AgentHost({ config: stack.config, hostId: 'h2', agents: [{ type: 'other', count: 1 }], processors: builtinProcessors, logger: silentLogger });
    await second.start();
    await until(async () => (await boardQueues()).includes(nodeQueueName('n2')), 10_000, 'the new node on the board');

    // A node that leaves the roster leaves the board.
    const r = commandConnection(redis.url);
    await r.connect();
    const keys = swarmKeys(stack.config.prefix);
    await r.multi().hdel(keys.nodes, 'n2').incr(keys.rosterVersion).exec();
    await r.quit();
    await until(async () => !(await boardQueues()).includes(nodeQueueName('n2')), 10_000, 'the removed node to leave the board');
  });

  it('shows the consensus queue once it exists', async () => {
    const consensus = new Queue(CONSENSUS_QUEUE, { connection: { url: redis.url }, prefix: stack.config.prefix });
    await consensus.add('proposal', { test: true });
    await consensus.close();
    await until(async () => (await boardQueues()).includes(CONSENSUS_QUEUE), 10_000, 'the consensus queue on the board');
  });

  it('holds its JSON to the API depth bound: a deep job added through the board is a 400 and adds nothing', async () => {
    // Written by hand: JSON.stringify itself overflows the stack at this depth.
    const data = `${'{"d":'.repeat(5000)}"x"${'}'.repeat(5000)}`;
    const before = await stack.coordinator.intakeQueue.getJobCounts();
    const res = await stack.request('POST', '/admin/queues/api/queues/intake/add', `{"name":"deep","data":${data}}`, { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'invalid_request' } });
    expect(res.body.error.message).toMatch(/nested deeper than \d+ levels/);
    expect(await stack.coordinator.intakeQueue.getJobCounts()).toEqual(before);
  });
});
