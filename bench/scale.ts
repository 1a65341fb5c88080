// The scale benchmark: H agent-host processes of N agents each on one Redis,
// with a coordinator, as a user runs them (`swarmq coordinator`, `swarmq agents
// --count N`), at each size of --hosts (default 1 and 10: 1,000 and 10,000
// agents). Per size:
//   ready      time from starting the hosts until every agent is in the roster
//              and every host is live in the loads the coordinator publishes
//   idle       with nothing to do, over --idle-ms: Redis commands/s (INFO stats)
//              and Redis's CPU, each process's CPU (/proc), with 0 and then
//              --producers idle producer processes (each a SwarmClient that
//              submitted one task)
//   pickup     --pickups serial tasks from a producer process: submit → the
//              agent's start, both sides timed with performance.now()
//   throughput --tasks no-op tasks with 50 submits in flight, over all nodes
//   dashboard  /dashboard in headless Chromium: load and worst frame
//   raw        the same pickup and throughput on plain BullMQ in the same
//              layout (as many processes, queues and slots, swarmq stopped),
//              so what the machine allows at each size is measured beside swarmq
// Writes bench/results/scale.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from '../src/cli/redisServer.ts';
import { PublishedLoads } from '../src/coordinator/publishedLoads.ts';
import { PARKED_NODE } from '../queues/keys.ts';
import { intFlag, listFlag } from './support/args.ts';
import { costPerTask, costSnapshot, round, textTable } from './support/measure.ts';
import { benchRedis, dropPrefix } from './support/redis.ts';
import { measureDashboard, type DashboardFigures } from './support/scaleDashboard.ts';
import { cpuSeconds, startCoordinator, startHost, startProducer, startRawWorkers, stopAll, type Proc } from './support/scaleFleet.ts';
import { pickupFigures, pickupRun, throughputRun, untilReady } from './support/fleetRun.ts';

/** Issue 15's budgets at 10,000 agents on 10 hosts (and DESIGN.md's pickup p99). */
const BUDGET = { idleRedisOpsPerSec: 2000, producerCpu: 0.01, coordinatorCpu: 0.1, hostCpu: 0.05, pickupP50Ms: 1, pickupP99Ms: 5, throughputRatio: 0.9, dashboardLoadMs: 2000, dashboardWorstFrameMs: 100 };

const log = (msg: string) => console.error(msg);

interface Idle {
  redisOpsPerSec: number;
  redisCpu: number;
  coordinator: number;
  /** Highest and mean share of a core over the hosts. */
  hostMax: number;
  hostMean: number;
  producerMax: number;
  /** Redis commands per second by name (scripts' own calls included), most first. */
  byCommand: [string, number][];
}

/** Plain BullMQ in swarmq's layout at this size: a Worker per node queue, as many processes as hosts. */
interface RawFigures {
  processes: number;
  queues: number;
  concurrency: number;
  pickupP50Ms: number;
  pickupP99Ms: number;
  submitP50Ms: number;
  throughputC50: number;
  cpuPerTaskUs: { workers: number; producer: number; redis: number; redisCommands: number };
}

export interface SizeFigures {
  hosts: number;
  agents: number;
  readyMs: number;
  idleRedisOpsPerSec: number;
  idleRedisOpsPerSecWith10Producers: number;
  idleCpu: { coordinator: number; host: number; producer: number };
  pickupP50Ms: number;
  pickupP99Ms: number;
  throughputC50: number;
  dashboardLoadMs: number | null;
  dashboardWorstFrameMs: number | null;
  /** The same pickup and throughput on plain BullMQ in the same layout, in the same run. */
  rawBullmq: RawFigures;
  detail: {
    idle: Idle;
    idleWithProducers: Idle;
    /** During the throughput run: CPU µs per task in each process kind (hosts summed) and Redis, and Redis commands per task. */
    cpuPerTaskUs: { coordinator: number; hosts: number; producer: number; redis: number; redisCommands: number };
    busyByCommand: [string, number][];
    dashboardAgentRows: number | null;
    producers: number;
  };
}

/** Commands Redis has run (INFO stats), scripts' own calls included. */
async function commandsRun(r: Redis): Promise<number> {
  return Number(/total_commands_processed:([0-9]+)/.exec(await r.info('stats'))?.[1] ?? NaN);
}

