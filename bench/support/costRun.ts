// One contender of the cost mode at one concurrency: its producer, its consumer
// (raw Worker / agent host), and for intake its coordinator, for http its no-op
// service, each in a process of its own (costChild.ts), on a fresh prefix.
//   warm-up  not measured: connects, loads scripts, warms the JIT;
//   idle     then 2 s with nothing submitted: each process's background CPU per second;
//   cost     `tasks` no-op tasks, `window` in flight: CPU of each process
//            (process.cpuUsage, asked just before the first submit and just after
//            the last completion), Redis CPU (INFO cpu) and commands executed
//            (INFO commandstats) over the same window, per task;
//   slowlog  `slowlogTasks` more with every command logged: Redis µs per task
//            by command and by script, checked against INFO commandstats of the
//            same window, and what the logging itself costs Redis (its CPU per
//            task here against the cost window's).
// The window ends when the parent sees the last completion, polling Redis every
// POLL_MS, so each process's figure includes up to that long of idle background.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { bullKey, INTAKE_QUEUE, nodeQueueName } from '../../queues/keys.ts';
import { diffCommandStats, sumStats, type CommandStat } from './commandStats.ts';
import { CostProc } from './costProcs.ts';
import type { CostRole } from './costChild.ts';
import { redisSnapshot, SlowlogSession } from './redisCost.ts';
import { isRaw, RAW_QUEUE, type ContenderName } from './rigs.ts';
import { medianPerCall, sentTotals, type ScriptNames, type SlowlogTally } from './slowlogGroups.ts';

const POLL_MS = 10;
const IDLE_MS = 2000;
const SCRIPT_CALLS = new Set(['evalsha', 'evalsha_ro', 'eval', 'eval_ro']);

/** Mean µs per script call in a window, from INFO commandstats (so with any OS pauses in it). */
function scriptUsPerCall(window: Map<string, CommandStat>): number {
  const t = sumStats(window, (n) => !SCRIPT_CALLS.has(n));
  return t.calls ? t.usec / t.calls : 0;
}
export const COST_OBSERVER = 'bench:cost:observer';

/** Commands of the bench's own observer: its snapshots and the slowlog's handling. Not the contenders'. */
export const benchOwn = (name: string) => name === 'info' || name.startsWith('slowlog|') || name.startsWith('config|');

export interface CostRunOptions {
  contender: ContenderName;
  concurrency: number;
  url: string;
  prefix: string;
  observer: Redis;
  names: ScriptNames;
  tasks: number;
  slowlogTasks: number;
  warmup: number;
  window: number;
  /** First sequence number this run may use. */
  firstSeq: number;
}

export type PerRole = Partial<Record<CostRole, number>>;

/** One script or command, per task. */
export interface GroupFigures {
  key: string;
  script: boolean;
  calls: number;
  /** as logged */
  us: number;
  /** median µs per call × calls (slowlogGroups.ts says why) */
  typicalUs: number;
  medianUsPerCall: number;
}

export interface SlowlogFigures {
  tasks: number;
  /** Redis µs per task of what clients sent (a script's inner commands are inside its µs), as logged and typical */
  redisUs: number;
  typicalUs: number;
  scriptUs: number;
  typicalScriptUs: number;
  sent: number;
  redisCpuUs: number;
  /** most typical µs first */
  groups: GroupFigures[];
  /** script → [inner command, µs per task, calls per task] */
  inside: Record<string, [string, number, number][]>;
  check: { commandstatsUs: number; slowlogUs: number; commandstatsCalls: number; slowlogCalls: number };
  lost: number;
  benchOwnUs: number;
}

export interface CostRunFigures {
  contender: ContenderName;
  concurrency: number;
  tasks: number;
  ms: number;
  /** CPU µs per task, per process */
  cpuUs: PerRole;
  /** CPU µs per second with nothing submitted, per process */
  idleUsPerSec: PerRole;
  redisCpuUs: number;
  /** commands Redis executed per task (INFO commandstats: a script's inner commands count too) */
  executed: number;
  /**
   * Mean µs per script call (INFO commandstats) with the slowlog off and on:
   * a script's redis.call entries are logged inside its run, so the slowlog
   * makes scripts slower by what logging them costs.
   */
  scriptUsPerCall: { off: number; on?: number };
  slowlog?: SlowlogFigures;
  slowlogNote?: string;
}

