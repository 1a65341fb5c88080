// The Cluster benchmark: the same work on one Redis and on a three-master Redis
// Cluster (every master a redis-server on this machine), in one run:
//   work     a coordinator and one agent host of --per-host agents (1,000: 100
//            nodes, ten slot groups); serial pickup (submit → the agent's
//            start, performance.now() on both sides) and throughput with 50
//            submits in flight; each server's share of the commands and its
//            Redis CPU per task (INFO commandstats and cpu of every master)
//   fleet    --hosts host processes of --per-host agents (10 × 1,000): time
//            until all are ready, connections per server, pickup p99 over all
//            nodes (--no-fleet skips it)
//   failover a master SIGKILLed while tasks flow, on a Cluster with a replica
//            per master and on a Sentinel-managed primary, with `replicated`
//            and with the default `fast` durability, --failover-runs times
//            each (2): acknowledged tasks lost and completed twice (the
//            scenario the chaos tests assert on, tests/support/failoverRun.ts;
//            --no-failover skips it)
// Writes bench/results/cluster.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { connectRedis, redisTargetFromUrl, type RedisClient } from '../queues/redisTarget.ts';
import { freePort } from '../src/cli/redisServer.ts';
import { startCluster } from '../tests/support/cluster.ts';
import { clusterFailover, sentinelFailover, type Durability, type FailoverScenario } from '../tests/support/failoverRun.ts';
import { intFlag } from './support/args.ts';
import { pickupRun, throughputRun, untilReady } from './support/fleetRun.ts';
import { round, textTable } from './support/measure.ts';
import { benchRedis } from './support/redis.ts';
import { startCoordinator, startHost, stopAll, type Proc } from './support/scaleFleet.ts';

/** Issue 16's budgets on this 2-core machine. */
const BUDGET = { throughputRatio: 0.8, busiestShareOfMean: 1.5, pickupP99Ms: 5 };

const log = (msg: string) => console.error(msg);

interface Topology {
  kind: 'single' | 'cluster';
  /** REDIS_URL for the processes: one URL, or the seed URLs. */
  url: string;
  /** A plain connection to each server (each master of a Cluster). */
  servers: Redis[];
  stop(): Promise<void>;
}

async function topology(kind: Topology['kind']): Promise<Topology> {
  if (kind === 'single') {
    const r = await benchRedis();
    const server = new Redis(r.url);
    return { kind, url: r.url, servers: [server], stop: async () => (server.disconnect(), await r.stop()) };
  }
  const c = await startCluster(3);
  const servers = c.nodes.map((n) => new Redis(n.port, n.host));
  return { kind, url: c.url, servers, stop: async () => (servers.forEach((s) => s.disconnect()), await c.stop()) };
}

interface WorkFigures {
  throughputC50: number;
  pickupP50Ms: number;
  pickupP99Ms: number;
  /** Each server's share of the Redis commands over the throughput run. */
  masterShare: number[];
  /** Each server's Redis CPU per task (µs) over the throughput run. */
  redisCpuUsPerTask: number[];
  commandsPerTask: number;
}

interface FleetFigures {
  readyMs: number;
  pickupP99Ms: number;
  connectionsPerMaster: number[];
}

/** A coordinator and `hosts` host processes of `perHost` agents, ready; returns them and the time it took. */
async function startFleet(t: Topology, client: RedisClient, hosts: number, perHost: number, procs: Proc[]): Promise<{ coordinator: Proc; hostProcs: Proc[]; readyMs: number }> {
  const port = await freePort();
  const coordinator = startCoordinator(t.url, port);
  procs.push(coordinator);
  for (const deadline = performance.now() + 60_000; ; await sleep(100)) {
    if (coordinator.child.exitCode !== null) throw new Error(`the coordinator exited: ${coordinator.tail()}`);
    if (await fetch(`http://127.0.0.1:${port}/readyz`).then((res) => res.ok, () => false)) break;
    if (performance.now() > deadline) throw new Error(`the coordinator was not ready after 60 s: ${coordinator.tail()}`);
  }
  const t0 = performance.now();
  const hostProcs = Array.from({ length: hosts }, (_, i) => startHost(t.url, i + 1, perHost));
  procs.push(...hostProcs);
  await untilReady(client, hostProcs, hosts * perHost);
  return { coordinator, hostProcs, readyMs: round(performance.now() - t0, 0) };
}