async function measureIdle(r: Redis, coordinator: Proc, hosts: readonly Proc[], producers: readonly Proc[], ms: number): Promise<Idle> {
  const all = [coordinator, ...hosts, ...producers];
  const cpu0 = all.map((p) => cpuSeconds(p.child.pid!));
  const c0 = await costSnapshot(r);
  const n0 = await commandsRun(r);
  const t0 = performance.now();
  await sleep(ms);
  const n1 = await commandsRun(r);
  const c1 = await costSnapshot(r);
  const secs = (performance.now() - t0) / 1000;
  const share = all.map((p, i) => (cpuSeconds(p.child.pid!) - cpu0[i]!) / secs);
  const hostShares = share.slice(1, 1 + hosts.length);
  const producerShares = share.slice(1 + hosts.length);
  return {
    // The first INFO stats is counted once it has run, so it is in the second reading: the bench's own.
    redisOpsPerSec: round((n1 - n0 - 1) / secs, 0),
    redisCpu: round((c1.redisCpuUs - c0.redisCpuUs) / 1e6 / secs, 4),
    coordinator: round(share[0]!, 4),
    hostMax: round(Math.max(...hostShares), 4),
    hostMean: round(hostShares.reduce((s, x) => s + x, 0) / hostShares.length, 4),
    producerMax: producerShares.length ? round(Math.max(...producerShares), 4) : 0,
    byCommand: costPerTask(c0, c1, secs).byCommand.slice(0, 10).map(([name, n]) => [name, round(n, 1)]),
  };
}

/** Plain BullMQ in the layout swarmq ran: `processes` processes, `queues` queues spread evenly over them, `concurrency` each. */
async function measureRaw(r: Redis, url: string, layout: { processes: number; queues: number; concurrency: number }, o: { pickups: number; tasks: number }): Promise<RawFigures> {
  const prefix = 'rawbench';
  await dropPrefix(r, prefix);
  const names = Array.from({ length: layout.queues }, (_, i) => `q${i + 1}`);
  const perProcess = Math.ceil(layout.queues / layout.processes);
  const procs: Proc[] = [];
  try {
    for (let i = 0; i < layout.processes; i++) procs.push(await startRawWorkers({ url, prefix, queues: names.slice(i * perProcess, (i + 1) * perProcess), concurrency: layout.concurrency }, i + 1));
    const workers = [...procs];
    const spread = { url, prefix, processes: layout.processes, queues: names };
    const pickup = startProducer({ mode: 'pickup', ...spread, tasks: o.pickups, warmup: Math.max(200, Math.ceil(o.pickups / 5)) });
    procs.push(pickup.proc);
    const p = pickupFigures((await pickup.result) as { pickupsMs: number[]; submitsMs: number[] });
    const t = await throughputRun([r], { mode: 'throughput', ...spread, tasks: o.tasks, window: 50, warmup: Math.ceil(o.tasks / 2) }, workers, procs);
    log(`  raw BullMQ, same layout: pickup p50 ${p.p50} ms, p99 ${p.p99} ms; throughput ${t.tasksPerSec} tasks/s`);
    return {
      ...layout,
      pickupP50Ms: p.p50,
      pickupP99Ms: p.p99,
      submitP50Ms: p.submitP50,
      throughputC50: t.tasksPerSec,
      cpuPerTaskUs: { workers: t.perTask.reduce((a, b) => a + b, 0), producer: t.producerUs, redis: round(t.redis[0]!.redisCpuUs, 0), redisCommands: round(t.redis[0]!.redisCalls, 1) },
    };
  } finally {
    await stopAll(procs);
    await dropPrefix(r, prefix);
  }
}

