// A job whose name is no task type of its host (here names Object.prototype
// holds, put straight into the node queue by a plain BullMQ producer) fails at
// once saying which type, which agent and what to do, and leaves that agent's
// circuit breaker where it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { AgentHost, type BreakerAlert } from '../../src/agents/host.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { AGENT_FIELD } from '../../src/tasks/view.ts';
import { nodeQueueName } from '../../queues/keys.ts';
import { redisForFile } from '../support/redis.ts';
import { testConfig, until } from '../support/swarm.ts';

const NAMES = ['constructor', 'toString', 'valueOf', '__proto__', 'hasOwnProperty'];

const redis = redisForFile();
let host: AgentHost;
let client: SwarmClient;
let queue: Queue;
let conn: Redis;
const alerts: BreakerAlert[] = [];

beforeAll(async () => {
  // Two failures in a row isolate the agent, so one counted by mistake shows.
  const config = testConfig(redis, { agents: { breakerFailures: 2, breakerCooldownMs: 60_000 } });
  host = new AgentHost({ config, hostId: 'ut', agents: [{ type: 'w', count: 1 }], processors: { ...builtinProcessors }, logger: silentLogger });
  host.on('breaker', (e) => alerts.push(e));
  await host.start();
  client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
  conn = redis.connect();
  queue = new Queue(nodeQueueName(host.agents()[0]!.node), { connection: redis.connection, prefix: config.prefix });
});

afterAll(async () => {
  await queue?.close();
  await client?.close();
  await host?.stop(500);
});

async function finished(job: Job): Promise<Job> {
  await until(async () => ['completed', 'failed'].includes(await job.getState()), 10_000, `job ${job.name} to finish`);
  return (await Job.fromId(queue, job.id!))!;
}

describe('a job named after something Object.prototype holds', () => {
  it('fails as an unknown task type, naming the agent, and does not count against its breaker', async () => {
    // One real failure: the agent's breaker is one failure from isolating it.
    const first = await client.waitFor((await client.submit({ type: 'fail', payload: {}, attempts: 1 })).id);
    expect(first.state).toBe('failed');

    for (const name of NAMES) {
      const job = await finished(await queue.add(name, { some: 'payload' }, { attempts: 3 }));
      expect(await job.getState(), name).toBe('failed');
      expect(job.returnvalue, name).toBeFalsy();
      expect(job.failedReason, name).toContain(`agent ut-a1 (host ut, node ${host.agents()[0]!.node}) has no processor for task type ${JSON.stringify(name)}`);
      expect(job.failedReason, name).toContain('--processors');
      expect(job.failedReason, name).toContain('echo');
      // The task names the agent that refused it, as any finished task does.
      expect(await conn.hget(`${queue.qualifiedName}:${job.id}`, AGENT_FIELD), name).toBe('ut-a1');
      // Unrecoverable: one attempt, no retry on a host that cannot run it.
      expect(job.attemptsMade, name).toBe(1);
    }
    // Neither a failure nor a success for the agent: its streak is still the one failure.
    expect(alerts).toEqual([]);
    const second = await client.waitFor((await client.submit({ type: 'fail', payload: {}, attempts: 1 })).id);
    expect(second.state).toBe('failed');
    await until(async () => alerts.length > 0, 5_000, 'the second failure in a row to isolate the agent');
    expect(alerts.map((a) => [a.agent, a.reason])).toEqual([['ut-a1', 'isolated']]);
  }, 30_000);
});
