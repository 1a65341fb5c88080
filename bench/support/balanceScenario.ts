// One run of one balance scenario on a fresh prefix: an AgentHost of `agents`
// agents (capacity 1, 10 per node), optionally a Coordinator (which leads, so its
// Balancer steals and rebalances), a list of `sleep` tasks added either through
// SwarmClient (least-loaded routing) or straight into node n1's queue, and the
// makespan from the first add to the last completion.
//
// Measurement stays out of the way: completion is detected by polling ZCARD of
// the node queues' completed (and failed) sets every `pollMs`, one pipelined
// round trip; the makespan itself comes afterwards from the completed sets'
// scores, which are BullMQ's finishedOn (Date.now() in the agent's process, this
// one), so it does not depend on the poll interval.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { AgentHost } from '../../src/agents/host.ts';
import type { RebalancedEvent } from '../../src/balancer/balancer.ts';
import type { Move } from '../../src/balancer/plan.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { swarmConfigSchema, type SwarmConfig } from '../../src/config/schema.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { silentLogger } from '../../src/log.ts';
import { newTaskId } from '../../src/tasks/ids.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { bullKey, nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { windowed } from './measure.ts';
import { dropPrefix } from './redis.ts';

const EVEN_CHUNK = 50;

export type ScenarioName = 'balanced' | 'even' | 'skewed' | 'skewed-warm' | 'nosteal';

export const SCENARIOS: readonly ScenarioName[] = ['balanced', 'even', 'skewed', 'skewed-warm', 'nosteal'];

/**
 * skewed-warm: how long the coordinator runs before the first add. A coordinator's
 * first round with nothing to steal also rebalances (its rebalance clock starts at
 * 0); in `skewed` the add comes before that first round, so the round after the
 * first steal rebalances whatever is left. A coordinator that has been running
 * meets a skew at a random point of its rebalanceInterval; after WARM_MS the next
 * rebalance is over 4 s away, past the whole run: stealing alone.
 */
export const WARM_MS = 1000;

export const SCENARIO_WHAT: Record<ScenarioName, string> = {
  balanced: 'SwarmClient (least-loaded routing), coordinator running',
  even: 'added straight to the node queues, 1/10 each (addBulk, as skewed), coordinator running',
  skewed: 'all added straight to node-n1, coordinator running (stealing + rebalancing)',
  'skewed-warm': `as skewed, the coordinator started ${WARM_MS} ms earlier: its first rebalance is spent, stealing alone`,
  nosteal: 'all added straight to node-n1, no coordinator (raw BullMQ: n1 does everything)',
};

export interface ScenarioOptions {
  scenario: ScenarioName;
  url: string;
  prefix: string;
  observer: Redis;
  lengths: readonly number[];
  agents: number;
  /** Override of coordinator.workStealing.intervalMs; undefined = the default. */
  stealIntervalMs: number | undefined;
  /** balanced only: submitBatch calls of `batch` tasks one after another, or single submits `window` in flight. */
  submit: 'batch' | 'single';
  batch: number;
  window: number;
  pollMs: number;
  timeoutMs: number;
  /** Read Redis's SLOWLOG (the caller set slowlog-log-slower-than on a private server): how long moves blocked Redis. */
  slowlog: boolean;
}

/** Time Redis spent in single commands of ≥ the slowlog threshold during the run. */
export interface RedisBlocking {
  /** moveJobs script calls (balancer moves) that took ≥ the threshold */
  moveCalls: number;
  moveMs: number;
  moveMaxMs: number;
  /** any other command that took ≥ the threshold */
  otherCalls: number;
  otherMs: number;
  otherMaxMs: number;
}

/** The SHA1 EVALSHA names our moveJobs script by (queues/scripts.ts loads it under its content hash). */
const MOVE_JOBS_SHA = createHash('sha1').update(readFileSync(new URL('../../queues/commands/moveJobs-12.lua', import.meta.url), 'utf8')).digest('hex');

async function slowlogBlocking(redis: Redis): Promise<RedisBlocking> {
  const entries = (await redis.call('SLOWLOG', 'GET', '100000')) as [number, number, number, string[], ...unknown[]][];
  const out: RedisBlocking = { moveCalls: 0, moveMs: 0, moveMaxMs: 0, otherCalls: 0, otherMs: 0, otherMaxMs: 0 };
  for (const [, , us, args] of entries) {
    const ms = us / 1000;
    const cmd = String(args[0] ?? '').toLowerCase();
    if (cmd === 'slowlog') continue;
    if (cmd === 'evalsha' && String(args[1]) === MOVE_JOBS_SHA) {
      out.moveCalls++;
      out.moveMs += ms;
      out.moveMaxMs = Math.max(out.moveMaxMs, ms);
    } else {
      out.otherCalls++;
      out.otherMs += ms;
      out.otherMaxMs = Math.max(out.otherMaxMs, ms);
    }
  }
  return out;
}

export interface TickRecord {
  /** ms after the first add (negative: before it). */
  atMs: number;
  durMs: number;
  moved: number;
}

