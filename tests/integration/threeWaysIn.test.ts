// Property: random valid and invalid submissions through HTTP, the client and the
// intake queue end with every accepted task completed exactly once and every
// rejected one leaving nothing behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { redisForFile } from '../support/redis.ts';
import { testConfig, until } from '../support/swarm.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { INTAKE_QUEUE, nodeQueueName } from '../../queues/keys.ts';

const redis = redisForFile();
let stack: Stack;
let client: SwarmClient;
let intake: Queue;
let tallies: Redis;
const tallyKey = () => `${stack.config.prefix}:test:tally`;

beforeAll(async () => {
  const config = testConfig(redis);
  tallies = redis.connect();
  // Counts runs per token in Redis, so "exactly once" is checked from outside the host.
  const processors: ProcessorMap = {
    ...builtinProcessors,
    tally: async (payload) => {
      const { token } = payload as { token: string };
      await tallies.hincrby(tallyKey(), token, 1);
      return token;
    },
  };
  stack = await startStack(config, { agents: [{ type: 'worker', count: 15, capacity: 2 }], processors });
  client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
  intake = new Queue(INTAKE_QUEUE, { connection: redis.connection, prefix: config.prefix });
});

afterAll(async () => {
  await intake?.close();
  await client?.close();
  await stack?.stop();
  tallies?.disconnect();
});

type Way = 'http' | 'client' | 'intake';
interface Submission {
  way: Way;
  valid: boolean;
  task: { type: string; payload?: unknown; priority?: number; [k: string]: unknown };
}

let seq = 0;
const submission = fc.record({
  way: fc.constantFrom<Way>('http', 'client', 'intake'),
  flaw: fc.constantFrom('none', 'none', 'none', 'unknownType', 'badPriority', 'badPayload', 'extraField'),
  priority: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
});

function build(s: { way: Way; flaw: string; priority: number | undefined }): Submission {
  const token = `t${seq++}`;
  const task: Submission['task'] = { type: 'tally', payload: { token }, ...(s.priority ? { priority: s.priority } : {}) };
  if (s.flaw === 'unknownType') task.type = 'no-such-type';
  if (s.flaw === 'badPriority') task.priority = 0;
  if (s.flaw === 'badPayload') Object.assign(task, { type: 'sleep', payload: { ms: -5, token } });
  // The intake queue carries options in BullMQ job opts: an extra field there is just
  // payload, and priority 0 is BullMQ's "no priority", so both are valid that way.
  if (s.flaw === 'extraField' && s.way !== 'intake') task.colour = 'red';
  const valid = s.flaw === 'none' || (s.way === 'intake' && (s.flaw === 'extraField' || s.flaw === 'badPriority'));
  return { way: s.way, valid, task };
}

async function submit(s: Submission): Promise<{ accepted: boolean; id?: string; intakeJob?: Job }> {
  if (s.way === 'http') {
    const r = await stack.request('POST', '/api/tasks', s.task);
    return r.status === 202 ? { accepted: true, id: r.body.id } : { accepted: false };
  }
  if (s.way === 'client') {
    try {
      return { accepted: true, id: (await client.submit(s.task as never)).id };
    } catch {
      return { accepted: false };
    }
  }
  const job = await intake.add(s.task.type, s.task.payload, s.task.priority !== undefined ? { priority: s.task.priority } : {});
  const final = await until(async () => {
    const state = await job.getState();
    return state === 'completed' || state === 'failed' ? state : undefined;
  }, 10_000, 'intake job to be routed');
  const fresh = (await Queue.prototype.getJob.call(intake, job.id!)) as Job;
  return final === 'completed' ? { accepted: true, id: (fresh.returnvalue as { id: string }).id } : { accepted: false, intakeJob: fresh };
}

async function nodeJobIds(): Promise<string[]> {
  const nodes = (await stack.request('GET', '/api/nodes')).body.nodes as { id: string }[];
  // A task keeps its id when the balancer moves it to another node's queue, so every node's id is looked for in every queue.
  const isTaskId = (id: string) => nodes.some((n) => id.startsWith(`${n.id}.`));
  const ids: string[] = [];
  for (const n of nodes) {
    const keys = await tallies.keys(`${stack.config.prefix}:${nodeQueueName(n.id)}:*.*`);
    ids.push(...keys.filter((k) => !/:(lock|logs)$/.test(k)).map((k) => k.slice(k.lastIndexOf(':') + 1)).filter(isTaskId));
  }
  return ids.sort();
}

describe('three ways in', () => {
  it('accepted tasks complete exactly once; rejected ones leave nothing', async () => {
    const acceptedIds: string[] = [];
    await fc.assert(
      fc.asyncProperty(fc.array(submission, { minLength: 1, maxLength: 8 }), async (raw) => {
        const subs = raw.map(build);
        const results = await Promise.all(subs.map(submit));
        for (const [i, s] of subs.entries()) {
          const r = results[i]!;
          expect(r.accepted, `${s.way} ${JSON.stringify(s.task)}`).toBe(s.valid);
          if (r.accepted) acceptedIds.push(r.id!);
          if (s.way === 'intake' && !s.valid) expect(r.intakeJob!.failedReason).toMatch(/invalid|no agent/);
        }
        // Every accepted one completes, with its own token counted once.
        for (const [i, s] of subs.entries()) {
          const r = results[i]!;
          if (!r.accepted) continue;
          const t = await client.waitFor(r.id!, { timeoutMs: 15_000 });
          expect(t.state).toBe('completed');
          expect(t.result).toBe((s.task.payload as { token: string }).token);
        }
        const counts = await tallies.hgetall(tallyKey());
        for (const [i, s] of subs.entries()) {
          const token = (s.task.payload as { token: string }).token;
          expect(counts[token] ?? '0', `token ${token} via ${s.way}`).toBe(results[i]!.accepted ? '1' : '0');
        }
      }),
      { numRuns: 30 },
    );
    // Nothing else was created: the node queues hold exactly the accepted tasks.
    expect(await nodeJobIds()).toEqual([...acceptedIds].sort());
  }, 120_000);
});
