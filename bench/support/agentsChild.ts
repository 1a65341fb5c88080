// One contender of the agents benchmark, alone in a fresh process, so one
// contender's heap and sockets never count against another's. Started by
// bench/agents.ts as `node --expose-gc --import tsx bench/support/agentsChild.ts '<json>'`
// with an IPC channel; it sends back one ChildResult (or { error }) and exits.
//
//   raw    N plain BullMQ Workers, one per agent, over Q queues, each given the
//          Redis URL (so each makes its own two connections, as users do)
//   batch  one AgentHost started empty, then spawnAgentBatch([{ type: 'w', count: N }])
//   waves  the same with spawnAgentWaves(…, { waveSize })
//   pool   an AgentHost with a warm pool, some agents seated in running nodes, then
//          serial acquire('w') calls, each timed
//
// RSS and Redis clients are read before anything is created and after all is
// ready (RSS after a full GC); clients are counted on the server (CLIENT LIST).
import { performance, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { AgentHost, type WaveEvent } from '../../src/agents/host.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { swarmConfigSchema } from '../../src/config/schema.ts';
import { silentLogger } from '../../src/log.ts';
import { ensureConnected } from '../../queues/connection.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { latencyHistogram, summarize, type LatencySummary } from './measure.ts';

export type AgentsContender = 'raw' | 'batch' | 'waves' | 'pool';

export interface ChildSpec {
  contender: AgentsContender;
  url: string;
  prefix: string;
  agents: number;
  queues: number;
  waveSize: number;
  pool: number;
  acquires: number;
  /** pool: agents spawned before acquiring, then retired down to keepPerNode per node. */
  seated: number;
  keepPerNode: number;
  coldAcquires: number;
}

export interface Liveness {
  ok: boolean;
  ms: number;
  detail: string;
}

export interface SpawnResult {
  kind: 'spawn';
  contender: 'raw' | 'batch' | 'waves';
  readyMs: number;
  rssMbPerAgent: number;
  connections: number;
  agents: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  heapMbPerAgent: number;
  /** swarmq: nodes served; raw: queues. */
  nodes: number;
  /** swarmq: host.connectionCount() after spawning (its own count, to compare with the server's). */
  hostConnectionCount?: number;
  /** swarmq: clients and MB the started, empty host holds before spawning (included in the totals). */
  emptyHostConnections?: number;
  emptyHostRssMb?: number;
  running: number;
  waves?: { count: number; firstMs: number; maxMs: number; medianMs: number };
  liveness: Liveness;
  closeMs: number;
}

export interface PoolResult {
  kind: 'pool';
  contender: 'pool';
  acquire: LatencySummary;
  firstAcquireMs: number;
  acquires: number;
  fromPool: number;
  /** acquires whose agent landed in a node this host did not serve before the call */
  newNode: number;
  /** landed in a node seated before the acquires began */
  preSeatedNode: number;
  /** landed in a node an earlier acquire had created */
  acquiredNode: number;
  nodesBefore: number;
  nodesAfter: number;
  seatedBefore: number;
  freeSeatsBefore: number;
  poolSize: number;
  poolLevelMin: number;
  poolLevelEnd: number;
  connections: number;
  hostConnectionCount: number;
  /** acquires that joined a node already served (no Worker constructed in the call) */
  acquireExistingNode: LatencySummary;
  /** acquires that made a node (and so constructed its Worker in the call) */
  acquireNewNode: LatencySummary;
  /** the slowest acquires: ms, whether it made a node, the warm level before it, its index */
  slowest: { i: number; ms: number; newNode: boolean; poolBefore: number; gcMs: number; atEpochMs: number }[];
  /** GC during the timed acquires: pauses, their total, and how many of the slowest 1% overlapped one */
  gc: { pauses: number; totalMs: number; maxMs: number; slowWithGc: number; slowCount: number };
  cold?: LatencySummary & { newNode: number };
  liveness: Liveness;
  closeMs: number;
}

export type ChildResult = SpawnResult | PoolResult;

const MB = 1024 * 1024;
const log = (msg: string) => console.error(`    [${process.pid}] ${msg}`);

function fullGc(): void {
  const gc = globalThis.gc;
  if (!gc) return;
  gc();
  gc();
}

async function settledRss(): Promise<{ rss: number; heap: number }> {
  await sleep(50);
  fullGc();
  await sleep(20);
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

/** RSS and heap per agent, and RSS before and after, from two settled readings. */
function memoryFigures(base: { rss: number; heap: number }, after: { rss: number; heap: number }, agents: number) {
  return {
    rssMbPerAgent: (after.rss - base.rss) / MB / agents,
    rssBeforeMb: base.rss / MB,
    rssAfterMb: after.rss / MB,
    heapMbPerAgent: (after.heap - base.heap) / MB / agents,
  };
}

async function clientCount(observer: Redis): Promise<number> {
  const list = (await observer.client('LIST')) as string;
  return list.split('\n').filter((l) => l.trim().length > 0).length;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const processors: ProcessorMap = { echo: (payload) => payload ?? null };

/** One task submitted through the swarmq client reaches an agent and completes. */
async function swarmqLiveness(url: string, prefix: string): Promise<Liveness> {
  const client = new SwarmClient({ redis: url, prefix });
  const t0 = performance.now();
  try {
    const token = `alive-${process.pid}-${Date.now()}`;
    const { id, node } = await client.submit({ type: 'echo', payload: { token } });
    const view = await client.waitFor(id, { timeoutMs: 10_000 });
    const ms = performance.now() - t0;
    const echoed = (view.result as { token?: unknown } | null)?.token === token;
    const ok = view.state === 'completed' && echoed && !!view.agentId;
    return { ok, ms, detail: `task ${id} → node ${node}, agent ${view.agentId ?? '?'}: ${view.state}${echoed ? '' : ' (result differs)'}` };
  } catch (err) {
    return { ok: false, ms: performance.now() - t0, detail: (err as Error).message };
  } finally {
    await client.close();
  }
}

function hostFor(spec: ChildSpec, pool?: { type: string; count: number }[]): AgentHost {
  const config = swarmConfigSchema.parse({ redisUrl: spec.url, prefix: spec.prefix });
  return new AgentHost({ config, hostId: `bench-agents-${spec.contender}`, processors, logger: silentLogger, ...(pool ? { pool } : {}) });
}

async function runRaw(spec: ChildSpec, observer: Redis): Promise<SpawnResult> {
  const base = await settledRss();
  const conns0 = await clientCount(observer);
  const workers: Worker[] = [];
  let errors = 0;
  let firstError = '';
  const t0 = performance.now();
  for (let i = 0; i < spec.agents; i++) {
    const w = new Worker(`raw-q${i % spec.queues}`, async (job) => job.data as unknown, { connection: { url: spec.url }, prefix: spec.prefix });
    w.on('error', (err) => {
      if (!errors++) firstError = err.message;
    });
    workers.push(w);
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const readyMs = performance.now() - t0;
  const running = workers.filter((w) => w.isRunning()).length;
  const after = await settledRss();
  const conns1 = await clientCount(observer);
  if (errors) log(`raw: ${errors} worker errors, first: ${firstError}`);

  // Liveness, outside the figures: one job on the first queue is taken and completed.
  const t1 = performance.now();
  const queue = new Queue('raw-q0', { connection: observer, prefix: spec.prefix });
  let liveness: Liveness;
  try {
    const job = await queue.add('echo', { alive: true });
    const deadline = performance.now() + 10_000;
    let state = await job.getState();
    while (state !== 'completed' && state !== 'failed' && performance.now() < deadline) {
      await sleep(1);
      state = await job.getState();
    }
    liveness = { ok: state === 'completed', ms: performance.now() - t1, detail: `job ${job.id} on raw-q0: ${state}` };
  } catch (err) {
    liveness = { ok: false, ms: performance.now() - t1, detail: (err as Error).message };
  }
  await queue.close();

  const t2 = performance.now();
  await withTimeout(Promise.all(workers.map((w) => w.close())), 30_000, 'closing raw workers').catch((err: Error) => log(err.message));
  const closeMs = performance.now() - t2;
  return {
    kind: 'spawn',
    contender: 'raw',
    readyMs,
    ...memoryFigures(base, after, spec.agents),
    connections: conns1 - conns0,
    agents: spec.agents,
    nodes: spec.queues,
    running,
    liveness,
    closeMs,
  };
}

async function runSpawn(spec: ChildSpec, observer: Redis, mode: 'batch' | 'waves'): Promise<SpawnResult> {
  const base = await settledRss();
  const conns0 = await clientCount(observer);
  const host = hostFor(spec);
  await host.start();
  const empty = await settledRss();
  const connsEmpty = await clientCount(observer);
  const waveMs: number[] = [];
  host.on('wave', (e: WaveEvent) => waveMs.push(e.ms));
  const t0 = performance.now();
  const agents =
    mode === 'batch'
      ? await host.spawnAgentBatch([{ type: 'w', count: spec.agents }])
      : await host.spawnAgentWaves([{ type: 'w', count: spec.agents }], { waveSize: spec.waveSize });
  const readyMs = performance.now() - t0;
  const after = await settledRss();
  const conns1 = await clientCount(observer);
  const hostConnectionCount = host.connectionCount();
  const nodes = host.nodeCount();
  if (agents.length !== spec.agents) log(`${mode}: asked for ${spec.agents} agents, got ${agents.length}`);
  const liveness = await swarmqLiveness(spec.url, spec.prefix);
  const t2 = performance.now();
  await withTimeout(host.stop(5000), 30_000, 'stopping the host').catch((err: Error) => log(err.message));
  const closeMs = performance.now() - t2;
  const sorted = [...waveMs].sort((a, b) => a - b);
  return {
    kind: 'spawn',
    contender: mode,
    readyMs,
    ...memoryFigures(base, after, spec.agents),
    connections: conns1 - conns0,
    agents: agents.length,
    nodes,
    hostConnectionCount,
    emptyHostConnections: connsEmpty - conns0,
    emptyHostRssMb: (empty.rss - base.rss) / MB,
    running: agents.length,
    ...(mode === 'waves' && sorted.length
      ? { waves: { count: sorted.length, firstMs: waveMs[0]!, maxMs: sorted[sorted.length - 1]!, medianMs: sorted[Math.floor(sorted.length / 2)]! } }
      : {}),
    liveness,
    closeMs,
  };
}

async function runPool(spec: ChildSpec, observer: Redis): Promise<PoolResult> {
  const conns0 = await clientCount(observer);
  const host = hostFor(spec, [{ type: 'w', count: spec.pool }]);
  await host.start();

  // Seated agents whose nodes keep free seats: spawn, then retire all but keepPerNode in each node,
  // so acquires join nodes whose Worker already runs (as after ordinary churn).
  let seatedBefore = 0;
  if (spec.seated > 0) {
    const agents = await host.spawnAgentBatch([{ type: 'w', count: spec.seated }]);
    const byNode = new Map<string, string[]>();
    for (const a of agents) byNode.set(a.node, [...(byNode.get(a.node) ?? []), a.id]);
    for (const ids of byNode.values()) for (const id of ids.slice(spec.keepPerNode)) await host.retire(id, 1000);
    seatedBefore = host.agents().length;
  }
  const maxPerNode = swarmConfigSchema.parse({}).coordinator.maxAgentsPerNode;
  const preSeated = new Set(host.agents().map((a) => a.node));
  const nodesBefore = host.nodeCount();
  const freeSeatsBefore = nodesBefore * maxPerNode - seatedBefore;
  // Let the start-up pool fill settle before timing.
  await sleep(50);

  const h = latencyHistogram();
  const hExisting = latencyHistogram();
  const hNew = latencyHistogram();
  const samples: { i: number; ms: number; newNode: boolean; poolBefore: number; gcMs: number; t0: number }[] = [];
  const gcs: PerformanceEntry[] = [];
  const gcObserver = new PerformanceObserver((list) => gcs.push(...list.getEntries()));
  gcObserver.observe({ entryTypes: ['gc'] });
  let fromPool = 0;
  let newNode = 0;
  let preSeatedNode = 0;
  let acquiredNode = 0;
  let poolLevelMin = Infinity;
  let firstAcquireMs = 0;
  const seen = new Set(preSeated);
  for (let i = 0; i < spec.acquires; i++) {
    // One event-loop turn between acquires, outside the clock, as when each acquire answers a
    // request: a loop of bare awaits never lets the pool's background refill hear back from Redis.
    await new Promise((r) => setImmediate(r));
    const nodes = host.nodeCount();
    const poolBefore = host.poolLevels().w ?? 0;
    const t0 = performance.now();
    const got = await host.acquire('w');
    const ms = performance.now() - t0;
    if (i === 0) firstAcquireMs = ms;
    const us = Math.max(1, Math.round(ms * 1000));
    h.recordValue(us);
    const made = host.nodeCount() > nodes;
    (made ? hNew : hExisting).recordValue(us);
    samples.push({ i, ms, newNode: made, poolBefore, gcMs: 0, t0 });
    if (got.fromPool) fromPool++;
    if (made) newNode++;
    else if (preSeated.has(got.node)) preSeatedNode++;
    else if (seen.has(got.node)) acquiredNode++;
    seen.add(got.node);
    poolLevelMin = Math.min(poolLevelMin, host.poolLevels().w ?? 0);
  }
  const acquire = summarize(h);
  await sleep(0);
  gcObserver.disconnect();
  for (const x of samples) {
    for (const g of gcs) {
      const overlap = Math.min(x.t0 + x.ms, g.startTime + g.duration) - Math.max(x.t0, g.startTime);
      if (overlap > 0) x.gcMs += g.duration;
    }
  }
  const bySpeed = [...samples].sort((a, b) => b.ms - a.ms);
  const slowCount = Math.max(1, Math.ceil(samples.length / 100));
  const gcSummary = {
    pauses: gcs.length,
    totalMs: gcs.reduce((s2, g) => s2 + g.duration, 0),
    maxMs: Math.max(0, ...gcs.map((g) => g.duration)),
    slowWithGc: bySpeed.slice(0, slowCount).filter((x) => x.gcMs > 0).length,
    slowCount,
  };
  // Give the last background Worker starts and refill a moment, then count.
  await sleep(200);
  const conns1 = await clientCount(observer);
  const hostConnectionCount = host.connectionCount();
  const nodesAfter = host.nodeCount();
  const poolLevelEnd = host.poolLevels().w ?? 0;

  // For comparison: acquire of a type without a warm pool (spawns one the slow way).
  let cold: (LatencySummary & { newNode: number }) | undefined;
  if (spec.coldAcquires > 0) {
    const hc = latencyHistogram();
    let coldNew = 0;
    for (let i = 0; i < spec.coldAcquires; i++) {
      const nodes = host.nodeCount();
      const t0 = performance.now();
      await host.acquire('cold');
      hc.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      if (host.nodeCount() > nodes) coldNew++;
    }
    cold = { ...summarize(hc), newNode: coldNew };
  }

  const liveness = await swarmqLiveness(spec.url, spec.prefix);
  const t2 = performance.now();
  await withTimeout(host.stop(5000), 30_000, 'stopping the host').catch((err: Error) => log(err.message));
  const closeMs = performance.now() - t2;
  return {
    kind: 'pool',
    contender: 'pool',
    acquire,
    acquireExistingNode: summarize(hExisting),
    acquireNewNode: summarize(hNew),
    slowest: bySpeed.slice(0, 12).map(({ t0, ...x }) => ({ ...x, atEpochMs: performance.timeOrigin + t0 })),
    gc: gcSummary,
    firstAcquireMs,
    acquires: spec.acquires,
    fromPool,
    newNode,
    preSeatedNode,
    acquiredNode,
    nodesBefore,
    nodesAfter,
    seatedBefore,
    freeSeatsBefore,
    poolSize: spec.pool,
    poolLevelMin: poolLevelMin === Infinity ? 0 : poolLevelMin,
    poolLevelEnd,
    connections: conns1 - conns0,
    hostConnectionCount,
    ...(cold ? { cold } : {}),
    liveness,
    closeMs,
  };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as ChildSpec;
  if (!process.send) throw new Error('agentsChild: start me with an IPC channel (bench/agents.ts does)');
  const observer = new Redis(spec.url, { maxRetriesPerRequest: null, connectionName: 'bench:agents:observer' });
  observer.on('error', () => {});
  await ensureConnected(observer);
  try {
    const result: ChildResult =
      spec.contender === 'raw'
        ? await runRaw(spec, observer)
        : spec.contender === 'pool'
          ? await runPool(spec, observer)
          : await runSpawn(spec, observer, spec.contender);
    await new Promise<void>((resolve, reject) => process.send!(result, undefined, {}, (err) => (err ? reject(err) : resolve())));
  } finally {
    observer.disconnect();
  }
}

main()
  .then(() => process.exit(0))
  .catch(async (err: Error) => {
    const msg = { error: err.stack ?? String(err) };
    if (process.send) await new Promise<void>((resolve) => process.send!(msg, undefined, {}, () => resolve()));
    else console.error(msg.error);
    process.exit(1);
  });