async function flush(t: Topology): Promise<void> {
  await Promise.all(t.servers.map((s) => s.flushall()));
}

async function measureWork(t: Topology, client: RedisClient, o: { perHost: number; tasks: number; pickups: number }): Promise<WorkFigures> {
  const procs: Proc[] = [];
  try {
    const { coordinator, hostProcs } = await startFleet(t, client, 1, o.perHost, procs);
    const pick = await pickupRun(t.url, o.pickups, procs);
    log(`  ${t.kind}: pickup p50 ${pick.p50} ms, p99 ${pick.p99} ms`);
    const th = await throughputRun(t.servers, { mode: 'throughput', url: t.url, tasks: o.tasks, window: 50, warmup: Math.ceil(o.tasks / 2) }, [coordinator, ...hostProcs], procs);
    const calls = th.redis.map((c) => c.redisCalls);
    const total = calls.reduce((a, b) => a + b, 0);
    log(`  ${t.kind}: throughput ${th.tasksPerSec} tasks/s; commands per task by server ${calls.map((c) => round(c, 1)).join(' / ')}`);
    return {
      throughputC50: th.tasksPerSec,
      pickupP50Ms: pick.p50,
      pickupP99Ms: pick.p99,
      masterShare: calls.map((c) => round(c / total, 3)),
      redisCpuUsPerTask: th.redis.map((c) => round(c.redisCpuUs, 1)),
      commandsPerTask: round(total, 1),
    };
  } finally {
    await stopAll(procs);
    await flush(t);
  }
}

async function measureFleet(t: Topology, client: RedisClient, o: { hosts: number; perHost: number; pickups: number }): Promise<FleetFigures> {
  const procs: Proc[] = [];
  try {
    const { readyMs } = await startFleet(t, client, o.hosts, o.perHost, procs);
    const connectionsPerMaster = await Promise.all(t.servers.map(async (s) => Number(/connected_clients:(\d+)/.exec(await s.info('clients'))?.[1] ?? NaN)));
    const pick = await pickupRun(t.url, o.pickups, procs);
    log(`  ${t.kind}, ${o.hosts} × ${o.perHost} agents: ready in ${readyMs} ms, connections ${connectionsPerMaster.join(' / ')}, pickup p99 ${pick.p99} ms`);
    return { readyMs, pickupP99Ms: pick.p99, connectionsPerMaster };
  } finally {
    await stopAll(procs);
    await flush(t);
  }
}

/** What a failover cost, summed over the runs. */
interface FailoverFigures {
  runs: number;
  acknowledged: number;
  refused: number;
  lost: number;
  duplicated: number;
}

type FailoverTable = Record<'cluster' | 'sentinel', Record<'replicated' | 'default', FailoverFigures>>;

async function measureFailover(runs: number): Promise<FailoverTable> {
  const once = async (where: 'cluster' | 'sentinel', durability: Durability): Promise<FailoverFigures> => {
    const sum: FailoverFigures = { runs, acknowledged: 0, refused: 0, lost: 0, duplicated: 0 };
    for (let i = 0; i < runs; i++) {
      const quiet = () => {};
      const f: FailoverScenario = where === 'cluster' ? await clusterFailover(durability, 'group', quiet) : await sentinelFailover(durability, quiet);
      await f.stop();
      sum.acknowledged += f.acknowledged;
      sum.refused += f.refused;
      sum.lost += f.lost;
      sum.duplicated += f.completedTwice;
      log(`  failover, ${where}, ${durability}, run ${i + 1}: ${f.acknowledged} acknowledged, ${f.refused} refused, ${f.lost} lost, ${f.completedTwice} completed twice`);
    }
    return sum;
  };
  const out = { cluster: {}, sentinel: {} } as FailoverTable;
  for (const where of ['cluster', 'sentinel'] as const) {
    out[where].replicated = await once(where, 'replicated');
    out[where].default = await once(where, 'fast');
  }
  return out;
}

