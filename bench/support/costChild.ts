// One process of the core bench's cost mode: a producer, a consumer (raw
// Worker or swarmq agent host), the intake contender's coordinator, or the HTTP
// contender's no-op service, alone, so its CPU is its own. Started by
// costProcs.ts as `node --import tsx bench/support/costChild.ts '<json>'` with
// an IPC channel. It sends { type: 'ready', … } once running, then answers:
//   cpu     → { type: 'cpu', us }: process.cpuUsage() user + system, µs since start
//   submit  → (producer) submits `n` no-op tasks, `window` in flight → { type: 'submitted' }
//   close   → stops what it runs → { type: 'closed' }, then exits
// Processors do nothing but read the task's seq; the parent counts completions in Redis.
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { AgentHost } from '../../src/agents/host.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { swarmConfigSchema } from '../../src/config/schema.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { silentLogger } from '../../src/log.ts';
import { INTAKE_QUEUE } from '../../queues/keys.ts';
import { seqOf, StartProbe, windowed } from './measure.ts';
import { startNoopService } from './httpNoop.ts';
import { isRaw, RAW_QUEUE, rawJob, rawSeqOf, type ContenderName } from './rigs.ts';

export type CostRole = 'producer' | 'consumer' | 'coordinator' | 'service';

export interface CostChildSpec {
  role: CostRole;
  contender: ContenderName;
  url: string;
  prefix: string;
  concurrency: number;
  /** http: the service's URL and the secret requests are signed with. */
  serviceUrl?: string;
  secret?: string;
}

export type ToChild = { type: 'cpu' } | { type: 'submit'; first: number; n: number; window: number } | { type: 'close' };
export type FromChild =
  | { type: 'ready'; nodes?: string[]; serviceUrl?: string }
  | { type: 'cpu'; us: number }
  | { type: 'submitted' }
  | { type: 'closed' }
  | { type: 'error'; error: string };

/** The key the keyed contender's tasks carry; its limits are checked at every start and never reached. */
const BENCH_KEY = 'bench-key';

const spec = JSON.parse(process.argv[2] ?? '{}') as CostChildSpec;
const send = (m: FromChild) => process.send?.(m);

interface Running {
  ready: Omit<Extract<FromChild, { type: 'ready' }>, 'type'>;
  submit?(seq: number): Promise<unknown>;
  close(): Promise<void>;
}

function connection(name: string): Redis {
  const r = new Redis(spec.url, { maxRetriesPerRequest: null, connectionName: name });
  r.on('error', () => {});
  return r;
}

const config = () => swarmConfigSchema.parse({ redisUrl: spec.url, prefix: spec.prefix, ...(spec.secret ? { agents: { endpointSecret: spec.secret } } : {}) });

async function producer(): Promise<Running> {
  if (isRaw(spec.contender) || spec.contender === 'intake') {
    const conn = connection(`bench:cost:${spec.contender}:producer`);
    const queue = new Queue(isRaw(spec.contender) ? RAW_QUEUE : INTAKE_QUEUE, { connection: conn, prefix: spec.prefix });
    await queue.waitUntilReady();
    return {
      ready: {},
      submit: (seq) => {
        const j = spec.contender === 'intake' ? { data: { seq } } : rawJob(spec.contender, seq);
        return queue.add('noop', j.data, j.opts);
      },
      async close() {
        await queue.close();
        conn.disconnect();
      },
    };
  }
  const client = new SwarmClient({ redis: spec.url, prefix: spec.prefix });
  const key = spec.contender === 'keyed' ? BENCH_KEY : undefined;
  if (key !== undefined) await client.setKeyLimits(key, { maxActive: 100_000, rate: { max: 100_000, perMs: 1000 } });
  return {
    ready: {},
    submit: (seq) => client.submit({ type: 'noop', payload: { seq }, ...(key !== undefined ? { key } : {}) }),
    close: () => client.close(),
  };
}

async function consumer(): Promise<Running> {
  const noop = async (payload: unknown) => {
    seqOf(payload);
    return null;
  };
  if (isRaw(spec.contender)) {
    const conn = connection(`bench:cost:${spec.contender}:worker`);
    const worker = new Worker(RAW_QUEUE, async (job) => {
      rawSeqOf(job.data);
      return null;
    }, { connection: conn, prefix: spec.prefix, concurrency: spec.concurrency });
    worker.on('error', (err) => console.error(`raw worker error: ${err.message}`));
    await worker.waitUntilReady();
    return {
      ready: {},
      async close() {
        await worker.close();
        conn.disconnect();
      },
    };
  }
  const http = spec.contender === 'http';
  if (http && !spec.serviceUrl) throw new Error('the http consumer needs serviceUrl');
  const host = new AgentHost({
    config: config(),
    hostId: 'bench-host',
    agents: [{ type: 'bench', count: spec.concurrency, capacity: 1 }],
    processors: http ? {} : { noop },
    ...(http ? { endpoints: { noop: { url: spec.serviceUrl!, maxSockets: spec.concurrency } } } : {}),
    logger: silentLogger,
  });
  await host.start();
  return { ready: { nodes: [...new Set(host.agents().map((a) => a.node))] }, close: () => host.stop(5000) };
}

async function coordinator(): Promise<Running> {
  const c = new Coordinator({ config: config(), logger: silentLogger });
  await c.start();
  return { ready: {}, close: () => c.stop() };
}

async function service(): Promise<Running> {
  if (!spec.secret) throw new Error('the service needs a secret');
  const s = await startNoopService(spec.secret, new StartProbe());
  return { ready: { serviceUrl: s.url }, close: () => s.close() };
}

const START: Record<CostRole, () => Promise<Running>> = { producer, consumer, coordinator, service };

try {
  const running = await START[spec.role]();
  process.on('message', (m: ToChild) => {
    void (async () => {
      try {
        if (m.type === 'cpu') {
          const u = process.cpuUsage();
          send({ type: 'cpu', us: u.user + u.system });
        } else if (m.type === 'submit') {
          if (!running.submit) throw new Error(`a ${spec.role} does not submit`);
          await windowed(m.n, m.window, (i) => running.submit!(m.first + i));
          send({ type: 'submitted' });
        } else if (m.type === 'close') {
          await running.close();
          send({ type: 'closed' });
          process.disconnect();
        }
      } catch (err) {
        send({ type: 'error', error: (err as Error).stack ?? String(err) });
      }
    })();
  });
  send({ type: 'ready', ...running.ready });
} catch (err) {
  send({ type: 'error', error: (err as Error).stack ?? String(err) });
  process.exit(1);
}
