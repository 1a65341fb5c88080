// The core benchmark: what swarmq costs over plain BullMQ on the same Redis in
// the same run. For each contender (raw BullMQ, the swarmq client, the intake
// queue) it measures
//   - pickup latency: serial tasks (submit one, wait until it started and
//     completed, then the next), submit → processor start, both ends timed with
//     performance.now() in this process, after a warm-up that is not recorded.
//     Measured on the concurrency-1 setup, the contenders interleaved in rounds;
//   - throughput end to end (submit of the first → completion of the last) at
//     concurrency 1 and 50, with the same producer for all: a fixed window of
//     single adds/submits in flight. Each is run --reps times on a fresh rig (the
//     contenders in rotating order) and the median is reported: on a small
//     shared box one run swings by 2× with whatever else is running.
// Beside wall-clock numbers it reports CPU per task (this process and Redis),
// which is far less sensitive to neighbours and says where time goes.
// And the submit path counted (--only submit-path selects it alone): Redis
// commands and round trips per submit on the producer's own connection, raw
// queue.add against SwarmClient.submit, nothing consuming (bench/support/submitPath.ts).
// And the cost mode (--only cost selects it alone): every contender again with
// its producer, consumer and (intake) coordinator each in a process of its own,
// CPU µs per task of each, Redis CPU and commands per task, and Redis µs per
// task by command and by Lua script from a slowlog window (bench/support/costRun.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { SingleBar } from 'cli-progress';
import { Redis } from 'ioredis';
import { intFlag, listFlag } from './support/args.ts';
import {
  costPerTask,
  costSnapshot,
  latencyHistogram,
  round,
  StartProbe,
  summarize,
  textTable,
  until,
  windowed,
  type CostPerTask,
  type LatencySummary,
} from './support/measure.ts';
import { benchRedis, dropPrefix } from './support/redis.ts';
import { ALL_CONTENDERS, CONCURRENCY_MEANS, CONTENDERS, START, type ContenderName, type Rig } from './support/rigs.ts';
import { measureSubmitPath, submitPathJson, type SubmitPathFigures } from './support/submitPath.ts';
import { measureCancelLatency, type CancelFigures } from './support/cancelLatency.ts';
import { COST_OBSERVER, costRun, type CostRunFigures } from './support/costRun.ts';
import { costJson, printCost, printInside, summarizeCost, type CostSummary } from './support/costReport.ts';
import { scriptNames } from './support/luaNames.ts';
import { coreBudgets } from './support/coreBudgets.ts';

const HIGH = 50;
const LEVELS = [1, HIGH] as const;
const PICKUP_ROUND = 100;
/** The --only item that selects the submit-path count. */
const SUBMIT_PATH = 'submit-path';
/** The --only item that selects the cancel latency (--cancels N of them, serial). */
const CANCEL = 'cancel';
/** The --only item that selects the cost mode (each process alone, Redis µs by script). */
const COST = 'cost';
const ITEMS = [...ALL_CONTENDERS, SUBMIT_PATH, CANCEL, COST];

interface ContenderResult {
  pickupP50Ms: number;
  pickupP95Ms: number;
  pickupP99Ms: number;
  throughputC1: number;
  throughputC50: number;
}

interface Settings {
  tasks: number;
  pickups: number;
  warmup: number;
  window: number;
  reps: number;
  submits: number;
  submitAgents: number;
  costTasks: number;
  slowlogTasks: number;
  costReps: number;
  costContenders: ContenderName[];
  verbose: boolean;
}

interface ThroughputRun {
  perSecond: number;
  submitMs: number;
  totalMs: number;
  cost: CostPerTask;
}

/** Sequence numbers unique across the whole run, so a late start can never be mistaken for another. */
let nextSeq = 0;
const takeSeqs = (n: number) => {
  const first = nextSeq;
  nextSeq += n;
  return first;
};