export interface MoveRecord {
  atMs: number;
  from: string;
  to: string;
  moved: number;
  reason: Move['reason'];
}

export interface NodeOutcome {
  completed: number;
  /** ms after the first add */
  firstFinishMs: number | null;
  lastFinishMs: number | null;
}

export interface ScenarioRun {
  scenario: ScenarioName;
  prefix: string;
  makespanMs: number;
  /** How long the add call(s) took. */
  addMs: number;
  /** Completed count seen by the poll loop at the moment it saw all done, after the first add (ms). */
  detectedMs: number;
  completed: number;
  failed: number;
  duplicateCompletions: number;
  perNode: Record<string, NodeOutcome>;
  ranOutsideN1: number;
  /** Spread of the nodes' last finishes: when the first node ran dry for good vs the last. */
  firstNodeDoneMs: number;
  moves: MoveRecord[];
  ticks: TickRecord[];
  /** From SLOWLOG, first add → all done; undefined when not read (shared Redis). */
  redisBlocking: RedisBlocking | undefined;
  polls: number;
  config: { stealIntervalMs: number; stealRatio: number; rebalanceIntervalMs: number; tolerance: number; snapshotIntervalMs: number };
}

function configFor(o: ScenarioOptions): SwarmConfig {
  return swarmConfigSchema.parse({
    redisUrl: o.url,
    prefix: o.prefix,
    coordinator: o.stealIntervalMs !== undefined ? { workStealing: { intervalMs: o.stealIntervalMs } } : {},
  });
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioRun> {
  const config = configFor(o);
  const n = o.lengths.length;
  const host = new AgentHost({
    config,
    hostId: 'bench-balance',
    agents: [{ type: 'w', count: o.agents, capacity: 1 }],
    processors: builtinProcessors,
    logger: silentLogger,
    control: false,
  });
  let coordinator: Coordinator | undefined;
  let client: SwarmClient | undefined;
  const queues: Queue[] = [];
  const producerConn = new Redis(o.url, { maxRetriesPerRequest: null, connectionName: 'bench:balance:producer' });
  producerConn.on('error', () => {});
  const moves: { at: number; m: RebalancedEvent['moves'][number] }[] = [];
  const ticks: { at: number; durMs: number; moved: number }[] = [];
  try {
    await host.start();
    const nodes = [...new Set(host.agents().map((a) => a.node))].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
    if (!nodes.includes('n1')) throw new Error(`expected node n1 among the host's nodes, got ${nodes.join(', ')}`);
    const completedKeys = nodes.map((id) => bullKey(o.prefix, nodeQueueName(id), 'completed'));
    const failedKeys = nodes.map((id) => bullKey(o.prefix, nodeQueueName(id), 'failed'));

    if (o.scenario !== 'nosteal') {
      coordinator = new Coordinator({ config, logger: silentLogger });
      const balancer = coordinator.balancer;
      balancer.on('load:rebalanced', (e) => {
        for (const m of e.moves) moves.push({ at: e.at, m });
      });
      // Time each balancer round (the interval timer calls this.tick()); nothing else changes.
      const tick = balancer.tick.bind(balancer);
      balancer.tick = async (now?: number) => {
        const at = Date.now();
        const t = performance.now();
        const done = await tick(now);
        ticks.push({ at, durMs: performance.now() - t, moved: done.reduce((s, m) => s + m.moved, 0) });
        return done;
      };
      await coordinator.start();
    }

    // Producers are connected and warm before the clock starts.
    let add: () => Promise<void>;
    if (o.scenario === 'balanced') {
      const maxBatch = Math.min(10_000, o.batch, n);
      client = new SwarmClient({ redis: o.url, prefix: o.prefix, config: { http: { maxBatch } } });
      await client.get('n1.warmup'); // connects, loads scripts, reads the roster
      const tasks = o.lengths.map((ms) => ({ type: 'sleep', payload: { ms } }));
      const c = client;
      add =
        o.submit === 'batch'
          ? async () => {
              for (let i = 0; i < n; i += maxBatch) await c.submitBatch(tasks.slice(i, i + maxBatch));
            }
          : async () => {
              await windowed(n, o.window, (i) => c.submit(tasks[i]!));
            };
    } else if (o.scenario === 'even') {
      // The skewed add spread evenly: task i to node i mod k, in addBulk chunks of
      // EVEN_CHUNK per node issued round-robin over the nodes all at once, so
      // every node's first tasks land about as early as n1's do in the skewed add.
      const qs = nodes.map((id) => new Queue(nodeQueueName(id), { connection: producerConn, prefix: o.prefix }));
      queues.push(...qs);
      await Promise.all(qs.map((q) => q.waitUntilReady()));
      const perNode = nodes.map(() => [] as { name: string; data: { payload: { ms: number } }; opts: { jobId: string } }[]);
      o.lengths.forEach((ms, i) => {
        const k = i % nodes.length;
        perNode[k]!.push({ name: 'sleep', data: { payload: { ms } }, opts: { jobId: newTaskId(nodes[k]!) } });
      });
      const calls: (() => Promise<unknown>)[] = [];
      for (let at = 0; at < Math.ceil(n / nodes.length); at += EVEN_CHUNK) {
        perNode.forEach((jobs, k) => {
          const chunk = jobs.slice(at, at + EVEN_CHUNK);
          if (chunk.length) calls.push(() => qs[k]!.addBulk(chunk));
        });
      }
      add = async () => {
        await Promise.all(calls.map((c) => c()));
      };
    } else {
      const q = new Queue(nodeQueueName('n1'), { connection: producerConn, prefix: o.prefix });
      queues.push(q);
      await q.waitUntilReady();
      const jobs = o.lengths.map((ms) => ({ name: 'sleep', data: { payload: { ms } }, opts: { jobId: newTaskId('n1') } }));
      add = async () => {
        await q.addBulk(jobs);
      };
    }

    const counts = async (): Promise<{ completed: number; failed: number }> => {
      const p = o.observer.pipeline();
      for (const k of completedKeys) p.zcard(k);
      for (const k of failedKeys) p.zcard(k);
      const res = (await p.exec()) ?? [];
      let completed = 0;
      let failed = 0;
      res.forEach(([err, v], i) => {
        if (err) throw err;
        if (i < completedKeys.length) completed += Number(v);
        else failed += Number(v);
      });
      return { completed, failed };
    };

    if (o.scenario === 'skewed-warm') await sleep(WARM_MS);
    if (o.slowlog) await o.observer.call('SLOWLOG', 'RESET');
    const t0 = Date.now();
    const p0 = performance.now();
    await add();
    const addMs = performance.now() - p0;
    let polls = 0;
    let last = { completed: 0, failed: 0 };
    for (;;) {
      last = await counts();
      polls++;
      if (last.completed + last.failed >= n) break;
      if (performance.now() - p0 > o.timeoutMs) {
        throw new Error(`${o.scenario}: ${last.completed} completed, ${last.failed} failed of ${n} after ${o.timeoutMs} ms`);
      }
      await sleep(o.pollMs);
    }
    const detectedMs = performance.now() - p0;
    const redisBlocking = o.slowlog ? await slowlogBlocking(o.observer) : undefined;

    // Exact figures from the completed sets (score = finishedOn).
    const p = o.observer.pipeline();
    for (const k of completedKeys) {
      p.zcard(k);
      p.zrange(k, '0', '0', 'WITHSCORES');
      p.zrevrange(k, 0, 0, 'WITHSCORES');
    }
    p.hget(swarmKeys(o.prefix).stats, 'duplicateCompletions');
    const res = (await p.exec()) ?? [];
    const perNode: Record<string, NodeOutcome> = {};
    let lastFinish = 0;
    nodes.forEach((id, i) => {
      const completed = Number(res[i * 3]?.[1] ?? 0);
      const first = res[i * 3 + 1]?.[1] as string[] | undefined;
      const lastOne = res[i * 3 + 2]?.[1] as string[] | undefined;
      const firstAt = first?.[1] !== undefined ? Number(first[1]) : null;
      const lastAt = lastOne?.[1] !== undefined ? Number(lastOne[1]) : null;
      if (lastAt !== null && lastAt > lastFinish) lastFinish = lastAt;
      perNode[id] = { completed, firstFinishMs: firstAt === null ? null : firstAt - t0, lastFinishMs: lastAt === null ? null : lastAt - t0 };
    });
    const duplicateCompletions = Number(res[nodes.length * 3]?.[1] ?? 0);
    const lastFinishes = Object.values(perNode)
      .map((x) => x.lastFinishMs)
      .filter((x): x is number => x !== null);
    const { workStealing, loadBalancing, snapshotIntervalMs } = config.coordinator;
    return {
      scenario: o.scenario,
      prefix: o.prefix,
      makespanMs: lastFinish - t0,
      addMs,
      detectedMs,
      completed: last.completed,
      failed: last.failed,
      duplicateCompletions,
      perNode,
      ranOutsideN1: last.completed - (perNode.n1?.completed ?? 0),
      firstNodeDoneMs: lastFinishes.length ? Math.min(...lastFinishes) : 0,
      moves: moves.map(({ at, m }) => ({ atMs: at - t0, from: m.from, to: m.to, moved: m.moved, reason: m.reason })),
      ticks: ticks.map((t) => ({ atMs: t.at - t0, durMs: t.durMs, moved: t.moved })),
      redisBlocking,
      polls,
      config: {
        stealIntervalMs: workStealing.intervalMs,
        stealRatio: workStealing.thresholdRatio,
        rebalanceIntervalMs: loadBalancing.rebalanceInterval,
        tolerance: loadBalancing.rebalanceTolerance,
        snapshotIntervalMs,
      },
    };
  } finally {
    await client?.close().catch(() => {});
    await Promise.all(queues.map((q) => q.close().catch(() => {})));
    await coordinator?.stop().catch(() => {});
    await host.stop(2000).catch(() => {});
    producerConn.disconnect();
    await dropPrefix(o.observer, o.prefix).catch(() => {});
  }
}
