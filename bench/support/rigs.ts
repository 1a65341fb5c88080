// The contenders a benchmark compares, each set up on its own key prefix:
//   raw     plain BullMQ: one Queue, one Worker of concurrency c
//   raw-opts  as raw, each job shaped as a swarmq task's (its envelope, a task id, attempts with backoff, retention by age): not in a
//             default run; it splits swarmq's excess into what its job asks of BullMQ and what swarmq itself does
//   swarmq  SwarmClient.submit → node queues → an in-process AgentHost of c agents (capacity 1)
//   intake  plain BullMQ Queue('{intake}') → the Coordinator's intake drain routes it in batches → the same AgentHost
//   http    as swarmq, but the agents are HTTP agents: each task a signed POST to a no-op service on loopback
//   keyed   as swarmq, each task with a key whose limits (maxActive, rate, both far above the load) are checked at its start (docs/keys.md)
// Every processor is the same no-op: report the start to the probe, return (http: the service does, on receiving the request).
import { Queue, Worker, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { AgentHost } from '../../src/agents/host.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { swarmConfigSchema } from '../../src/config/schema.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { silentLogger } from '../../src/log.ts';
import { taskEnvelope, taskJobOptions } from '../../src/tasks/nodeJob.ts';
import { newTaskId } from '../../src/tasks/ids.ts';
import { bullKey, INTAKE_QUEUE, nodeQueueName } from '../../queues/keys.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { seqOf, type StartProbe } from './measure.ts';
import { startNoopService } from './httpNoop.ts';
import type { HttpEndpoints } from '../../src/agents/httpEndpoints.ts';

export type ContenderName = 'raw' | 'raw-opts' | 'swarmq' | 'intake' | 'http' | 'keyed';

/** A default (full) run's contenders. */
export const CONTENDERS: readonly ContenderName[] = ['raw', 'swarmq', 'intake', 'http', 'keyed'];

/** Every contender, those a run takes only when named (--only, --cost-contenders) too. */
export const ALL_CONTENDERS: readonly ContenderName[] = [...CONTENDERS, 'raw-opts'];

/** A raw BullMQ contender: one Queue of its own, one Worker. */
export const isRaw = (name: ContenderName) => name === 'raw' || name === 'raw-opts';

/** The raw contenders' queue. */
export const RAW_QUEUE = 'bench';

const taskDefaults = swarmConfigSchema.parse({}).tasks;

/**
 * What plain BullMQ is given for one no-op task: raw, `{ seq }` and no options;
 * raw-opts, the job swarmq's submit builds for the task (src/tasks/nodeJob.ts:
 * its envelope, its id as jobId, the default attempts and backoff, retention by age).
 */
export function rawJob(name: ContenderName, seq: number): { data: unknown; opts?: JobsOptions } {
  if (name !== 'raw-opts') return { data: { seq } };
  const task = { type: 'noop', payload: { seq } };
  const id = newTaskId('n1');
  return { data: taskEnvelope(task), opts: taskJobOptions(task, id, taskDefaults) };
}

/** The seq of a raw contender's job (raw-opts: inside the envelope). */
export function rawSeqOf(data: unknown): number {
  return seqOf((data as { payload?: unknown } | null)?.payload ?? data);
}

/** What "concurrency c" means for each contender, for the printed table. */
export const CONCURRENCY_MEANS: Record<ContenderName, (c: number) => string> = {
  raw: (c) => `1 BullMQ Worker, concurrency ${c}`,
  'raw-opts': (c) => `as raw (1 BullMQ Worker, concurrency ${c}); each job as swarmq builds a task's: envelope, task id, attempts + backoff, retention by age`,
  swarmq: (c) => `${c} agent${c === 1 ? '' : 's'} of capacity 1 in 1 AgentHost = ${Math.ceil(c / 10)} node Worker${c > 10 ? 's' : ''} (≤10 agents/node)`,
  intake: (c) => `as swarmq (${c} agent${c === 1 ? '' : 's'}), plus the coordinator's intake drain (2 takers, batches of up to 50)`,
  http: (c) => `as swarmq (${c} agent${c === 1 ? '' : 's'}), HTTP agents: keep-alive POSTs (≤ ${c} connection${c === 1 ? '' : 's'}) to a signature-checking no-op service in this process`,
  keyed: (c) => `as swarmq (${c} agent${c === 1 ? '' : 's'}), each task with a key whose maxActive and rate are checked at its start (never reached)`,
};

export interface Rig {
  readonly name: ContenderName;
  readonly prefix: string;
  /** One single add/submit of a no-op task carrying `seq`. */
  submit(seq: number): Promise<unknown>;
  /** Tasks completed so far on the queues agents/workers serve (ZCARD of their completed sets). */
  completed(): Promise<number>;
  /**
   * Like completed, but also waits out the contender's own bookkeeping jobs
   * (intake: the intake job that routed the task), so a serial run starts each
   * task on an idle system.
   */
  settled(): Promise<number>;
  close(): Promise<void>;
}

export interface RigOptions {
  url: string;
  prefix: string;
  concurrency: number;
  probe: StartProbe;
  /** A connection of the bench's own, for polling completion counts. */
  observer: Redis;
}

function connection(url: string, name: string): Redis {
  const r = new Redis(url, { maxRetriesPerRequest: null, connectionName: name });
  r.on('error', () => {});
  return r;
}

function completedCounter(observer: Redis, keys: string[]): () => Promise<number> {
  return async () => {
    const p = observer.pipeline();
    for (const k of keys) p.zcard(k);
    const res = (await p.exec()) ?? [];
    return res.reduce((s, [err, n]) => (err ? s : s + Number(n)), 0);
  };
}

export async function startRaw(o: RigOptions, name: 'raw' | 'raw-opts' = 'raw'): Promise<Rig> {
  const producerConn = connection(o.url, 'bench:raw:producer');
  const workerConn = connection(o.url, 'bench:raw:worker');
  const queue = new Queue(RAW_QUEUE, { connection: producerConn, prefix: o.prefix });
  const worker = new Worker(
    RAW_QUEUE,
    async (job) => {
      o.probe.onStart(rawSeqOf(job.data));
      return null;
    },
    { connection: workerConn, prefix: o.prefix, concurrency: o.concurrency },
  );
  worker.on('error', (err) => console.error(`raw worker error: ${err.message}`));
  await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);
  const completed = completedCounter(o.observer, [bullKey(o.prefix, RAW_QUEUE, 'completed')]);
  return {
    name,
    prefix: o.prefix,
    submit: (seq) => {
      const j = rawJob(name, seq);
      return queue.add('noop', j.data, j.opts);
    },
    completed,
    settled: completed,
    async close() {
      await worker.close();
      await queue.close();
      producerConn.disconnect();
      workerConn.disconnect();
    },
  };
}