const interactive = process.stderr.isTTY === true;
const log = (msg: string) => console.error(msg);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function progress(label: string, total: number, value: () => number): { stop(): void } {
  if (!interactive) return { stop() {} };
  const bar = new SingleBar({ format: `  ${label.padEnd(30)} [{bar}] {value}/{total} {duration_formatted}`, hideCursor: true, clearOnComplete: true, stream: process.stderr });
  bar.start(total, 0);
  const t = setInterval(() => bar.update(Math.min(total, value())), 100);
  return {
    stop() {
      clearInterval(t);
      bar.stop();
    },
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Serial pickups on every contender's concurrency-1 rig, interleaved in rounds
 * (a round of each in turn), so drift over the run (JIT, Redis memory, a noisy
 * neighbour) falls on all of them alike instead of on whoever runs last.
 */
async function pickupLatency(rigs: Rig[], probe: StartProbe, s: Settings): Promise<Map<ContenderName, LatencySummary>> {
  const hists = new Map(rigs.map((r) => [r.name, latencyHistogram()] as const));
  const settled = new Map<ContenderName, number>();
  for (const rig of rigs) settled.set(rig.name, await rig.settled());
  const one = async (rig: Rig, record: boolean) => {
    const seq = takeSeqs(1);
    const started = probe.startOf(seq);
    const t0 = performance.now();
    await rig.submit(seq);
    const t1 = await started;
    if (record) hists.get(rig.name)!.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)));
    // Completed too, and (intake) its intake job finished, before the next submit.
    const target = settled.get(rig.name)! + 1;
    settled.set(rig.name, target);
    await until(rig.settled, target);
  };
  for (const rig of rigs) for (let i = 0; i < s.warmup; i++) await one(rig, false);
  let done = 0;
  const bar = progress('pickup (serial, interleaved)', s.pickups * rigs.length, () => done);
  try {
    for (let left = s.pickups; left > 0; left -= PICKUP_ROUND) {
      for (const rig of rigs) {
        for (let i = 0; i < Math.min(PICKUP_ROUND, left); i++) {
          await one(rig, true);
          done++;
        }
      }
    }
  } finally {
    bar.stop();
  }
  return new Map([...hists].map(([name, h]) => [name, summarize(h)]));
}

async function throughput(rig: Rig, probe: StartProbe, observer: Redis, n: number, window: number, label: string): Promise<ThroughputRun> {
  const base = await rig.completed();
  const before = await costSnapshot(observer);
  const first = takeSeqs(n);
  const allStarted = probe.expect(n);
  const startedBefore = probe.count;
  const bar = progress(label, n, () => probe.count - startedBefore);
  try {
    const t0 = performance.now();
    await windowed(n, window, (i) => rig.submit(first + i));
    const submitted = performance.now();
    await allStarted;
    await until(rig.completed, base + n, { pauseMs: 1, timeoutMs: 120_000 });
    const t1 = performance.now();
    const cost = costPerTask(before, await costSnapshot(observer), n);
    return { perSecond: n / ((t1 - t0) / 1000), submitMs: submitted - t0, totalMs: t1 - t0, cost };
  } finally {
    bar.stop();
  }
}

/** Not recorded: connects clients, loads scripts, warms the JIT on this rig's path. */
async function warm(rig: Rig, probe: StartProbe, n: number, window: number): Promise<void> {
  const base = await rig.completed();
  const first = takeSeqs(n);
  const allStarted = probe.expect(n);
  await windowed(n, window, (i) => rig.submit(first + i));
  await allStarted;
  await until(rig.settled, base + n, { pauseMs: 1 });
}

/** The submit-path table: what a submit costs the producer in commands and round trips. */
function printSubmitPath(figs: SubmitPathFigures[], verbose: boolean): void {
  const n = figs[0]?.submits ?? 0;
  const perK = (x: number) => (x * 1000).toFixed(1);
  console.log();
  console.log(`submit path (${n} serial submits each, on a dedicated producer connection, nothing consuming):`);
  console.log();
  console.log(
    textTable(
      ['contender', 'commands/submit sync', 'snapshot commands/submit amortized', 'round trips/submit', 'socket writes/submit', 'submits/s (serial)'],
      figs.map((f) => [
        f.name,
        f.syncCommands.toFixed(3),
        f.name === 'raw' && f.bgCommandsPerSecond === 0 ? '0 (none)' : f.snapshotCommands.toFixed(4),
        f.roundTrips.toFixed(3),
        f.syncWrites.toFixed(3),
        Math.round(f.submitsPerSecond),
      ]),
    ),
  );
  console.log();
  for (const f of figs) {
    console.log(`  ${f.name.padEnd(6)}  ${f.setup}`);
    console.log(`  ${' '.repeat(6)}  sync, per submit: ${f.syncByCommand.map(([c, v]) => `${c} ${v.toFixed(3)}`).join(', ') || 'nothing'}`);
    const bgRate = f.bgByCommand.map(([c, v]) => `${c} ${v.toFixed(1)}`).join(', ');
    console.log(
      `  ${' '.repeat(6)}  background on the same connection: ${f.bgCommandsPerSecond.toFixed(1)} commands/s in ${f.bgWritesPerSecond.toFixed(1)} writes/s ` +
        `over ${secs(f.bgObservedMs)}${bgRate ? ` (${bgRate} /s)` : ''}; ÷ ${Math.round(f.submitsPerSecond)} submits/s = ${f.snapshotCommands.toFixed(4)} per submit (${perK(f.snapshotCommands)} per 1000)`,
    );
    const ok = f.check.server === f.check.client;
    console.log(
      `  ${' '.repeat(6)}  server check, a second monitored pass: MONITOR saw ${f.check.server} commands from this connection, ` +
        `${f.check.client} counted client-side${ok ? ' (equal)' : ' (DIFFER)'}` +
        (verbose ? ` — ${f.check.serverByCommand.map(([c, v]) => `${c} ${v}`).join(', ')}` : ''),
    );
  }
  console.log('  sync = commands sent by the submit call itself (AsyncLocalStorage on the connection\'s sendCommand); background = everything else on it,');
  console.log('  i.e. the router\'s snapshot refresh timer; a fixed rate per client, so at a lower submit rate it weighs more per submit.');
  console.log('  round trip = a socket write made by a submit while none of its earlier commands awaits a reply (writes while one does are pipelined).');
  console.log('  submits/s = one serial pass, raw first, only the basis for the amortized column; not a speed comparison (pickup and throughput above are).');
}

