// Steps the fleet benchmarks (scale, cluster) share: waiting until a fleet of
// host processes is ready, the pickup figures of a serial producer, and a
// throughput run with CPU per task in each process and Redis.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { swarmKeys } from '../../queues/keys.ts';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { PublishedLoads } from '../../src/coordinator/publishedLoads.ts';
import { costPerTask, costSnapshot, round, type CostPerTask } from './measure.ts';
import { cpuSeconds, startProducer, type Proc } from './scaleFleet.ts';

/** Until every agent is in the roster and every host is live in the published loads. */
export async function untilReady(r: RedisClient, hosts: readonly Proc[], agents: number): Promise<void> {
  const loads = new PublishedLoads(r, 'swarmq');
  const deadline = performance.now() + 300_000;
  for (;;) {
    for (const h of hosts) if (h.child.exitCode !== null) throw new Error(`${h.name} exited: ${h.tail()}`);
    const [inRoster, got] = await Promise.all([r.hlen(swarmKeys('swarmq').agents), loads.fetch()]);
    if (inRoster >= agents && got && got.snapshot.liveHosts.size >= hosts.length) return;
    if (performance.now() > deadline) throw new Error(`not ready after 300 s: ${inRoster} of ${agents} agents in the roster`);
    await sleep(50);
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** p50 and p99 of pickups, and p50 of their submit calls. */
export function pickupFigures(p: { pickupsMs: number[]; submitsMs: number[] }): { p50: number; p99: number; submitP50: number } {
  const sorted = [...p.pickupsMs].sort((a, b) => a - b);
  const submits = [...p.submitsMs].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 50), 3), p99: round(percentile(sorted, 99), 3), submitP50: round(percentile(submits, 50), 3) };
}

/** A serial pickup run of `tasks` after max(200, tasks / 5) warm-up ones. */
export async function pickupRun(url: string, tasks: number, started: Proc[]): Promise<{ p50: number; p99: number; submitP50: number }> {
  const pickup = startProducer({ mode: 'pickup', url, tasks, warmup: Math.max(200, Math.ceil(tasks / 5)) });
  started.push(pickup.proc);
  return pickupFigures((await pickup.result) as { pickupsMs: number[]; submitsMs: number[] });
}

export interface ThroughputFigures {
  tasksPerSec: number;
  /** CPU µs per task of each process in `procs`, in order. */
  perTask: number[];
  producerUs: number;
  /** Per server in `servers`, in order: its Redis CPU and commands per task. */
  redis: CostPerTask[];
}

/** Throughput (tasks/s) of a producer's run, with CPU µs per task in `procs` and in each Redis server (a Cluster's masters, or the one server). */
export async function throughputRun(servers: readonly Redis[], spec: Parameters<typeof startProducer>[0], procs: readonly Proc[], started: Proc[]): Promise<ThroughputFigures> {
  const through = startProducer(spec);
  started.push(through.proc);
  await through.warm;
  const cpuBefore = procs.map((p) => cpuSeconds(p.child.pid!));
  const costBefore = await Promise.all(servers.map((s) => costSnapshot(s)));
  const t = (await through.result) as { tasks: number; ms: number; cpuUs: number };
  const costAfter = await Promise.all(servers.map((s) => costSnapshot(s)));
  const perTask = procs.map((p, i) => round(((cpuSeconds(p.child.pid!) - cpuBefore[i]!) * 1e6) / t.tasks, 0));
  return {
    tasksPerSec: round((t.tasks / t.ms) * 1000, 0),
    perTask,
    producerUs: round(t.cpuUs / t.tasks, 0),
    redis: servers.map((_, i) => costPerTask(costBefore[i]!, costAfter[i]!, t.tasks)),
  };
}