function noopProcessors(probe: StartProbe): ProcessorMap {
  return {
    noop: async (payload) => {
      probe.onStart(seqOf(payload));
      return null;
    },
  };
}

export async function startHost(o: RigOptions, http?: { endpoints: HttpEndpoints; secret: string }): Promise<{ host: AgentHost; completed: () => Promise<number> }> {
  const config = swarmConfigSchema.parse({ redisUrl: o.url, prefix: o.prefix, ...(http ? { agents: { endpointSecret: http.secret } } : {}) });
  const host = new AgentHost({
    config,
    hostId: 'bench-host',
    agents: [{ type: 'bench', count: o.concurrency, capacity: 1 }],
    processors: http ? {} : noopProcessors(o.probe),
    ...(http ? { endpoints: http.endpoints } : {}),
    logger: silentLogger,
  });
  await host.start();
  const nodes = [...new Set(host.agents().map((a) => a.node))];
  return { host, completed: completedCounter(o.observer, nodes.map((n) => bullKey(o.prefix, nodeQueueName(n), 'completed'))) };
}

/** The key the keyed contender's tasks carry, with limits that are checked at every start and never reached. */
const BENCH_KEY = 'bench-key';

/** A swarmq host of `o.concurrency` agents and a client submitting `noop` tasks to it (with `key`, under that key); `closeAlso` runs after both close. */
async function hostRig(name: Rig['name'], o: RigOptions, http?: { endpoints: HttpEndpoints; secret: string }, closeAlso?: () => Promise<void>, key?: string): Promise<Rig> {
  const { host, completed } = await startHost(o, http);
  const client = new SwarmClient({ redis: o.url, prefix: o.prefix });
  if (key !== undefined) await client.setKeyLimits(key, { maxActive: 100_000, rate: { max: 100_000, perMs: 1000 } });
  return {
    name,
    prefix: o.prefix,
    submit: (seq) => client.submit({ type: 'noop', payload: { seq }, ...(key !== undefined ? { key } : {}) }),
    completed,
    settled: completed,
    async close() {
      await client.close();
      await host.stop(5000);
      await closeAlso?.();
    },
  };
}

export function startSwarmq(o: RigOptions): Promise<Rig> {
  return hostRig('swarmq', o);
}

export function startKeyed(o: RigOptions): Promise<Rig> {
  return hostRig('keyed', o, undefined, undefined, BENCH_KEY);
}

export async function startHttp(o: RigOptions): Promise<Rig> {
  const secret = 'bench-secret-0123456789abcdef';
  const service = await startNoopService(secret, o.probe);
  return await hostRig('http', o, { endpoints: { noop: { url: service.url, maxSockets: o.concurrency } }, secret }, () => service.close());
}

export async function startIntake(o: RigOptions): Promise<Rig> {
  const { host, completed } = await startHost(o);
  const config = swarmConfigSchema.parse({ redisUrl: o.url, prefix: o.prefix });
  const coordinator = new Coordinator({ config, logger: silentLogger });
  await coordinator.start();
  const producerConn = connection(o.url, 'bench:intake:producer');
  const producer = new Queue(INTAKE_QUEUE, { connection: producerConn, prefix: o.prefix });
  await producer.waitUntilReady();
  const intakeDone = completedCounter(o.observer, [bullKey(o.prefix, INTAKE_QUEUE, 'completed')]);
  return {
    name: 'intake',
    prefix: o.prefix,
    submit: (seq) => producer.add('noop', { seq }),
    completed,
    settled: async () => {
      const [tasks, intakeJobs] = await Promise.all([completed(), intakeDone()]);
      return Math.min(tasks, intakeJobs);
    },
    async close() {
      await producer.close();
      producerConn.disconnect();
      await coordinator.stop();
      await host.stop(5000);
    },
  };
}

export const START: Record<ContenderName, (o: RigOptions) => Promise<Rig>> = {
  raw: startRaw,
  'raw-opts': (o) => startRaw(o, 'raw-opts'),
  swarmq: startSwarmq,
  intake: startIntake,
  http: startHttp,
  keyed: startKeyed,
};
