// OpenTelemetry: with a TracerProvider registered (here the SDK's in-memory
// exporter), submit, route, run and balancer moves each leave a span with the
// task, node, agent and move in its attributes, and a consensus round one with
// its protocol and outcome. Without one, the same calls
// record nothing.
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeQueueName } from '../../queues/keys.ts';
import { newTaskId } from '../../src/tasks/ids.ts';
import { Consensus } from '../../src/consensus/runtime/consensus.ts';
import { traced } from '../../src/tracing/spans.ts';
import { redisForFile } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

const redis = redisForFile();
let stack: Stack;
const exporter = new InMemorySpanExporter();

afterAll(async () => {
  await stack?.stop();
  trace.disable();
});

const spans = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);

describe('tracing', () => {
  it('records nothing while no TracerProvider is registered', async () => {
    let recording: boolean | undefined;
    await traced('swarmq.probe', {}, async (span) => {
      recording = span.isRecording();
    });
    expect(recording).toBe(false);
  });

  it('spans submit, route, run, move and a consensus round once a provider is registered', async () => {
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    const config = testConfig(redis, { coordinator: { workStealing: { intervalMs: 50 } } });
    stack = await startStack(config, { agents: [{ type: 'w', count: 20 }] });

    const res = await stack.request('POST', '/api/tasks', { type: 'echo', payload: 'traced' });
    expect(res.status).toBe(202);
    const { id, node } = res.body as { id: string; node: string };
    await until(async () => spans('swarmq.run').find((s) => s.attributes['swarmq.task.id'] === id), 10_000, 'the run span');
    const submit = spans('swarmq.submit').find((s) => s.attributes['swarmq.task.id'] === id)!;
    expect(submit.attributes).toMatchObject({ 'swarmq.task.type': 'echo', 'swarmq.node': node });
    expect(spans('swarmq.route').some((s) => s.attributes['swarmq.node'] === node)).toBe(true);
    const run = spans('swarmq.run').find((s) => s.attributes['swarmq.task.id'] === id)!;
    expect(run.attributes).toMatchObject({ 'swarmq.task.type': 'echo', 'swarmq.node': node, 'swarmq.host': 'h1' });
    expect(String(run.attributes['swarmq.agent'])).toMatch(/^h1-/);

    const failed = await stack.request('POST', '/api/tasks', { type: 'no-such-type' });
    expect(failed.status).toBe(400);
    expect(spans('swarmq.submit').some((s) => s.status.code === 2 && s.events.some((e) => e.name === 'exception'))).toBe(true);

    // Skew: work piled into one node of two; the balancer moves some, each move a span.
    const q = new Queue(nodeQueueName('n1'), { connection: redis.connection, prefix: config.prefix });
    await q.addBulk(Array.from({ length: 200 }, () => ({ name: 'sleep', data: { payload: { ms: 30 } }, opts: { jobId: newTaskId('n1') } })));
    await q.close();
    const move = await until(async () => spans('swarmq.move').find((s) => Number(s.attributes['swarmq.move.moved']) > 0), 20_000, 'a move span');
    expect(move.attributes).toMatchObject({ 'swarmq.move.from': 'n1', 'swarmq.move.to': 'n2' });

    // A consensus round among three of the agents, run by a driver in this process.
    const consensus = new Consensus({ redis: redis.url, prefix: config.prefix });
    try {
      await consensus.drive();
      const outcome = await consensus.propose({ protocol: 'quorum', value: 'traced', participants: { count: 3 }, timeoutMs: 20_000 });
      expect(outcome.decided).toBe(true);
      const round = await until(async () => spans('swarmq.consensus').find((s) => s.attributes['swarmq.proposal.id'] === outcome.id), 10_000, 'the consensus span');
      expect(round.attributes).toMatchObject({ 'swarmq.consensus.protocol': 'quorum', 'swarmq.consensus.participants': 3, 'swarmq.consensus.decided': true });
    } finally {
      await consensus.close();
    }
  }, 60_000);
});
