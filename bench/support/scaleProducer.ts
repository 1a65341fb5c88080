// A producer process of the scale benchmark (node --import tsx, argv[2] = JSON spec):
//   idle        submit one task, say "ready", then do nothing (its SwarmClient keeps routing state fresh)
//   pickup      N tasks one at a time: submit → the agent's start, from the task's `stamp` result
//   throughput  N tasks with `window` submits in flight, after a warm-up run; the end is the last task's start
// Prints one JSON line (ready, or the result) on stdout.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { PublishedLoads } from '../../src/coordinator/publishedLoads.ts';
import { connectRedis, redisTargetFromUrl } from '../../queues/redisTarget.ts';
import { windowed } from './measure.ts';

export type ProducerSpec =
  | { mode: 'idle'; url: string }
  | { mode: 'pickup'; url: string; tasks: number; warmup: number }
  | { mode: 'throughput'; url: string; tasks: number; window: number; warmup: number };

export type ProducerResult =
  | { mode: 'idle'; ready: true }
  /** submitsMs: submit → the call returned (its share of each pickup). */
  | { mode: 'pickup'; pickupsMs: number[]; submitsMs: number[] }
  /** cpuUs: the producer's own CPU over the measured run (its submits and polling, not the read of the results after it). */
  | { mode: 'throughput'; tasks: number; ms: number; cpuUs: number }
  /** Throughput: the warm-up is over, the measured run starts now. */
  | { mode: 'warm' };

const wall = () => performance.timeOrigin + performance.now();
const spec = JSON.parse(process.argv[2] ?? '{}') as ProducerSpec;
const client = new SwarmClient({ redis: spec.url });
const say = (r: ProducerResult) => process.stdout.write(`${JSON.stringify(r)}\n`);

async function startedAt(id: string): Promise<number> {
  const t = await client.waitFor(id, { timeoutMs: 60_000 });
  const at = (t.result as { startedAt?: unknown } | undefined)?.startedAt;
  if (t.state !== 'completed' || typeof at !== 'number') throw new Error(`task ${id} ended ${t.state} without a start stamp`);
  return at;
}

/** Completed tasks in the swarm, from the published loads (one command). */
async function completedInSwarm(loads: PublishedLoads): Promise<number> {
  const got = await loads.fetch();
  if (!got) throw new Error('no coordinator publishes the loads (or they do not parse)');
  let n = 0;
  for (const c of got.snapshot.counts.values()) n += c.completed;
  return n;
}

if (spec.mode === 'idle') {
  await startedAt((await client.submit({ type: 'stamp', payload: null })).id);
  say({ mode: 'idle', ready: true });
  setInterval(() => {}, 1 << 30);
} else if (spec.mode === 'pickup') {
  const pickupsMs: number[] = [];
  const submitsMs: number[] = [];
  for (let i = 0; i < spec.warmup + spec.tasks; i++) {
    const t0 = wall();
    const { id } = await client.submit({ type: 'stamp', payload: null });
    const t1 = wall();
    const ms = (await startedAt(id)) - t0;
    if (i >= spec.warmup) {
      pickupsMs.push(ms);
      submitsMs.push(t1 - t0);
    }
  }
  say({ mode: 'pickup', pickupsMs, submitsMs });
  await client.close();
} else {
  // One URL, or a Cluster's seed URLs separated by commas.
  const redis = connectRedis(redisTargetFromUrl(spec.url), { maxRetriesPerRequest: null });
  const loads = new PublishedLoads(redis, 'swarmq');
  /** Submits n tasks, `window` in flight, and waits until they have all completed; returns their ids. */
  const runTasks = async (n: number): Promise<string[]> => {
    const before = await completedInSwarm(loads);
    const ids: string[] = new Array(n);
    await windowed(n, spec.window, async (i) => {
      ids[i] = (await client.submit({ type: 'stamp', payload: null })).id;
    });
    while ((await completedInSwarm(loads)) < before + n) await sleep(50);
    return ids;
  };
  // A warm-up run first, so every host's code is compiled by the time it counts.
  await runTasks(spec.warmup);
  say({ mode: 'warm' });
  const cpu0 = process.cpuUsage();
  const t0 = wall();
  const ids = await runTasks(spec.tasks);
  const cpu = process.cpuUsage(cpu0);
  // The end: the latest start among the tasks (each a no-op, so start ≈ finish).
  let last = 0;
  for (let i = 0; i < ids.length; i += 500) {
    const views = await Promise.all(ids.slice(i, i + 500).map((id) => client.get(id)));
    for (const v of views) last = Math.max(last, (v?.result as { startedAt: number }).startedAt);
  }
  say({ mode: 'throughput', tasks: spec.tasks, ms: last - t0, cpuUs: cpu.user + cpu.system });
  redis.disconnect();
  await client.close();
}