export async function run(args: string[]): Promise<void> {
  const o = {
    perHost: intFlag(args, '--per-host', 1000),
    hosts: intFlag(args, '--hosts', 10),
    tasks: intFlag(args, '--tasks', 20_000),
    pickups: intFlag(args, '--pickups', 500),
    fleet: !args.includes('--no-fleet'),
    failover: !args.includes('--no-failover'),
    failoverRuns: intFlag(args, '--failover-runs', 2),
  };
  const work: Partial<Record<Topology['kind'], WorkFigures>> = {};
  const fleet: Partial<Record<Topology['kind'], FleetFigures>> = {};
  for (const kind of ['single', 'cluster'] as const) {
    log(`cluster bench: ${kind === 'single' ? 'one Redis' : 'a three-master Cluster'}`);
    const t = await topology(kind);
    const client = connectRedis(redisTargetFromUrl(t.url), { maxRetriesPerRequest: null });
    try {
      work[kind] = await measureWork(t, client, o);
      if (o.fleet) fleet[kind] = await measureFleet(t, client, o);
    } finally {
      client.disconnect();
      await t.stop();
    }
  }
  let failover: FailoverTable | undefined;
  if (o.failover) {
    log('cluster bench: failover');
    failover = await measureFailover(o.failoverRuns);
  }
  const single = work.single!;
  const cluster = work.cluster!;
  const ratio = round(cluster.throughputC50 / single.throughputC50, 2);
  const busiest = round(Math.max(...cluster.masterShare) / (1 / cluster.masterShare.length), 2);
  // Redis-bound throughput if each master had a core of its own: the busiest master's CPU per task sets it.
  const projected = (cpu: number[]) => round(1e6 / Math.max(...cpu), 0);
  console.log(
    textTable(
      ['', 'one Redis', 'Cluster (3 masters)'],
      [
        ['throughput, 50 in flight (tasks/s)', single.throughputC50, `${cluster.throughputC50} (${ratio}×)`],
        ['pickup p50 / p99 (ms)', `${single.pickupP50Ms} / ${single.pickupP99Ms}`, `${cluster.pickupP50Ms} / ${cluster.pickupP99Ms}`],
        ["servers' share of commands", single.masterShare.join(' / '), cluster.masterShare.join(' / ')],
        ['Redis CPU per task (µs), by server', single.redisCpuUsPerTask.join(' / '), cluster.redisCpuUsPerTask.join(' / ')],
        ['Redis commands per task', single.commandsPerTask, cluster.commandsPerTask],
        ['Redis-bound tasks/s, a core per server', projected(single.redisCpuUsPerTask), projected(cluster.redisCpuUsPerTask)],
        ...(o.fleet
          ? [
              [`${o.hosts} × ${o.perHost} agents: ready (ms)`, fleet.single!.readyMs, fleet.cluster!.readyMs],
              ['… connections per server', fleet.single!.connectionsPerMaster.join(' / '), fleet.cluster!.connectionsPerMaster.join(' / ')],
              ['… pickup p99 (ms)', fleet.single!.pickupP99Ms, fleet.cluster!.pickupP99Ms],
            ]
          : []),
      ],
    ),
  );
  console.log(
    `\nbudgets (issue 16): Cluster throughput ≥ ${BUDGET.throughputRatio}× one Redis: ${ratio}×; busiest master ≤ ${BUDGET.busiestShareOfMean}× the mean share: ${busiest}×; pickup p99 ≤ ${BUDGET.pickupP99Ms} ms: ${single.pickupP99Ms} / ${cluster.pickupP99Ms} ms${o.fleet ? `, at ${o.hosts} × ${o.perHost} agents ${fleet.single!.pickupP99Ms} / ${fleet.cluster!.pickupP99Ms} ms` : ''}`,
  );
  if (failover) {
    const row = (f: FailoverFigures) => `${f.lost} / ${f.duplicated} of ${f.acknowledged} (${f.refused} refused)`;
    console.log(`\na master SIGKILLed mid-run, ${o.failoverRuns} runs each: acknowledged tasks lost / completed twice, of all acknowledged (submits refused)`);
    console.log(
      textTable(
        ['', 'replicated', 'fast (default)'],
        (['cluster', 'sentinel'] as const).map((w) => [w === 'cluster' ? 'Cluster, 3 masters + 3 replicas' : 'Sentinel, primary + replica', row(failover![w].replicated), row(failover![w].default)]),
      ),
    );
  }
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  const out = { at: new Date().toISOString(), node: process.version, options: o, budget: BUDGET, single, cluster, ...(o.fleet ? { agents10k: fleet } : {}), ...(failover ? { failover } : {}) };
  writeFileSync(new URL('./results/cluster.json', import.meta.url), `${JSON.stringify(out, null, 2)}\n`);
  console.log('\nwrote bench/results/cluster.json');
}