async function runSize(hostCount: number, perHost: number, o: { idleMs: number; settleMs: number; producers: number; pickups: number; tasks: number; dashboard: boolean }): Promise<SizeFigures> {
  const redis = await benchRedis();
  const r = new Redis(redis.url);
  const procs: Proc[] = [];
  try {
    await dropPrefix(r, 'swarmq');
    const port = await freePort();
    const coordinator = startCoordinator(redis.url, port);
    procs.push(coordinator);
    const base = `http://127.0.0.1:${port}`;
    for (const deadline = performance.now() + 60_000; ; await sleep(100)) {
      if (coordinator.child.exitCode !== null) throw new Error(`the coordinator exited: ${coordinator.tail()}`);
      const ok = await fetch(`${base}/readyz`).then((res) => res.ok, () => false);
      if (ok) break;
      if (performance.now() > deadline) throw new Error(`the coordinator was not ready after 60 s: ${coordinator.tail()}`);
    }
    const agents = hostCount * perHost;
    log(`  ${hostCount} host${hostCount > 1 ? 's' : ''} × ${perHost} agents: starting`);
    const t0 = performance.now();
    const hosts = Array.from({ length: hostCount }, (_, i) => startHost(redis.url, i + 1, perHost));
    procs.push(...hosts);
    await untilReady(r, hosts, agents);
    const readyMs = round(performance.now() - t0, 0);
    log(`  ready in ${readyMs} ms; settling ${o.settleMs} ms, then idle for ${o.idleMs} ms`);
    await sleep(o.settleMs);
    const idle = await measureIdle(r, coordinator, hosts, [], o.idleMs);

    const idlers = Array.from({ length: o.producers }, (_, i) => startProducer({ mode: 'idle', url: redis.url }, i + 1));
    procs.push(...idlers.map((p) => p.proc));
    await Promise.all(idlers.map((p) => p.result));
    await sleep(o.settleMs);
    const idleWithProducers = await measureIdle(r, coordinator, hosts, idlers.map((p) => p.proc), o.idleMs);
    await stopAll(idlers.map((p) => p.proc));
    log(`  idle: ${idle.redisOpsPerSec} commands/s, with ${o.producers} producers ${idleWithProducers.redisOpsPerSec}`);

    const pick = await pickupRun(redis.url, o.pickups, procs);
    log(`  pickup p50 ${pick.p50} ms, p99 ${pick.p99} ms (of which the submit call: p50 ${pick.submitP50} ms)`);

    const t = await throughputRun([r], { mode: 'throughput', url: redis.url, tasks: o.tasks, window: 50, warmup: Math.ceil(o.tasks / 2) }, [coordinator, ...hosts], procs);
    const redisPerTask = t.redis[0]!;
    const cpuPerTaskUs = { coordinator: t.perTask[0]!, hosts: t.perTask.slice(1).reduce((a, b) => a + b, 0), producer: t.producerUs, redis: round(redisPerTask.redisCpuUs, 0), redisCommands: round(redisPerTask.redisCalls, 1) };
    const throughputC50 = t.tasksPerSec;
    log(`  throughput at 50 in flight: ${throughputC50} tasks/s; CPU per task (µs): ${JSON.stringify(cpuPerTaskUs)}`);

    let dash: DashboardFigures | undefined;
    if (o.dashboard) {
      dash = await measureDashboard(base);
      log(`  dashboard: loaded in ${round(dash.loadMs, 0)} ms, worst frame ${round(dash.worstFrameMs, 0)} ms, ${dash.agentRows} table rows`);
    }

    // The reference: swarmq's layout on plain BullMQ, with swarmq's processes stopped so both had the machine to themselves.
    const nodes = [...((await new PublishedLoads(r, 'swarmq').fetch())?.snapshot.counts.keys() ?? [])].filter((n) => n !== PARKED_NODE).length;
    await stopAll(procs.splice(0));
    const rawBullmq = await measureRaw(r, redis.url, { processes: hostCount, queues: nodes, concurrency: Math.max(1, Math.round(agents / nodes)) }, o);
    return {
      hosts: hostCount,
      agents,
      readyMs,
      idleRedisOpsPerSec: idle.redisOpsPerSec,
      idleRedisOpsPerSecWith10Producers: idleWithProducers.redisOpsPerSec,
      idleCpu: { coordinator: idleWithProducers.coordinator, host: idleWithProducers.hostMax, producer: idleWithProducers.producerMax },
      pickupP50Ms: pick.p50,
      pickupP99Ms: pick.p99,
      throughputC50,
      dashboardLoadMs: dash ? round(dash.loadMs, 0) : null,
      dashboardWorstFrameMs: dash ? round(dash.worstFrameMs, 0) : null,
      rawBullmq,
      detail: { idle, idleWithProducers, cpuPerTaskUs, busyByCommand: redisPerTask.byCommand.slice(0, 12).map(([n, c]) => [n, round(c, 2)]), dashboardAgentRows: dash?.agentRows ?? null, producers: o.producers },
    };
  } finally {
    await stopAll(procs);
    r.disconnect();
    await redis.stop();
  }
}

