// The agents benchmark: what 1,000 agents in one process cost, swarmq against
// the naive design (one BullMQ Worker per agent), on one Redis in one run.
//   raw    1,000 BullMQ Workers over 100 queues, each given the Redis URL
//   batch  one AgentHost (started empty), spawnAgentBatch of 1,000
//   waves  the same, spawnAgentWaves with waveSize 20
//   pool   acquire('w') from a warm pool, serial, each timed
// Each contender runs in a child process of its own (node --expose-gc --import tsx
// bench/support/agentsChild.ts), so RSS is that contender's alone; every one is
// repeated --reps times, contenders in rotating order, and medians are reported.
// Connections are Redis clients on the server (CLIENT LIST) minus the count
// before the contender created anything.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { intFlag, listFlag } from './support/args.ts';
import type { AgentsContender, ChildResult, ChildSpec, PoolResult, SpawnResult } from './support/agentsChild.ts';
import { round, textTable } from './support/measure.ts';
import { benchRedis, dropPrefix } from './support/redis.ts';

const CONTENDERS: readonly AgentsContender[] = ['raw', 'batch', 'waves', 'pool'];
const SPAWNERS = ['raw', 'batch', 'waves'] as const;
type Spawner = (typeof SPAWNERS)[number];

/** DESIGN.md "Budgets", first row, and the pooled-acquire budget of this benchmark. */
const BUDGET = { readyMs: 1000, rssMbPerAgent: 0.1, connectionsPerNode: 2, connectionsConstant: 4, poolAcquireP99Ms: 1 };
/** The design report's figures (../shared/reference/design-report.txt). */
const REPORT = { spawnMsPerAgent: 35, mbPerAgent: 1, pooledSpawnMs: 5 };
/** DESIGN.md's own figure for raw BullMQ: 1,000 Workers = 2,000 connections, 4 s. */
const DESIGN_RAW = { connections: 2000, readyMs: 4000 };

const CHILD = fileURLToPath(new URL('./support/agentsChild.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const log = (msg: string) => console.error(msg);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function runChild(spec: ChildSpec, timeoutMs: number): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [JSON.stringify(spec)], {
      cwd: ROOT,
      execArgv: ['--expose-gc', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: ChildResult | undefined;
    let failure: string | undefined;
    const timer = setTimeout(() => {
      failure = `${spec.contender}: child ${child.pid} gave no result within ${secs(timeoutMs)}; killed`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('message', (m: ChildResult | { error: string }) => {
      if ('error' in m) failure = `${spec.contender} failed in child ${child.pid}: ${m.error}`;
      else result = m;
    });
    child.on('error', (err) => {
      failure ??= `${spec.contender}: could not start child: ${err.message}`;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result) resolve(result);
      else reject(new Error(failure ?? `${spec.contender}: child exited (${signal ?? code}) without a result`));
    });
  });
}

async function clientCount(observer: Redis): Promise<number> {
  const list = (await observer.client('LIST')) as string;
  return list.split('\n').filter((l) => l.trim().length > 0).length;
}

/** Waits until the previous child's connections are gone from the server, so the next baseline is clean. */
async function quiet(observer: Redis, baseline: number, timeoutMs = 15_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const n = await clientCount(observer);
    if (n <= baseline || performance.now() > deadline) return n;
    await sleep(50);
  }
}

interface Triple {
  readyMs: number;
  rssMbPerAgent: number;
  connections: number;
}

const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
const ratio = (a: number, b: number) => (b === 0 ? Infinity : a / b);
const times = (x: number) => (x >= 10 ? `${Math.round(x)}×` : `${x.toFixed(2)}×`);