interface Procs {
  all: CostProc[];
  producer: CostProc;
  nodes: string[];
}

async function startProcs(o: CostRunOptions): Promise<Procs> {
  const all: CostProc[] = [];
  const base = { contender: o.contender, url: o.url, prefix: o.prefix, concurrency: o.concurrency };
  const start = async (role: CostRole, extra: Partial<Parameters<typeof CostProc.start>[0]> = {}) => {
    const { proc, ready } = await CostProc.start({ ...base, role, ...extra });
    all.push(proc);
    return ready;
  };
  try {
    const http = o.contender === 'http' ? { secret: 'bench-secret-0123456789abcdef' } : undefined;
    const serviceUrl = http ? (await start('service', http)).serviceUrl : undefined;
    const [consumer] = await Promise.all([start('consumer', { ...http, ...(serviceUrl ? { serviceUrl } : {}) }), o.contender === 'intake' ? start('coordinator') : undefined]);
    // After the consumer: a SwarmClient routes to the agents registered when it starts.
    await start('producer');
    const producer = all.find((p) => p.spec.role === 'producer')!;
    return { all, producer, nodes: consumer.nodes ?? [] };
  } catch (err) {
    await Promise.all(all.map((p) => p.kill()));
    throw err;
  }
}

async function cpuOf(procs: Procs): Promise<Map<CostProc, number>> {
  const us = await Promise.all(procs.all.map((p) => p.cpuUs()));
  return new Map(procs.all.map((p, i) => [p, us[i]!]));
}

function perRole(procs: Procs, a: Map<CostProc, number>, b: Map<CostProc, number>, by: number): PerRole {
  const out: PerRole = {};
  for (const p of procs.all) out[p.spec.role] = (b.get(p)! - a.get(p)!) / by;
  return out;
}

/** Completed tasks (and, for intake, routed intake jobs: the smaller), counting the ZCARDs it sends. */
function completions(o: CostRunOptions, nodes: string[]): { count: () => Promise<number>; sent: () => number } {
  const taskKeys = isRaw(o.contender) ? [bullKey(o.prefix, RAW_QUEUE, 'completed')] : nodes.map((n) => bullKey(o.prefix, nodeQueueName(n), 'completed'));
  const intakeKey = o.contender === 'intake' ? bullKey(o.prefix, INTAKE_QUEUE, 'completed') : undefined;
  let sent = 0;
  return {
    sent: () => sent,
    async count() {
      const p = o.observer.pipeline();
      for (const k of taskKeys) p.zcard(k);
      if (intakeKey) p.zcard(intakeKey);
      sent += taskKeys.length + (intakeKey ? 1 : 0);
      const res = ((await p.exec()) ?? []).map(([err, n]) => (err ? 0 : Number(n)));
      const tasks = res.slice(0, taskKeys.length).reduce((s, n) => s + n, 0);
      return intakeKey ? Math.min(tasks, res[taskKeys.length]!) : tasks;
    },
  };
}

async function waitFor(count: () => Promise<number>, target: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const c = await count();
    if (c >= target) return;
    if (performance.now() > deadline) throw new Error(`timed out: ${c} of ${target} tasks completed after ${timeoutMs} ms`);
    await sleep(POLL_MS);
  }
}

