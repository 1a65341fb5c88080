// The core benchmark: what swarmq costs over plain BullMQ on the same Redis in
// the same run. For each contender (raw BullMQ, the swarmq client, the intake
// queue) it measures
//   - pickup latency: serial tasks (submit one, wait until it started and
//     completed, then the next), submit → processor start, both ends timed with
//     performance.now() in this process, after a warm-up that is not recorded;
//   - throughput end to end (submit of the first → completion of the last) at
//     concurrency 1 and 50, with the same producer for all: a fixed window of
//     single adds/submits in flight.
// Pickup is measured on the concurrency-1 setup (one Worker / one agent).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { SingleBar } from 'cli-progress';
import { Redis } from 'ioredis';
import { intFlag, listFlag } from './support/args.ts';
import { latencyHistogram, round, StartProbe, summarize, textTable, until, windowed, type LatencySummary } from './support/measure.ts';
import { benchRedis, dropPrefix } from './support/redis.ts';
import { CONCURRENCY_MEANS, CONTENDERS, START, type ContenderName, type Rig } from './support/rigs.ts';

const HIGH = 50;
const PICKUP_ROUND = 100;

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

function progress(label: string, total: number, value: () => number): { stop(): void } {
  if (!interactive) return { stop() {} };
  const bar = new SingleBar({ format: `  ${label.padEnd(28)} [{bar}] {value}/{total} {duration_formatted}`, hideCursor: true, clearOnComplete: true, stream: process.stderr });
  bar.start(total, 0);
  const t = setInterval(() => bar.update(Math.min(total, value())), 100);
  return {
    stop() {
      clearInterval(t);
      bar.stop();
    },
  };
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

async function throughput(rig: Rig, probe: StartProbe, n: number, window: number, label: string): Promise<{ perSecond: number; submitMs: number; totalMs: number }> {
  const base = await rig.completed();
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
    return { perSecond: n / ((t1 - t0) / 1000), submitMs: submitted - t0, totalMs: t1 - t0 };
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

export async function run(args: string[]): Promise<void> {
  const s: Settings = {
    tasks: intFlag(args, '--tasks', 20_000),
    pickups: intFlag(args, '--pickups', 2_000),
    warmup: intFlag(args, '--warmup', 200, 0),
    window: intFlag(args, '--window', 256),
  };
  const only = (listFlag(args, '--only') ?? [...CONTENDERS]) as ContenderName[];
  for (const c of only) if (!CONTENDERS.includes(c)) throw new Error(`--only: unknown contender "${c}" (raw, swarmq, intake)`);
  if (!only.includes('raw') || !only.includes('swarmq')) log('note: without both raw and swarmq there are no ratios; core.json is written only for a full run');

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
  const results = new Map<ContenderName, ContenderResult & { pickupMaxMs: number }>();
  const began = performance.now();
  log(`core: ${redis.source} ${redis.url} (redis ${redis.version}), node ${process.version}, ${cpus().length} cpus`);
  log(`      pickups ${s.pickups} (+${s.warmup} warm-up), throughput ${s.tasks} tasks per run, window ${s.window} in flight`);

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
  /** A fresh rig per throughput run, warmed (not recorded) first. */
  const tput = (name: ContenderName, concurrency: number) =>
    withRig(name, `c${concurrency}`, concurrency, async (rig) => {
      await warm(rig, probe, Math.min(1000, s.tasks), s.window);
      return await throughput(rig, probe, s.tasks, s.window, `${name} throughput c${concurrency}`);
    });

  try {
    let t = performance.now();
    const rigs: Rig[] = [];
    let pickups: Map<ContenderName, LatencySummary>;
    try {
      for (const name of only) rigs.push(await START[name]({ url: redis.url, prefix: `${runId}-${name}-pickup`, concurrency: 1, probe, observer }));
      pickups = await pickupLatency(rigs, probe, s);
    } finally {
      for (const rig of rigs) {
        await rig.close();
        await dropPrefix(observer, rig.prefix);
      }
    }
    for (const name of only) {
      const p = pickups.get(name)!;
      log(`  pickup  ${name.padEnd(6)} p50 ${p.p50Ms.toFixed(3)} ms  p95 ${p.p95Ms.toFixed(3)} ms  p99 ${p.p99Ms.toFixed(3)} ms  max ${p.maxMs.toFixed(3)} ms`);
    }
    log(`  pickups took ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const runs = new Map<string, Awaited<ReturnType<typeof throughput>>>();
    for (const c of [1, HIGH]) {
      for (const name of only) {
        t = performance.now();
        const r = await tput(name, c);
        runs.set(`${name}:${c}`, r);
        log(
          `  c${String(c).padEnd(3)} ${name.padEnd(6)} ${Math.round(r.perSecond)} tasks/s (all submitted after ${(r.submitMs / 1000).toFixed(2)} s, ` +
            `all completed after ${(r.totalMs / 1000).toFixed(2)} s; run with setup ${((performance.now() - t) / 1000).toFixed(1)} s)`,
        );
      }
    }
    for (const name of only) {
      const p = pickups.get(name)!;
      results.set(name, {
        pickupP50Ms: p.p50Ms,
        pickupP95Ms: p.p95Ms,
        pickupP99Ms: p.p99Ms,
        throughputC1: Math.round(runs.get(`${name}:1`)!.perSecond),
        throughputC50: Math.round(runs.get(`${name}:${HIGH}`)!.perSecond),
        pickupMaxMs: p.maxMs,
      });
    }
  } finally {
    observer.disconnect();
    await redis.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const rows = only.map((name) => {
    const r = results.get(name)!;
    return [name, r.pickupP50Ms.toFixed(3), r.pickupP95Ms.toFixed(3), r.pickupP99Ms.toFixed(3), r.pickupMaxMs.toFixed(3), r.throughputC1, r.throughputC50];
  });
  console.log();
  console.log(`core benchmark: ${s.tasks} tasks per throughput run, ${s.pickups} serial pickups, redis ${redis.version}, node ${process.version}, ${cpus().length} cpus`);
  console.log();
  console.log(textTable(['contender', 'pickup p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'tasks/s c1', `tasks/s c${HIGH}`], rows));
  console.log();
  console.log('what "concurrency" means (pickup is measured on the c1 setup, serially):');
  for (const name of only) {
    console.log(`  ${name.padEnd(6)}  c1: ${CONCURRENCY_MEANS[name](1)}`);
    console.log(`  ${' '.repeat(6)}  c${HIGH}: ${CONCURRENCY_MEANS[name](HIGH)}`);
  }
  console.log(`  producer for all: single add/submit calls, ${s.window} in flight; throughput = submit of the first → completion of the last`);

  const raw = results.get('raw');
  const swarmq = results.get('swarmq');
  const intake = results.get('intake');
  if (!raw || !swarmq) {
    log(`\ntook ${((performance.now() - began) / 1000).toFixed(1)} s`);
    return;
  }
  const ratio = {
    pickupP50: round(swarmq.pickupP50Ms / raw.pickupP50Ms, 3),
    pickupP99: round(swarmq.pickupP99Ms / raw.pickupP99Ms, 3),
    throughputC50: round(swarmq.throughputC50 / raw.throughputC50, 3),
  };
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  console.log();
  console.log('budget (swarmq vs raw, docs: DESIGN.md "Budgets"):');
  console.log(`  ${verdict(ratio.pickupP50 <= 1.5)}  pickup p50 ≤ 1.5× raw        ${swarmq.pickupP50Ms.toFixed(3)} ms vs ${raw.pickupP50Ms.toFixed(3)} ms = ${ratio.pickupP50.toFixed(2)}×`);
  console.log(`  ${verdict(swarmq.pickupP99Ms <= 5)}  pickup p99 ≤ 5 ms            ${swarmq.pickupP99Ms.toFixed(3)} ms (raw ${raw.pickupP99Ms.toFixed(3)} ms, ${ratio.pickupP99.toFixed(2)}×)`);
  console.log(`  ${verdict(ratio.throughputC50 >= 0.8)}  throughput c${HIGH} ≥ 0.8× raw   ${swarmq.throughputC50}/s vs ${raw.throughputC50}/s = ${ratio.throughputC50.toFixed(2)}×`);

  if (intake) {
    const out = {
      raw: pick(raw),
      swarmq: pick(swarmq),
      intake: pick(intake),
      ratio,
      meta: { date: new Date().toISOString(), node: process.version, redis: redis.version, cpus: cpus().length, tasks: s.tasks },
    };
    const file = fileURLToPath(new URL('./results/core.json', import.meta.url));
    mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
    writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
    console.log(`\nwrote ${file}`);
  }
  log(`took ${((performance.now() - began) / 1000).toFixed(1)} s`);
}

function pick(r: ContenderResult): ContenderResult {
  return { pickupP50Ms: r.pickupP50Ms, pickupP95Ms: r.pickupP95Ms, pickupP99Ms: r.pickupP99Ms, throughputC1: r.throughputC1, throughputC50: r.throughputC50 };
}