export async function run(args: string[]): Promise<void> {
  const spec0 = {
    agents: intFlag(args, '--agents', 1000),
    queues: intFlag(args, '--queues', 100),
    waveSize: intFlag(args, '--wave-size', 20),
    pool: intFlag(args, '--pool', 200),
    acquires: intFlag(args, '--acquires', 1000),
    seated: intFlag(args, '--seated', 1000, 0),
    keepPerNode: intFlag(args, '--keep-per-node', 1),
    coldAcquires: intFlag(args, '--cold-acquires', 100, 0),
  };
  const reps = intFlag(args, '--reps', 3);
  const verbose = args.includes('--verbose');
  const selected = listFlag(args, '--only') ?? [...CONTENDERS];
  for (const c of selected) if (!CONTENDERS.includes(c as AgentsContender)) throw new Error(`--only: unknown contender "${c}" (${CONTENDERS.join(', ')})`);
  const only = CONTENDERS.filter((c) => selected.includes(c));
  const defaults = spec0.agents === 1000 && spec0.queues === 100 && spec0.waveSize === 20 && spec0.pool === 200 && spec0.acquires === 1000;
  const full = only.length === CONTENDERS.length && defaults;
  if (!full) log('note: a partial or non-default run prints its table but does not write bench/results/agents.json');

  const redis = await benchRedis();
  const onSignal = () => {
    void redis.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const observer = new Redis(redis.url, { maxRetriesPerRequest: 1, connectionName: 'bench:agents:parent' });
  observer.on('error', () => {});
  const runId = `bench-agents-${Date.now().toString(36)}`;
  const began = performance.now();
  const spawnRuns = new Map<Spawner, SpawnResult[]>();
  const poolRuns: PoolResult[] = [];
  try {
    const maxClients = Number(((await observer.config('GET', 'maxclients')) as string[])[1]);
    const needed = 2 * spec0.agents + 100;
    if (maxClients < needed) log(`warning: redis maxclients is ${maxClients}; raw needs ~${needed} (2 per Worker)`);
    const baseline = await clientCount(observer);
    log(`agents: ${redis.source} ${redis.url} (redis ${redis.version}, maxclients ${maxClients}), node ${process.version}, ${cpus().length} cpus`);
    log(
      `        ${spec0.agents} agents; raw over ${spec0.queues} queues; waves of ${spec0.waveSize}; pool of ${spec0.pool}, ${spec0.acquires} serial acquires ` +
        `(${spec0.seated} seated then retired to ${spec0.keepPerNode}/node first); ${reps} reps each, one child process per contender per rep`,
    );
    for (let rep = 0; rep < reps; rep++) {
      const order = only.map((_, i) => only[(i + rep) % only.length]!);
      for (const contender of order) {
        const left = await quiet(observer, baseline);
        if (left > baseline) log(`  note: ${left - baseline} clients still connected from earlier runs before ${contender} rep ${rep + 1}`);
        const prefix = `${runId}-${contender}-r${rep}`;
        const t = performance.now();
        try {
          const r = await runChild({ contender, url: redis.url, prefix, ...spec0 }, 180_000);
          if (r.kind === 'pool') {
            poolRuns.push(r);
            const a = r.acquire;
            log(
              `  rep ${rep + 1} pool   acquire p50 ${a.p50Ms.toFixed(3)} ms  p99 ${a.p99Ms.toFixed(3)} ms  max ${a.maxMs.toFixed(3)} ms  (first ${r.firstAcquireMs.toFixed(2)} ms); ` +
                `${r.fromPool}/${r.acquires} from the pool (level min ${r.poolLevelMin}, end ${r.poolLevelEnd}); ` +
                `${r.newNode} made a new node, ${r.preSeatedNode} joined a pre-seated node, ${r.acquiredNode} a node an earlier acquire made; ` +
                `nodes ${r.nodesBefore}→${r.nodesAfter}; clients +${r.connections} (host says ${r.hostConnectionCount}); ` +
                `${r.cold ? `cold acquire p50 ${r.cold.p50Ms.toFixed(3)} p99 ${r.cold.p99Ms.toFixed(3)} ms; ` : ''}` +
                `live ${r.liveness.ok ? 'yes' : 'NO'} (${r.liveness.ms.toFixed(1)} ms); ${secs(performance.now() - t)}`,
            );
            log(
              `        into a served node p50 ${r.acquireExistingNode.p50Ms.toFixed(3)} p99 ${r.acquireExistingNode.p99Ms.toFixed(3)} max ${r.acquireExistingNode.maxMs.toFixed(3)} ms (${r.acquireExistingNode.count}); ` +
                `making a node p50 ${r.acquireNewNode.p50Ms.toFixed(3)} max ${r.acquireNewNode.maxMs.toFixed(3)} ms (${r.acquireNewNode.count}); ` +
                `slowest: ${r.slowest.map((x) => `#${x.i} ${x.ms.toFixed(2)}${x.newNode ? ' new' : ''}${x.gcMs ? ` (gc ${x.gcMs.toFixed(1)})` : ''}`).join(', ')}; ` +
                `GC while acquiring: ${r.gc.pauses} pauses, ${r.gc.totalMs.toFixed(1)} ms, max ${r.gc.maxMs.toFixed(1)} ms; ${r.gc.slowWithGc} of the slowest ${r.gc.slowCount} overlapped a GC`,
            );
            if (!r.liveness.ok || verbose) log(`        liveness: ${r.liveness.detail}`);
          } else {
            spawnRuns.set(r.contender, [...(spawnRuns.get(r.contender) ?? []), r]);
            log(
              `  rep ${rep + 1} ${r.contender.padEnd(6)} ready ${r.readyMs.toFixed(1).padStart(7)} ms  RSS ${r.rssMbPerAgent.toFixed(4)} MB/agent ` +
                `(${r.rssBeforeMb.toFixed(0)}→${r.rssAfterMb.toFixed(0)} MB, heap ${r.heapMbPerAgent.toFixed(4)})  clients +${r.connections} for ${r.nodes} ${r.contender === 'raw' ? 'queues' : 'nodes'}` +
                `${r.hostConnectionCount !== undefined ? ` (host says ${r.hostConnectionCount}; empty host +${r.emptyHostConnections}, ${r.emptyHostRssMb!.toFixed(1)} MB)` : ''}` +
                `${r.waves ? `  ${r.waves.count} waves, median ${r.waves.medianMs.toFixed(1)} ms, first ${r.waves.firstMs.toFixed(1)}, max ${r.waves.maxMs.toFixed(1)}` : ''}` +
                `  running ${r.running}/${r.agents}  live ${r.liveness.ok ? 'yes' : 'NO'} (${r.liveness.ms.toFixed(1)} ms)  close ${r.closeMs.toFixed(0)} ms; ${secs(performance.now() - t)}`,
            );
            if (!r.liveness.ok || verbose) log(`        liveness: ${r.liveness.detail}`);
          }
        } finally {
          await dropPrefix(observer, prefix);
        }
      }
    }
  } finally {
    observer.disconnect();
    await redis.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  // Medians per contender.
  const triples = new Map<Spawner, Triple & { nodes: number; workers: number; running: number; agents: number; live: boolean; heapMbPerAgent: number; hostConnectionCount?: number }>();
  for (const name of SPAWNERS) {
    const rs = spawnRuns.get(name);
    if (!rs?.length) continue;
    triples.set(name, {
      readyMs: round(median(rs.map((r) => r.readyMs)), 1),
      rssMbPerAgent: round(median(rs.map((r) => r.rssMbPerAgent)), 4),
      connections: Math.round(median(rs.map((r) => r.connections))),
      nodes: Math.round(median(rs.map((r) => r.nodes))),
      // raw: one Worker per agent; swarmq: one per node served (the control Worker aside)
      workers: name === 'raw' ? spec0.agents : Math.round(median(rs.map((r) => r.nodes))),
      running: Math.min(...rs.map((r) => r.running)),
      agents: Math.min(...rs.map((r) => r.agents)),
      live: rs.every((r) => r.liveness.ok),
      heapMbPerAgent: round(median(rs.map((r) => r.heapMbPerAgent)), 4),
      ...(rs[0]!.hostConnectionCount !== undefined ? { hostConnectionCount: Math.round(median(rs.map((r) => r.hostConnectionCount!))) } : {}),
    });
  }
  const pool = poolRuns.length
    ? {
        p50Ms: round(median(poolRuns.map((r) => r.acquire.p50Ms)), 3),
        p99Ms: round(median(poolRuns.map((r) => r.acquire.p99Ms)), 3),
        maxMs: round(median(poolRuns.map((r) => r.acquire.maxMs)), 3),
        fromPoolFraction: round(median(poolRuns.map((r) => r.fromPool / r.acquires)), 4),
        newNode: Math.round(median(poolRuns.map((r) => r.newNode))),
        preSeatedNode: Math.round(median(poolRuns.map((r) => r.preSeatedNode))),
        acquiredNode: Math.round(median(poolRuns.map((r) => r.acquiredNode))),
        live: poolRuns.every((r) => r.liveness.ok),
        existing: {
          p50Ms: round(median(poolRuns.map((r) => r.acquireExistingNode.p50Ms)), 3),
          p99Ms: round(median(poolRuns.map((r) => r.acquireExistingNode.p99Ms)), 3),
          maxMs: round(median(poolRuns.map((r) => r.acquireExistingNode.maxMs)), 3),
          count: Math.round(median(poolRuns.map((r) => r.acquireExistingNode.count))),
        },
        made: {
          p50Ms: round(median(poolRuns.map((r) => r.acquireNewNode.p50Ms)), 3),
          p99Ms: round(median(poolRuns.map((r) => r.acquireNewNode.p99Ms)), 3),
          maxMs: round(median(poolRuns.map((r) => r.acquireNewNode.maxMs)), 3),
          count: Math.round(median(poolRuns.map((r) => r.acquireNewNode.count))),
        },
        cold: poolRuns[0]!.cold
          ? { p50Ms: round(median(poolRuns.map((r) => r.cold!.p50Ms)), 3), p99Ms: round(median(poolRuns.map((r) => r.cold!.p99Ms)), 3), newNode: poolRuns[0]!.cold.newNode, count: poolRuns[0]!.cold.count }
          : undefined,
      }
    : undefined;

  // The table.
  console.log();
  console.log(
    `agents benchmark: ${spec0.agents} agents in one process, medians of ${reps} run${reps === 1 ? '' : 's'} (one child process each); ` +
      `redis ${redis.version} (${redis.source}), node ${process.version}, ${cpus().length} cpus`,
  );
  console.log();
  const what: Record<Spawner, string> = {
    raw: `${spec0.agents} BullMQ Workers, ${spec0.queues} queues, own connections`,
    batch: `AgentHost.spawnAgentBatch`,
    waves: `AgentHost.spawnAgentWaves, waves of ${spec0.waveSize}`,
  };
  const rawT = triples.get('raw');
  console.log(
    textTable(
      ['contender', 'ready ms', 'ms/agent', 'RSS MB/agent', 'heap MB/agent', 'connections', 'Workers', 'conn/Worker', 'running', 'live', '÷ raw: time', 'RSS', 'conns', 'setup'],
      [...triples].map(([name, t]) => [
        name,
        t.readyMs.toFixed(1),
        (t.readyMs / t.agents).toFixed(3),
        t.rssMbPerAgent.toFixed(4),
        t.heapMbPerAgent.toFixed(4),
        t.connections,
        t.workers,
        (t.connections / t.workers).toFixed(2),
        `${t.running}/${t.agents}`,
        t.live ? 'yes' : 'NO',
        rawT && name !== 'raw' ? times(ratio(t.readyMs, rawT.readyMs)) : '',
        rawT && name !== 'raw' ? times(ratio(t.rssMbPerAgent, rawT.rssMbPerAgent)) : '',
        rawT && name !== 'raw' ? times(ratio(t.connections, rawT.connections)) : '',
        what[name],
      ]),
    ),
  );
  if (pool) {
    console.log();
    console.log(
      textTable(
        ['pooled acquire', 'count', 'p50 ms', 'p99 ms', 'max ms', 'from pool', 'made a node', 'joined a pre-seated node', 'joined a node an earlier acquire made', 'live'],
        [
          [`acquire('w'), all`, spec0.acquires, pool.p50Ms.toFixed(3), pool.p99Ms.toFixed(3), pool.maxMs.toFixed(3), `${(pool.fromPoolFraction * 100).toFixed(1)}%`, pool.newNode, pool.preSeatedNode, pool.acquiredNode, pool.live ? 'yes' : 'NO'],
          [`  joined a node already served`, pool.existing.count, pool.existing.p50Ms.toFixed(3), pool.existing.p99Ms.toFixed(3), pool.existing.maxMs.toFixed(3), '', '', '', '', ''],
          [`  made a node (new Worker)`, pool.made.count, pool.made.p50Ms.toFixed(3), pool.made.p99Ms.toFixed(3), pool.made.maxMs.toFixed(3), '', '', '', '', ''],
          ...(pool.cold ? [[`acquire('cold'), no pool`, pool.cold.count, pool.cold.p50Ms.toFixed(3), pool.cold.p99Ms.toFixed(3), '', '0%', pool.cold.newNode, '', '', '']] : []),
        ],
      ),
    );
    console.log(
      `  pool of ${spec0.pool} warm agents; before acquiring, ${spec0.seated} agents were spawned and retired down to ${spec0.keepPerNode} per node, ` +
        `so ${poolRuns[0]!.nodesBefore} nodes with running Workers had ${poolRuns[0]!.freeSeatsBefore} free seats; acquires are serial with one event-loop turn between them, the pool refills in the background`,
    );
  }
  console.log();
  console.log('  ready = from the first Worker constructed / the spawn call to every Worker ready (waitUntilReady); raw running = isRunning()');
  console.log('  RSS and heap = after − before, after a full GC (--expose-gc), ÷ agents; swarmq includes the host itself (started before the clock)');
  console.log('  connections = server CLIENT LIST after − before; swarmq includes the host\'s shared and control connections');
  console.log('  live = one task reached an agent and completed after spawning (swarmq: SwarmClient.submit echo; raw: a job on the first queue)');
  if (redis.source === 'REDIS_URL') console.log('  (REDIS_URL may be shared: another client connecting during a run changes the connection counts)');

  // Budget check (a miss is reported, never an exit code).
  const checks: { name: string; ok: boolean }[] = [];
  console.log();
  console.log('budget (DESIGN.md "Budgets", agents in one host process):');
  const check = (name: string, ok: boolean, detail: string) => {
    checks.push({ name, ok });
    console.log(`  ${verdict(ok)}  ${name.padEnd(44)} ${detail}`);
  };
  for (const name of ['batch', 'waves'] as const) {
    const t = triples.get(name);
    if (!t) continue;
    check(`${name}: ${t.agents} agents ready < ${BUDGET.readyMs} ms`, t.readyMs < BUDGET.readyMs && t.live && t.agents === spec0.agents, `${t.readyMs.toFixed(1)} ms${t.live ? '' : ' (liveness check FAILED)'}`);
    check(`${name}: RSS < ${BUDGET.rssMbPerAgent} MB per agent`, t.rssMbPerAgent < BUDGET.rssMbPerAgent, `${t.rssMbPerAgent.toFixed(4)} MB`);
    const limit = BUDGET.connectionsPerNode * t.nodes + BUDGET.connectionsConstant;
    check(`${name}: connections ≤ ${BUDGET.connectionsPerNode}/node + ${BUDGET.connectionsConstant}`, t.connections <= limit, `${t.connections} for ${t.nodes} nodes (limit ${limit}; host.connectionCount() says ${t.hostConnectionCount ?? '?'})`);
  }
  if (pool) check(`pooled acquire p99 < ${BUDGET.poolAcquireP99Ms} ms`, pool.p99Ms < BUDGET.poolAcquireP99Ms && pool.live, `${pool.p99Ms.toFixed(3)} ms (p50 ${pool.p50Ms.toFixed(3)}, max ${pool.maxMs.toFixed(3)})`);

  // Against the design report and raw BullMQ.
  const reportFor1000 = REPORT.spawnMsPerAgent * spec0.agents;
  console.log();
  console.log(`against the design report (~${REPORT.spawnMsPerAgent} ms per agent spawned → ${secs(reportFor1000)} for ${spec0.agents}; ~${REPORT.mbPerAgent} MB per agent; pooled < ${REPORT.pooledSpawnMs} ms):`);
  for (const [name, t] of triples) {
    console.log(
      `  ${name.padEnd(6)} ${t.readyMs.toFixed(1).padStart(8)} ms = ${(t.readyMs / t.agents).toFixed(3)} ms/agent, ${times(ratio(reportFor1000, t.readyMs))} faster than ${secs(reportFor1000)}; ` +
        `${t.rssMbPerAgent.toFixed(4)} MB/agent = ${times(ratio(REPORT.mbPerAgent, t.rssMbPerAgent))} less than ${REPORT.mbPerAgent} MB`,
    );
  }
  if (pool) console.log(`  pool   acquire p99 ${pool.p99Ms.toFixed(3)} ms vs < ${REPORT.pooledSpawnMs} ms (${times(ratio(REPORT.pooledSpawnMs, pool.p99Ms))} lower)`);
  if (rawT) {
    console.log();
    console.log(`against raw BullMQ measured here (DESIGN.md says ${DESIGN_RAW.connections} connections, ${secs(DESIGN_RAW.readyMs)}; measured ${rawT.connections}, ${secs(rawT.readyMs)}):`);
    for (const name of ['batch', 'waves'] as const) {
      const t = triples.get(name);
      if (!t) continue;
      console.log(
        `  ${name.padEnd(6)} time ${times(ratio(rawT.readyMs, t.readyMs))} faster, RSS ${times(ratio(rawT.rssMbPerAgent, t.rssMbPerAgent))} less, ` +
          `connections ${times(ratio(rawT.connections, t.connections))} fewer (${t.connections} vs ${rawT.connections})`,
      );
    }
  }

  const batch = triples.get('batch');
  const waves = triples.get('waves');
  if (full && rawT && batch && waves && pool) {
    const pick = (t: Triple): Triple => ({ readyMs: t.readyMs, rssMbPerAgent: t.rssMbPerAgent, connections: t.connections });
    const out = {
      raw: pick(rawT),
      batch: pick(batch),
      waves: pick(waves),
      poolAcquireP99Ms: pool.p99Ms,
      poolAcquireP50Ms: pool.p50Ms,
      meta: {
        date: new Date().toISOString(),
        node: process.version,
        redis: redis.version,
        redisSource: redis.source,
        cpus: cpus().length,
        reps,
        agents: spec0.agents,
        rawQueues: spec0.queues,
        waveSize: spec0.waveSize,
        nodes: { batch: batch.nodes, waves: waves.nodes },
        hostConnectionCount: { batch: batch.hostConnectionCount, waves: waves.hostConnectionCount },
        heapMbPerAgent: { raw: rawT.heapMbPerAgent, batch: batch.heapMbPerAgent, waves: waves.heapMbPerAgent },
        live: { raw: rawT.live, batch: batch.live, waves: waves.live, pool: pool.live },
        pool: {
          size: spec0.pool,
          acquires: spec0.acquires,
          seatedThenRetiredTo: { seated: spec0.seated, keepPerNode: spec0.keepPerNode, freeSeats: poolRuns[0]!.freeSeatsBefore, nodes: poolRuns[0]!.nodesBefore },
          maxMs: pool.maxMs,
          fromPoolFraction: pool.fromPoolFraction,
          acquiresThatCreatedANode: pool.newNode,
          acquiresIntoPreSeatedNodes: pool.preSeatedNode,
          acquiresIntoNodesOfEarlierAcquires: pool.acquiredNode,
          intoServedNode: pool.existing,
          makingANode: pool.made,
          coldAcquire: pool.cold,
        },
        runs: {
          raw: spawnRuns.get('raw')!.map((r) => ({ readyMs: round(r.readyMs, 1), rssMbPerAgent: round(r.rssMbPerAgent, 4), connections: r.connections })),
          batch: spawnRuns.get('batch')!.map((r) => ({ readyMs: round(r.readyMs, 1), rssMbPerAgent: round(r.rssMbPerAgent, 4), connections: r.connections })),
          waves: spawnRuns.get('waves')!.map((r) => ({ readyMs: round(r.readyMs, 1), rssMbPerAgent: round(r.rssMbPerAgent, 4), connections: r.connections })),
          poolAcquire: poolRuns.map((r) => ({ p50Ms: r.acquire.p50Ms, p99Ms: r.acquire.p99Ms, maxMs: r.acquire.maxMs })),
        },
        budget: Object.fromEntries(checks.map((c) => [c.name, verdict(c.ok)])),
        vsDesignReport: {
          reportMsFor1000: reportFor1000,
          reportMbPerAgent: REPORT.mbPerAgent,
          batchSpeedup: round(ratio(reportFor1000, batch.readyMs), 1),
          wavesSpeedup: round(ratio(reportFor1000, waves.readyMs), 1),
        },
        vsRaw: {
          batch: { time: round(ratio(batch.readyMs, rawT.readyMs), 4), rss: round(ratio(batch.rssMbPerAgent, rawT.rssMbPerAgent), 4), connections: round(ratio(batch.connections, rawT.connections), 4) },
          waves: { time: round(ratio(waves.readyMs, rawT.readyMs), 4), rss: round(ratio(waves.rssMbPerAgent, rawT.rssMbPerAgent), 4), connections: round(ratio(waves.connections, rawT.connections), 4) },
        },
      },
    };
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const file = fileURLToPath(new URL('./results/agents.json', import.meta.url));
    writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
    console.log(`\nwrote ${file}`);
  }
  log(`took ${secs(performance.now() - began)}`);
}