function slowlogFigures(t: SlowlogTally, window: Map<string, CommandStat>, tasks: number, redisCpuUs: number): SlowlogFigures {
  const totals = sentTotals(t);
  // EXEC's usec holds its MULTI's commands (logged one by one): leave it out of the check's side too.
  const cs = sumStats(window, (n) => benchOwn(n) || n === 'exec');
  let slowUs = 0;
  let slowCalls = 0;
  for (const [name, g] of t.byStatName) {
    if (benchOwn(name) || name === 'exec') continue;
    slowUs += g.us;
    slowCalls += g.calls;
  }
  let benchOwnUs = 0;
  for (const g of t.leftOut.values()) benchOwnUs += g.us;
  return {
    tasks,
    redisUs: totals.us / tasks,
    typicalUs: totals.typicalUs / tasks,
    scriptUs: totals.scriptUs / tasks,
    typicalScriptUs: totals.typicalScriptUs / tasks,
    sent: totals.calls / tasks,
    redisCpuUs,
    groups: [...t.sent]
      .map(([key, g]) => {
        const med = medianPerCall(g.durations);
        return { key, script: g.script, calls: g.calls / tasks, us: g.us / tasks, typicalUs: (med * g.calls) / tasks, medianUsPerCall: med };
      })
      .sort((a, b) => b.typicalUs - a.typicalUs),
    inside: Object.fromEntries(
      [...t.inside].map(([script, m]) => [script, [...m].map(([c, g]) => [c, g.us / tasks, g.calls / tasks] as [string, number, number]).sort((a, b) => b[1] - a[1])]),
    ),
    check: { commandstatsUs: cs.usec, slowlogUs: slowUs, commandstatsCalls: cs.calls, slowlogCalls: slowCalls },
    lost: t.lost,
    benchOwnUs,
  };
}

export async function costRun(o: CostRunOptions): Promise<CostRunFigures> {
  const procs = await startProcs(o);
  const done = completions(o, procs.nodes);
  let seq = o.firstSeq;
  /** Submits n and waits for their completions; the producer's submit call returns once all are acknowledged. */
  const batch = async (n: number) => {
    const target = (await done.count()) + n;
    const first = seq;
    seq += n;
    await Promise.all([procs.producer.submit(first, n, o.window), waitFor(done.count, target, 300_000)]);
  };
  try {
    await batch(o.warmup);

    const i0 = await cpuOf(procs);
    await sleep(IDLE_MS);
    const idleUsPerSec = perRole(procs, i0, await cpuOf(procs), IDLE_MS / 1000);

    const r0 = await redisSnapshot(o.observer);
    const zc0 = done.sent();
    const c0 = await cpuOf(procs);
    const t0 = performance.now();
    await batch(o.tasks);
    const t1 = performance.now();
    const c1 = await cpuOf(procs);
    const zcards = done.sent() - zc0;
    const r1 = await redisSnapshot(o.observer);
    const costWindow = diffCommandStats(r0.stats, r1.stats);
    const executed = (sumStats(costWindow, benchOwn).calls - zcards) / o.tasks;
    const fig: CostRunFigures = {
      contender: o.contender,
      concurrency: o.concurrency,
      tasks: o.tasks,
      ms: t1 - t0,
      cpuUs: perRole(procs, c0, c1, o.tasks),
      idleUsPerSec,
      redisCpuUs: (r1.cpuUs - r0.cpuUs) / o.tasks,
      executed,
      scriptUsPerCall: { off: scriptUsPerCall(costWindow) },
    };

    if (o.slowlogTasks > 0) {
      const session = await SlowlogSession.start(o.observer, o.names, (e) => e.name === COST_OBSERVER);
      if (typeof session === 'string') fig.slowlogNote = session;
      else {
        try {
          const s0 = await redisSnapshot(o.observer);
          await batch(o.slowlogTasks);
          const s1 = await redisSnapshot(o.observer);
          const tally = await session.stop();
          const window = diffCommandStats(s0.stats, s1.stats);
          fig.slowlog = slowlogFigures(tally, window, o.slowlogTasks, (s1.cpuUs - s0.cpuUs) / o.slowlogTasks);
          fig.scriptUsPerCall.on = scriptUsPerCall(window);
        } finally {
          await session.restore();
        }
      }
    }
    return fig;
  } finally {
    await Promise.all(procs.all.map((p) => p.close()));
  }
}