const pct = (x: number) => `${round(x * 100, 1)} %`;

export async function run(args: string[]): Promise<void> {
  const hostCounts = (listFlag(args, '--hosts') ?? ['1', '10']).map(Number);
  const perHost = intFlag(args, '--per-host', 1000);
  const o = {
    idleMs: intFlag(args, '--idle-ms', 30_000),
    settleMs: intFlag(args, '--settle-ms', 5_000, 0),
    producers: intFlag(args, '--producers', 10, 0),
    pickups: intFlag(args, '--pickups', 500),
    tasks: intFlag(args, '--tasks', 10_000),
    dashboard: !args.includes('--no-dashboard'),
  };
  const results: Record<string, SizeFigures> = {};
  for (const h of hostCounts) {
    const key = `agents${(h * perHost) / 1000}k`;
    log(`scale: ${key}`);
    results[key] = await runSize(h, perHost, o);
  }
  const keys = Object.keys(results);
  const row = (label: string, f: (s: SizeFigures) => string | number) => [label, ...keys.map((k) => f(results[k]!))];
  console.log(
    textTable(
      ['', ...keys],
      [
        row('hosts × agents', (s) => `${s.hosts} × ${s.agents / s.hosts}`),
        row('ready (ms)', (s) => s.readyMs),
        row('idle Redis commands/s', (s) => s.idleRedisOpsPerSec),
        row(`… with ${o.producers} idle producers`, (s) => s.idleRedisOpsPerSecWith10Producers),
        row('idle Redis CPU', (s) => pct(s.detail.idleWithProducers.redisCpu)),
        row('idle CPU: coordinator', (s) => pct(s.idleCpu.coordinator)),
        row('idle CPU: busiest host', (s) => pct(s.idleCpu.host)),
        row('idle CPU: busiest producer', (s) => pct(s.idleCpu.producer)),
        row('pickup p50 / p99 (ms)', (s) => `${s.pickupP50Ms} / ${s.pickupP99Ms}`),
        row('throughput, 50 in flight (tasks/s)', (s) => s.throughputC50),
        row('raw BullMQ, same layout: pickup p50 / p99 (ms)', (s) => `${s.rawBullmq.pickupP50Ms} / ${s.rawBullmq.pickupP99Ms}`),
        row('raw BullMQ, same layout: throughput (tasks/s)', (s) => s.rawBullmq.throughputC50),
        row('swarmq ÷ raw BullMQ: throughput', (s) => `${round(s.throughputC50 / s.rawBullmq.throughputC50, 2)}×`),
        row('dashboard load / worst frame (ms)', (s) => (s.dashboardLoadMs === null ? 'skipped' : `${s.dashboardLoadMs} / ${s.dashboardWorstFrameMs || '< 50'}`)),
      ],
    ),
  );
  const small = results[keys[0]!]!;
  const large = results[keys[keys.length - 1]!]!;
  console.log(`\nbudgets at the largest size (issue 15): Redis ≤ ${BUDGET.idleRedisOpsPerSec}/s with producers: ${large.idleRedisOpsPerSecWith10Producers}; coordinator ≤ ${pct(BUDGET.coordinatorCpu)}: ${pct(large.idleCpu.coordinator)}; host ≤ ${pct(BUDGET.hostCpu)}: ${pct(large.idleCpu.host)}; producer ≤ ${pct(BUDGET.producerCpu)}: ${pct(large.idleCpu.producer)}; pickup p50 ≤ ${BUDGET.pickupP50Ms} ms, p99 ≤ ${BUDGET.pickupP99Ms} ms; throughput ≥ ${BUDGET.throughputRatio}× the smallest size: ${round(large.throughputC50 / small.throughputC50, 2)}×`);
  console.log(`what the machine allows (raw BullMQ, same layouts, same run): pickup p50 ${large.rawBullmq.pickupP50Ms} ms, p99 ${large.rawBullmq.pickupP99Ms} ms; throughput ${round(large.rawBullmq.throughputC50 / small.rawBullmq.throughputC50, 2)}× the smallest size`);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/scale.json', import.meta.url), `${JSON.stringify({ at: new Date().toISOString(), node: process.version, options: { perHost, ...o }, budget: BUDGET, ...results }, null, 2)}\n`);
  console.log('\nwrote bench/results/scale.json');
}