export async function run(args: string[]): Promise<void> {
  const s: Settings = {
    tasks: intFlag(args, '--tasks', 20_000),
    pickups: intFlag(args, '--pickups', 2_000),
    warmup: intFlag(args, '--warmup', 200, 0),
    window: intFlag(args, '--window', 256),
    reps: intFlag(args, '--reps', 3),
    submits: intFlag(args, '--submits', 1000),
    submitAgents: intFlag(args, '--submit-agents', HIGH),
    costTasks: intFlag(args, '--cost-tasks', 10_000),
    slowlogTasks: intFlag(args, '--slowlog-tasks', 5_000, 0),
    costReps: intFlag(args, '--cost-reps', 3),
    costContenders: (listFlag(args, '--cost-contenders') ?? [...CONTENDERS]) as ContenderName[],
    verbose: args.includes('--verbose'),
  };
  const noWrite = args.includes('--no-write');
  const selected = listFlag(args, '--only') ?? ITEMS;
  for (const c of selected) {
    if (!ITEMS.includes(c)) throw new Error(`--only: unknown item "${c}" (${ITEMS.join(', ')})`);
  }
  for (const c of s.costContenders) {
    if (!ALL_CONTENDERS.includes(c)) throw new Error(`--cost-contenders: unknown contender "${c}" (${ALL_CONTENDERS.join(', ')})`);
  }
  const withCost = selected.includes(COST);
  const cancels = intFlag(args, '--cancels', 200);
  const withCancel = selected.includes(CANCEL);
  const only = ALL_CONTENDERS.filter((c) => selected.includes(c));
  const withSubmitPath = selected.includes(SUBMIT_PATH);
  const full = CONTENDERS.every((c) => only.includes(c)) && withSubmitPath;
  if (!full) log('note: a partial run (--only) prints its table but does not write bench/results/core.json');
  else if (noWrite) log('note: --no-write: prints its tables but does not write bench/results/core.json');

  const redis = await benchRedis();
  const onSignal = () => {
    void redis.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const observer = new Redis(redis.url, { maxRetriesPerRequest: 1, connectionName: 'bench:observer' });
  observer.on('error', () => {});
  const runId = `bench-${Date.now().toString(36)}`;
  const probe = new StartProbe();
  const began = performance.now();
  log(`core: ${redis.source} ${redis.url} (redis ${redis.version}), node ${process.version}, ${cpus().length} cpus`);
  if (only.length) log(`      ${s.pickups} serial pickups each (+${s.warmup} warm-up); throughput ${s.tasks} tasks per run, ${s.reps} runs each, window ${s.window} in flight`);
  if (withSubmitPath) log(`      submit path: ${s.submits} serial submits each, counted on the producer connection, nothing consuming`);

  const withRig = async <T>(name: ContenderName, tag: string, concurrency: number, body: (rig: Rig) => Promise<T>): Promise<T> => {
    const prefix = `${runId}-${name}-${tag}`;
    const rig = await START[name]({ url: redis.url, prefix, concurrency, probe, observer });
    try {
      return await body(rig);
    } finally {
      await rig.close();
      await dropPrefix(observer, prefix);
    }
  };

  let pickups = new Map<ContenderName, LatencySummary>();
  const runs = new Map<string, ThroughputRun[]>();
  let submitPath: SubmitPathFigures[] | undefined;
  let cancel: CancelFigures | undefined;
  let cost: CostSummary[] | undefined;
  const loadStart = loadavg();
  try {
    let t = performance.now();
    if (withSubmitPath) {
      submitPath = await measureSubmitPath({ url: redis.url, runId, observer, submits: s.submits, agents: s.submitAgents });
      for (const f of submitPath) {
        log(
          `  submit path ${f.name.padEnd(6)} ${f.syncCommands.toFixed(3)} commands + ${f.roundTrips.toFixed(3)} round trips per submit, ` +
            `${Math.round(f.submitsPerSecond)} submits/s; background ${f.bgCommandsPerSecond.toFixed(1)} commands/s; ` +
            `MONITOR: ${f.check.server} commands from the connection vs ${f.check.client} counted client-side`,
        );
      }
      log(`  submit path took ${secs(performance.now() - t)}`);
      t = performance.now();
    }
    if (withCancel) {
      cancel = await measureCancelLatency({ url: redis.url, prefix: `${runId}-cancel`, cancels });
      await dropPrefix(observer, `${runId}-cancel`);
      log(`  cancel (DELETE → signal aborted) p50 ${cancel.toAbort.p50Ms.toFixed(3)} ms  p99 ${cancel.toAbort.p99Ms.toFixed(3)} ms over ${cancel.cancels}; took ${secs(performance.now() - t)}`);
      t = performance.now();
    }
    const rigs: Rig[] = [];
    try {
      for (const name of only) rigs.push(await START[name]({ url: redis.url, prefix: `${runId}-${name}-pickup`, concurrency: 1, probe, observer }));
      if (rigs.length) pickups = await pickupLatency(rigs, probe, s);
    } finally {
      for (const rig of rigs) {
        await rig.close();
        await dropPrefix(observer, rig.prefix);
      }
    }
    for (const name of only) {
      const p = pickups.get(name)!;
      log(`  pickup ${name.padEnd(6)} p50 ${p.p50Ms.toFixed(3)} ms  p95 ${p.p95Ms.toFixed(3)} ms  p99 ${p.p99Ms.toFixed(3)} ms  max ${p.maxMs.toFixed(3)} ms`);
    }
    if (only.length) log(`  pickups took ${secs(performance.now() - t)}`);

    for (let rep = 0; rep < s.reps; rep++) {
      // Rotate who goes first, so no contender always runs right after setup or after another's backlog.
      const order = only.map((_, i) => only[(i + rep) % only.length]!);
      for (const c of LEVELS) {
        for (const name of order) {
          t = performance.now();
          const r = await withRig(name, `c${c}-r${rep}`, c, async (rig) => {
            await warm(rig, probe, Math.min(1000, s.tasks), s.window);
            return await throughput(rig, probe, observer, s.tasks, s.window, `${name} c${c} run ${rep + 1}/${s.reps}`);
          });
          const key = `${name}:${c}`;
          runs.set(key, [...(runs.get(key) ?? []), r]);
          const k = r.cost;
          log(
            `  run ${rep + 1} c${String(c).padEnd(3)}${name.padEnd(7)}${String(Math.round(r.perSecond)).padStart(6)} tasks/s  ` +
              `(submitted ${secs(r.submitMs)}, completed ${secs(r.totalMs)}, with setup ${secs(performance.now() - t)}; ` +
              `per task: process CPU ${k.nodeCpuUs.toFixed(0)} µs, redis CPU ${k.redisCpuUs.toFixed(0)} µs, ${k.redisCalls.toFixed(1)} redis commands)` +
              (s.verbose ? `\n      commands per task: ${k.byCommand.filter(([, v]) => v >= 0.01).map(([cmd, v]) => `${cmd} ${v.toFixed(2)}`).join(', ')}` : ''),
          );
        }
      }
    }
    if (withCost) cost = await costMode(redis.url, runId, s);
  } finally {
    observer.disconnect();
    await redis.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const results = new Map<ContenderName, ContenderResult>();
  const cpu = new Map<string, { node: number; redis: number }>();
  for (const name of only) {
    const p = pickups.get(name)!;
    const tps = (c: number) => Math.round(median(runs.get(`${name}:${c}`)!.map((r) => r.perSecond)));
    results.set(name, { pickupP50Ms: p.p50Ms, pickupP95Ms: p.p95Ms, pickupP99Ms: p.p99Ms, throughputC1: tps(1), throughputC50: tps(HIGH) });
    for (const c of LEVELS) {
      const rs = runs.get(`${name}:${c}`)!;
      cpu.set(`${name}:${c}`, { node: median(rs.map((r) => r.cost.nodeCpuUs)), redis: median(rs.map((r) => r.cost.redisCpuUs)) });
    }
  }

  const spread = (name: ContenderName, c: number) => {
    const xs = runs.get(`${name}:${c}`)!.map((r) => Math.round(r.perSecond));
    return xs.length > 1 ? `${Math.min(...xs)}–${Math.max(...xs)}` : '';
  };
  const cpuCell = (name: ContenderName, c: number) => {
    const k = cpu.get(`${name}:${c}`)!;
    return `${k.node.toFixed(0)} + ${k.redis.toFixed(0)}`;
  };
  console.log();
  console.log(
    `core benchmark: ${only.length ? `${s.pickups} serial pickups; throughput = median of ${s.reps} runs of ${s.tasks} tasks; ` : ''}` +
      `${submitPath ? `submit path = ${s.submits} serial submits; ` : ''}redis ${redis.version} (${redis.source}), node ${process.version}, ${cpus().length} cpus`,
  );
  if (only.length) {
    console.log();
    console.log(
      textTable(
        ['contender', 'pickup p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'tasks/s c1', `tasks/s c${HIGH}`, `c${HIGH} min–max`, 'CPU µs/task c1', `CPU µs/task c${HIGH}`],
        only.map((name) => {
          const r = results.get(name)!;
          const p = pickups.get(name)!;
          return [name, r.pickupP50Ms.toFixed(3), r.pickupP95Ms.toFixed(3), r.pickupP99Ms.toFixed(3), p.maxMs.toFixed(3), r.throughputC1, r.throughputC50, spread(name, HIGH), cpuCell(name, 1), cpuCell(name, HIGH)];
        }),
      ),
    );
    console.log();
    console.log('what "concurrency" means (pickup is measured serially on the c1 setup):');
    for (const name of only) {
      console.log(`  ${name.padEnd(6)}  c1:  ${CONCURRENCY_MEANS[name](1)}`);
      console.log(`  ${' '.repeat(6)}  c${HIGH}: ${CONCURRENCY_MEANS[name](HIGH)}`);
    }
    console.log(`  producer for all: single add/submit calls, ${s.window} in flight; throughput = submit of the first → completion of the last`);
    console.log('  CPU µs/task = this process (producer + workers/agents + coordinator) + redis-server, medians over the runs');
    if (redis.source === 'REDIS_URL') console.log('  (REDIS_URL may be shared: its CPU and command counts include any other client busy at the time)');
  }

  const raw = results.get('raw');
  const swarmq = results.get('swarmq');
  let ratio: { pickupP50: number; pickupP99: number; throughputC50: number } | undefined;
  if (raw && swarmq) {
    ratio = {
      pickupP50: round(swarmq.pickupP50Ms / raw.pickupP50Ms, 3),
      pickupP99: round(swarmq.pickupP99Ms / raw.pickupP99Ms, 3),
      throughputC50: round(swarmq.throughputC50 / raw.throughputC50, 3),
    };
  }

  const http = results.get('http');
  const keyed = results.get('keyed');
  const intake = results.get('intake');
  const budgets = coreBudgets({ ...(raw ? { raw } : {}), ...(swarmq ? { swarmq } : {}), ...(intake ? { intake } : {}), ...(http ? { http } : {}), ...(keyed ? { keyed } : {}) }, HIGH);
  if (budgets.length > 0) {
    console.log();
    console.log('budgets (DESIGN.md "Budgets"; the keyed one from issue 19), each against its measure in this run:');
    const width = Math.max(...budgets.map((b) => b.budget.length));
    for (const b of budgets) console.log(`  ${b.met ? 'MET ' : 'MISS'}  ${b.budget.padEnd(width)}  ${b.measured}`);
  }

  if (submitPath) printSubmitPath(submitPath, s.verbose);
  if (cancel) {
    const c = cancel;
    console.log();
    console.log(`cancelling a running task (${c.cancels} serial cancels; HTTP on loopback, in-process coordinator and agent host):`);
    console.log();
    console.log(
      textTable(
        ['measured', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
        [
          ['DELETE → processor signal aborted', c.toAbort.p50Ms.toFixed(3), c.toAbort.p95Ms.toFixed(3), c.toAbort.p99Ms.toFixed(3), c.toAbort.maxMs.toFixed(3)],
          ['DELETE → 200 answer', c.toAnswer.p50Ms.toFixed(3), c.toAnswer.p95Ms.toFixed(3), c.toAnswer.p99Ms.toFixed(3), c.toAnswer.maxMs.toFixed(3)],
        ],
      ),
    );
    console.log(`  ${c.toAbort.p99Ms <= 100 ? 'MET ' : 'MISS'}  cancel reaches its host p99 ≤ 100 ms   ${c.toAbort.p99Ms.toFixed(3)} ms`);
  }

  const load = `${loadStart.map((x) => x.toFixed(2)).join(' ')} at the start, ${loadavg().map((x) => x.toFixed(2)).join(' ')} at the end`;
  const costSettings = { tasks: s.costTasks, slowlogTasks: s.slowlogTasks, reps: s.costReps, window: s.window, load };
  if (cost) {
    printCost(cost, costSettings);
    if (s.verbose) printInside(cost);
  }

  if (full && !noWrite && raw && swarmq && intake && ratio && submitPath) {
    const out = {
      raw,
      swarmq,
      intake,
      ...(http ? { http } : {}),
      ...(keyed ? { keyed } : {}),
      ratio,
      budgets,
      meta: { date: new Date().toISOString(), node: process.version, redis: redis.version, cpus: cpus().length, tasks: s.tasks },
      submitPath: submitPathJson(submitPath),
      ...(cancel ? { cancel } : {}),
      ...(cost ? { cost: costJson(cost, costSettings) } : {}),
    };
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const file = fileURLToPath(new URL('./results/core.json', import.meta.url));
    writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
    console.log(`\nwrote ${file}`);
  }
  log(`took ${secs(performance.now() - began)}`);
}

/**
 * The cost mode: each cost contender at c1 and c50, --cost-reps times (the
 * contenders in rotating order), each run on fresh processes and a fresh prefix.
 */
async function costMode(url: string, runId: string, s: Settings): Promise<CostSummary[]> {
  const observer = new Redis(url, { maxRetriesPerRequest: 1, connectionName: COST_OBSERVER });
  observer.on('error', () => {});
  const names = scriptNames();
  const warmup = Math.min(1000, s.costTasks);
  const runs = new Map<string, CostRunFigures[]>();
  const t = performance.now();
  log(`  cost: ${s.costContenders.join(', ')} at c${LEVELS.join(' and c')}, ${s.costReps} runs each of ${s.costTasks} tasks (+${s.slowlogTasks} with the slowlog on), each process alone`);
  try {
    for (let rep = 0; rep < s.costReps; rep++) {
      const order = s.costContenders.map((_, i) => s.costContenders[(i + rep) % s.costContenders.length]!);
      for (const c of LEVELS) {
        for (const name of order) {
          const prefix = `${runId}-${name}-cost-c${c}-r${rep}`;
          const r = await costRun({
            contender: name,
            concurrency: c,
            url,
            prefix,
            observer,
            names,
            tasks: s.costTasks,
            slowlogTasks: s.slowlogTasks,
            warmup,
            window: s.window,
            firstSeq: takeSeqs(warmup + s.costTasks + s.slowlogTasks),
          }).finally(() => dropPrefix(observer, prefix));
          runs.set(`${name}:${c}`, [...(runs.get(`${name}:${c}`) ?? []), r]);
          const roles = Object.entries(r.cpuUs).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ');
          log(
            `  cost run ${rep + 1} c${String(c).padEnd(3)}${name.padEnd(7)} µs/task: ${roles}; redis CPU ${r.redisCpuUs.toFixed(0)}` +
              (r.slowlog ? `, redis µs ${r.slowlog.typicalUs.toFixed(1)} (as logged ${r.slowlog.redisUs.toFixed(1)}; ${r.slowlog.sent.toFixed(1)} commands sent)` : `, ${r.slowlogNote ?? ''}`) +
              ` (${Math.round(r.tasks / (r.ms / 1000))} tasks/s)`,
          );
        }
      }
    }
  } finally {
    observer.disconnect();
  }
  log(`  cost took ${secs(performance.now() - t)}`);
  return LEVELS.flatMap((c) => s.costContenders.map((name) => summarizeCost(runs.get(`${name}:${c}`)!)));
}
