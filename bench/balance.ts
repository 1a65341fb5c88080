// The balance benchmark: DESIGN.md's budget "skewed load (all tasks to one node
// of ten): makespan within 1.2× of a perfectly balanced run". One AgentHost of
// 100 agents of capacity 1 (10 nodes × 10), a private redis-server, and the same
// seeded list of `sleep` tasks (default 5,000 of 5–50 ms) in these scenarios,
// each run on a fresh prefix (balanced, skewed and nosteal are the budget's;
// even and skewed-warm are there to explain it):
//   balanced  submitted through SwarmClient (least-loaded routing), coordinator running
//   even      added straight to the 10 node queues, 1/10 each, with the skewed
//             scenario's own add path (addBulk), coordinator running: the balanced
//             run without SwarmClient's submit cost, for an add-for-add comparison
//   skewed    all added straight to node n1's queue (BullMQ addBulk, ids newTaskId('n1'),
//             data { payload }), coordinator running with its default stealing and
//             rebalancing settings, so idle nodes take n1's waiting work
//   skewed-warm  as skewed, but the coordinator has run for a second before the add,
//             so its first rebalance is spent and the next is past the run: stealing alone
//   nosteal   the same, no coordinator: raw BullMQ semantics, n1's 10 agents do it all
// Makespan = first add → last completion (BullMQ's finishedOn, from the completed
// sets once a cheap poll has seen all done). Each scenario --reps times, in
// rotating order; medians and min–max are reported.
// Beside it, the routing decision cost at 1,000 agents (100 nodes) for each
// strategy in src/routing, as a pure in-process micro-benchmark.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { swarmConfigSchema } from '../src/config/schema.ts';
import { intFlag, listFlag } from './support/args.ts';
import { listScheduleMs, median, sum, taskLengths } from './support/balanceMath.ts';
import { runScenario, SCENARIO_WHAT, SCENARIOS, type ScenarioName, type ScenarioRun } from './support/balanceScenario.ts';
import { round, textTable } from './support/measure.ts';
import { benchRedis } from './support/redis.ts';
import { measureRoutingCost, type RoutingCost } from './support/routingCost.ts';

/** DESIGN.md "Budgets": skewed makespan within 1.2× of a perfectly balanced run. */
const BUDGET_RATIO = 1.2;
const ROUTING = 'routing';
const AGENTS_PER_NODE = 10;
/** SLOWLOG threshold on the private server (µs). */
const SLOWLOG_US = 1000;

const log = (msg: string) => console.error(msg);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const ms0 = (x: number) => `${Math.round(x)}`;
/** "t+240 ms", or "t−1 ms" for a balancer round that began just before the first add (and read loads after it). */
const tAt = (ms: number) => `t${ms < 0 ? '−' : '+'}${Math.abs(Math.round(ms))} ms`;

function hasFlag(args: readonly string[], name: string): boolean {
  return args.some((a) => a === name || a.startsWith(`${name}=`));
}

function stringFlag<T extends string>(args: readonly string[], name: string, allowed: readonly T[], fallback: T): T {
  const v = listFlag(args, name)?.[0];
  if (v === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(v)) throw new Error(`${name} takes one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

interface Summary {
  medianMs: number;
  minMs: number;
  maxMs: number;
  runsMs: number[];
}

function summary(runs: readonly ScenarioRun[]): Summary {
  const xs = runs.map((r) => r.makespanMs);
  return { medianMs: median(xs), minMs: Math.min(...xs), maxMs: Math.max(...xs), runsMs: xs };
}

/** The run whose makespan is the median (the lower middle one for an even count). */
function medianRun(runs: readonly ScenarioRun[]): ScenarioRun {
  const s = [...runs].sort((a, b) => a.makespanMs - b.makespanMs);
  return s[Math.floor((s.length - 1) / 2)]!;
}

function movedTotal(r: ScenarioRun, reason?: 'steal' | 'rebalance'): number {
  return sum(r.moves.filter((m) => !reason || m.reason === reason).map((m) => m.moved));
}

/** Moves grouped by balancer round: "t+123 ms: 4491 (9 steals)". */
function moveTimeline(r: ScenarioRun, max = 8): string {
  const rounds = new Map<number, { moved: number; steals: number; rebalances: number }>();
  for (const m of r.moves) {
    const x = rounds.get(m.atMs) ?? { moved: 0, steals: 0, rebalances: 0 };
    x.moved += m.moved;
    if (m.reason === 'steal') x.steals++;
    else x.rebalances++;
    rounds.set(m.atMs, x);
  }
  const list = [...rounds].sort((a, b) => a[0] - b[0]);
  const parts = list.slice(0, max).map(([at, x]) => `${tAt(at)}: ${x.moved} (${x.steals ? `${x.steals} steal${x.steals > 1 ? 's' : ''}` : ''}${x.steals && x.rebalances ? ', ' : ''}${x.rebalances ? `${x.rebalances} rebalance${x.rebalances > 1 ? 's' : ''}` : ''})`);
  if (list.length > max) parts.push(`… ${list.length - max} more rounds`);
  return parts.join('; ') || 'no moves';
}

export async function run(args: string[]): Promise<void> {
  const s = {
    tasks: intFlag(args, '--tasks', 5000),
    agents: intFlag(args, '--agents', 100),
    reps: intFlag(args, '--reps', 3),
    minMs: intFlag(args, '--min-ms', 5, 0),
    maxMs: intFlag(args, '--max-ms', 50, 0),
    seed: intFlag(args, '--seed', 42, 0),
    window: intFlag(args, '--window', 256),
    batch: intFlag(args, '--batch', 250),
    pollMs: intFlag(args, '--poll-ms', 10),
    routingAgents: intFlag(args, '--routing-agents', 1000),
    routingMs: intFlag(args, '--routing-ms', 1000, 50),
    submit: stringFlag(args, '--submit', ['batch', 'single'] as const, 'single'),
    stealIntervalMs: hasFlag(args, '--steal-interval-ms') ? intFlag(args, '--steal-interval-ms', 250, 20) : undefined,
    verbose: args.includes('--verbose'),
  };
  if (s.maxMs < s.minMs) throw new Error(`--max-ms (${s.maxMs}) must be ≥ --min-ms (${s.minMs})`);
  const items = [...SCENARIOS, ROUTING];
  const selected = listFlag(args, '--only') ?? items;
  for (const c of selected) if (!items.includes(c as ScenarioName)) throw new Error(`--only: unknown item "${c}" (${items.join(', ')})`);
  const only = SCENARIOS.filter((c) => selected.includes(c));
  const withRouting = selected.includes(ROUTING);
  const defaults = swarmConfigSchema.parse({}).coordinator;
  const required: ScenarioName[] = ['balanced', 'skewed', 'nosteal'];
  const full = required.every((c) => only.includes(c)) && withRouting;
  if (!full) log('note: a partial run (--only) prints its table but does not write bench/results/balance.json');
  if (s.stealIntervalMs !== undefined && s.stealIntervalMs !== defaults.workStealing.intervalMs) {
    log(`note: coordinator.workStealing.intervalMs lowered/changed to ${s.stealIntervalMs} ms (default ${defaults.workStealing.intervalMs} ms); reported in the results`);
  }

  const lengths = taskLengths(s.tasks, s.minMs, s.maxMs, s.seed);
  const nodes = Math.ceil(s.agents / AGENTS_PER_NODE);
  const n1Slots = Math.min(AGENTS_PER_NODE, s.agents);
  const ideal = { balancedMs: listScheduleMs(lengths, s.agents), n1OnlyMs: listScheduleMs(lengths, n1Slots), workMs: sum(lengths) };
  const began = performance.now();
  const loadBefore = loadavg().map((x) => round(x, 2));

  // 1. Routing decision cost (pure, in process, before anything else runs here).
  let routing: RoutingCost | undefined;
  if (withRouting) {
    const t = performance.now();
    routing = measureRoutingCost({ agents: s.routingAgents, perNode: AGENTS_PER_NODE, budgetMs: s.routingMs, rounds: 9, seed: s.seed });
    log(
      `routing at ${routing.agents} agents (${routing.nodes} nodes): ` +
        routing.strategies.map((x) => `${x.name} ${(x.nsPerDecision / 1000).toFixed(2)} µs`).join(', ') +
        `; buildHierarchy ${routing.treeBuildUs.toFixed(1)} µs; ${secs(performance.now() - t)}`,
    );
  }

  // 2. The scenarios, on one private Redis.
  const runs = new Map<ScenarioName, ScenarioRun[]>(only.map((c) => [c, []]));
  let redisInfo = { version: 'n/a', source: 'n/a' };
  if (only.length) {
    const redis = await benchRedis();
    redisInfo = { version: redis.version, source: redis.source };
    const onSignal = () => {
      void redis.stop().finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const observer = new Redis(redis.url, { maxRetriesPerRequest: 1, connectionName: 'bench:balance:observer' });
    observer.on('error', () => {});
    const runId = `bench-balance-${Date.now().toString(36)}`;
    // On our own server only: log every command of ≥ 1 ms, to see how long balancer moves hold Redis.
    const slowlog = redis.source !== 'REDIS_URL';
    if (slowlog) {
      await observer.config('SET', 'slowlog-log-slower-than', String(SLOWLOG_US));
      await observer.config('SET', 'slowlog-max-len', '10000');
    }
    log(`balance: ${redis.source} ${redis.url} (redis ${redis.version}), node ${process.version}, ${cpus().length} cpus, load average ${loadBefore.join(' ')}`);
    log(
      `         ${s.agents} agents of capacity 1 in ${nodes} nodes, 1 AgentHost; ${s.tasks} sleep tasks of ${s.minMs}–${s.maxMs} ms (seed ${s.seed}, ` +
        `${(ideal.workMs / 1000).toFixed(1)} s of work); ideal makespan ${ms0(ideal.balancedMs)} ms on ${s.agents} slots, ${ms0(ideal.n1OnlyMs)} ms on n1's ${n1Slots}`,
    );
    log(
      `         stealing every ${s.stealIntervalMs ?? defaults.workStealing.intervalMs} ms${s.stealIntervalMs === undefined ? ' (default)' : ''} at ratio ${defaults.workStealing.thresholdRatio}, ` +
        `rebalance every ${defaults.loadBalancing.rebalanceInterval} ms to ±${defaults.loadBalancing.rebalanceTolerance}; ` +
        `balanced submits: ${s.submit === 'batch' ? `SwarmClient.submitBatch of ${Math.min(10_000, s.batch, s.tasks)}, one after another` : `single SwarmClient.submit, ${s.window} in flight`}; ${s.reps} reps, rotating order`,
    );
    try {
      const timeoutMs = Math.max(60_000, 4 * ideal.n1OnlyMs + 10_000);
      for (let rep = 0; rep < s.reps; rep++) {
        const order = only.map((_, i) => only[(i + rep) % only.length]!);
        for (const scenario of order) {
          const t = performance.now();
          const r = await runScenario({
            scenario,
            url: redis.url,
            prefix: `${runId}-${scenario}-r${rep}`,
            observer,
            lengths,
            agents: s.agents,
            stealIntervalMs: s.stealIntervalMs,
            submit: s.submit,
            batch: s.batch,
            window: s.window,
            pollMs: s.pollMs,
            timeoutMs,
            slowlog,
          });
          runs.get(scenario)!.push(r);
          const perNode = Object.entries(r.perNode).map(([id, x]) => `${id}:${x.completed}`);
          log(
            `  rep ${rep + 1} ${scenario.padEnd(8)} makespan ${ms0(r.makespanMs).padStart(6)} ms  (add ${ms0(r.addMs)} ms, ${r.completed} completed, ${r.failed} failed, ` +
              `${r.ranOutsideN1} outside n1; first node done t+${ms0(r.firstNodeDoneMs)} ms` +
              `${scenario !== 'nosteal' ? `; moved ${movedTotal(r)} in ${new Set(r.moves.map((m) => m.atMs)).size} rounds of ${r.ticks.filter((x) => x.atMs >= 0).length} after the add` : ''}; ` +
              `${r.polls} polls; with setup ${secs(performance.now() - t)})`,
          );
          if (s.verbose) {
            const b = r.redisBlocking;
            if (b) {
              log(
                `        redis busy in commands ≥ ${SLOWLOG_US / 1000} ms: moveJobs ${b.moveCalls}× ${b.moveMs.toFixed(1)} ms (max ${b.moveMaxMs.toFixed(1)}), ` +
                  `others ${b.otherCalls}× ${b.otherMs.toFixed(1)} ms (max ${b.otherMaxMs.toFixed(1)})`,
              );
            }
            log(`        per node: ${perNode.join(' ')}`);
            log(`        last finish per node (ms): ${Object.entries(r.perNode).map(([id, x]) => `${id}:${x.lastFinishMs ?? '-'}`).join(' ')}`);
            if (r.moves.length) log(`        moves: ${moveTimeline(r, 20)}`);
            const tk = r.ticks.filter((x) => x.atMs >= -1000);
            if (tk.length) log(`        balancer rounds (t+ms/took ms/moved): ${tk.map((x) => `${x.atMs}/${x.durMs.toFixed(1)}/${x.moved}`).join(' ')}`);
          }
          if (r.failed > 0 || r.completed !== s.tasks) log(`  WARNING: ${scenario} rep ${rep + 1}: ${r.completed} completed and ${r.failed} failed of ${s.tasks}`);
          if (r.duplicateCompletions > 0) log(`  WARNING: ${scenario} rep ${rep + 1}: ${r.duplicateCompletions} duplicate completions recorded`);
        }
      }
    } finally {
      observer.disconnect();
      await redis.stop();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }

  // 3. The table.
  const sums = new Map<ScenarioName, Summary>(only.map((c) => [c, summary(runs.get(c)!)]));
  const bal = sums.get('balanced');
  console.log();
  console.log(
    `balance benchmark: ${s.tasks} sleep tasks of ${s.minMs}–${s.maxMs} ms (seed ${s.seed}) on ${s.agents} agents (${nodes} nodes × ${AGENTS_PER_NODE}, capacity 1, one AgentHost); ` +
      `makespan = first add → last completion, median of ${s.reps} run${s.reps === 1 ? '' : 's'}; redis ${redisInfo.version} (${redisInfo.source}), node ${process.version}, ${cpus().length} cpus`,
  );
  if (only.length) {
    console.log();
    console.log(
      textTable(
        ['scenario', 'makespan ms', 'min–max', '÷ balanced', '÷ ideal', 'ran outside n1', 'jobs moved', 'first move', 'first node done', 'add ms', 'setup'],
        only.map((c) => {
          const rs = runs.get(c)!;
          const sm = sums.get(c)!;
          const mid = medianRun(rs);
          const withMoves = rs.filter((r) => r.moves.length);
          const firstMove = withMoves.length
            ? `${tAt(median(withMoves.map((r) => Math.min(...r.moves.map((m) => m.atMs)))))}${withMoves.length < rs.length ? ` (${withMoves.length}/${rs.length} runs)` : ''}`
            : '-';
          return [
            c,
            ms0(sm.medianMs),
            `${ms0(sm.minMs)}–${ms0(sm.maxMs)}`,
            bal ? `${(sm.medianMs / bal.medianMs).toFixed(2)}×` : '',
            `${(sm.medianMs / ideal.balancedMs).toFixed(2)}×`,
            `${Math.round(median(rs.map((r) => r.ranOutsideN1)))}/${s.tasks}`,
            c === 'nosteal' ? '-' : Math.round(median(rs.map((r) => movedTotal(r)))),
            c === 'nosteal' ? '-' : firstMove,
            `t+${ms0(mid.firstNodeDoneMs)} ms`,
            ms0(median(rs.map((r) => r.addMs))),
            SCENARIO_WHAT[c],
          ];
        }),
      ),
    );
    console.log();
    console.log(
      `  ideal = zero-overhead list schedule of the same lengths: ${ms0(ideal.balancedMs)} ms on ${s.agents} slots, ${ms0(ideal.n1OnlyMs)} ms on n1's ${n1Slots} (${(ideal.workMs / 1000).toFixed(1)} s of sleep in all)`,
    );
    console.log('  ran outside n1, jobs moved, first move (after the first add), add ms: medians over runs; first node done (its last task finished): the median run');
    for (const name of ['skewed', 'skewed-warm'] as const) {
      const rs = runs.get(name);
      if (!rs?.length) continue;
      const mid = medianRun(rs);
      const b = mid.redisBlocking;
      console.log(
        `  ${name}, median run: moves ${moveTimeline(mid)}` +
          (b ? `; the moves held Redis ${b.moveMs.toFixed(0)} ms in all (${b.moveCalls} moveJobs calls ≥ ${SLOWLOG_US / 1000} ms, longest ${b.moveMaxMs.toFixed(0)} ms)` : ''),
      );
      const n1 = mid.perNode.n1;
      const others = Object.entries(mid.perNode).filter(([id]) => id !== 'n1');
      console.log(
        `  ${' '.repeat(name.length)}  n1 ran ${n1?.completed ?? 0}, the other ${others.length} nodes ${others.map(([, x]) => x.completed).join('/')}; ` +
          `nodes finished between t+${ms0(mid.firstNodeDoneMs)} and t+${ms0(mid.makespanMs)} ms`,
      );
    }
    const cfg = [...runs.values()].flat()[0]?.config;
    if (cfg) console.log(`  balancer: steal rounds every ${cfg.stealIntervalMs} ms (ratio ${cfg.stealRatio}), rebalance every ${cfg.rebalanceIntervalMs} ms (±${cfg.tolerance})`);
  }

  if (routing) {
    console.log();
    console.log(`routing decision cost at ${routing.agents} agents (${routing.nodes} nodes × ${routing.perNode}, tree depth ${routing.depth}), task ${JSON.stringify(routing.task)}, pure in process:`);
    console.log();
    console.log(
      textTable(
        ['strategy', 'µs/decision', 'ns/decision', 'min–max ns (rounds)', 'decisions timed', 'nodes chosen', 'what'],
        routing.strategies.map((x) => [
          x.name,
          (x.nsPerDecision / 1000).toFixed(2),
          Math.round(x.nsPerDecision),
          `${Math.round(x.minNs)}–${Math.round(x.maxNs)}`,
          x.calls,
          x.distinctNodes,
          x.what,
        ]),
      ),
    );
    console.log(`  buildHierarchy over the same snapshot: ${routing.treeBuildUs.toFixed(1)} µs per build (once per snapshot refresh for the tree strategies, not per task)`);
    console.log('  one fixed snapshot; stateful strategies (round-robin, random) thread their state through, so they move on; stateless ones repeat their pick');
  }

  // 4. The budget.
  const sk = sums.get('skewed');
  const ns = sums.get('nosteal');
  const ev = sums.get('even');
  const sw = sums.get('skewed-warm');
  let ratio: number | undefined;
  if (bal && sk) {
    ratio = round(sk.medianMs / bal.medianMs, 3);
    const pairs = runs.get('skewed')!.map((r, i) => r.makespanMs / runs.get('balanced')![i]!.makespanMs);
    console.log();
    console.log('budget (DESIGN.md "Budgets": skewed load, all tasks to one node of ten):');
    console.log(
      `  ${ratio <= BUDGET_RATIO ? 'PASS' : 'MISS'}  skewed makespan ≤ ${BUDGET_RATIO}× balanced   ${ms0(sk.medianMs)} ms vs ${ms0(bal.medianMs)} ms = ${ratio.toFixed(2)}×` +
        ` (per rep ${pairs.map((x) => x.toFixed(2)).join(', ')})` +
        (ns ? `; without stealing ${ms0(ns.medianMs)} ms = ${(ns.medianMs / bal.medianMs).toFixed(2)}×` : ''),
    );
    if (ev) {
      const evPairs = runs.get('skewed')!.map((r, i) => r.makespanMs / runs.get('even')![i]!.makespanMs);
      console.log(
        `  info  skewed ÷ even (the same addBulk path, spread 1/10 per node instead of all to n1): ${ms0(sk.medianMs)} ms vs ${ms0(ev.medianMs)} ms = ` +
          `${(sk.medianMs / ev.medianMs).toFixed(2)}× (per rep ${evPairs.map((x) => x.toFixed(2)).join(', ')}); balanced (SwarmClient) ÷ even = ${(bal.medianMs / ev.medianMs).toFixed(2)}×`,
      );
    }
    if (sw) {
      const swPairs = runs.get('skewed-warm')!.map((r, i) => r.makespanMs / runs.get('balanced')![i]!.makespanMs);
      const w = sw.medianMs / bal.medianMs;
      console.log(
        `  ${w <= BUDGET_RATIO ? 'pass' : 'miss'}  skewed-warm ÷ balanced (coordinator already running, no rebalance in the window: stealing alone): ` +
          `${ms0(sw.medianMs)} ms vs ${ms0(bal.medianMs)} ms = ${w.toFixed(2)}× (per rep ${swPairs.map((x) => x.toFixed(2)).join(', ')})`,
      );
    }
    if (s.stealIntervalMs !== undefined) console.log(`        (coordinator.workStealing.intervalMs set to ${s.stealIntervalMs} ms; default ${defaults.workStealing.intervalMs})`);
  }

  // 5. JSON.
  if (full && bal && sk && ns && ratio !== undefined && routing) {
    const skRuns = runs.get('skewed')!;
    const balRuns = runs.get('balanced')!;
    const nsRuns = runs.get('nosteal')!;
    const scenarioJson = (rs: ScenarioRun[], sm: Summary) => ({
      medianMs: Math.round(sm.medianMs),
      minMs: Math.round(sm.minMs),
      maxMs: Math.round(sm.maxMs),
      runsMs: sm.runsMs.map(Math.round),
      ranOutsideN1: Math.round(median(rs.map((r) => r.ranOutsideN1))),
      jobsMoved: Math.round(median(rs.map((r) => movedTotal(r)))),
      steals: Math.round(median(rs.map((r) => movedTotal(r, 'steal')))),
      rebalances: Math.round(median(rs.map((r) => movedTotal(r, 'rebalance')))),
      moveRounds: Math.round(median(rs.map((r) => new Set(r.moves.map((m) => m.atMs)).size))),
      firstMoveMs: rs.every((r) => r.moves.length) ? Math.round(median(rs.map((r) => Math.min(...r.moves.map((m) => m.atMs))))) : null,
      firstNodeDoneMs: Math.round(median(rs.map((r) => r.firstNodeDoneMs))),
      addMs: round(median(rs.map((r) => r.addMs)), 1),
      failed: Math.max(...rs.map((r) => r.failed)),
      duplicateCompletions: Math.max(...rs.map((r) => r.duplicateCompletions)),
      redisMoveMs: rs.every((r) => r.redisBlocking) ? round(median(rs.map((r) => r.redisBlocking!.moveMs)), 1) : null,
      redisMoveMaxMs: rs.every((r) => r.redisBlocking) ? round(Math.max(...rs.map((r) => r.redisBlocking!.moveMaxMs)), 1) : null,
      perNodeMedianRun: Object.fromEntries(Object.entries(medianRun(rs).perNode).map(([id, x]) => [id, x.completed])),
    });
    const out = {
      balancedMs: Math.round(bal.medianMs),
      skewedMs: Math.round(sk.medianMs),
      skewedNoStealMs: Math.round(ns.medianMs),
      ratio,
      noStealRatio: round(ns.medianMs / bal.medianMs, 3),
      ...(ev ? { evenMs: Math.round(ev.medianMs), ratioVsEven: round(sk.medianMs / ev.medianMs, 3) } : {}),
      ...(sw ? { skewedWarmMs: Math.round(sw.medianMs), ratioWarm: round(sw.medianMs / bal.medianMs, 3) } : {}),
      budget: { ratioMax: BUDGET_RATIO, pass: ratio <= BUDGET_RATIO },
      idealMs: { balanced: ideal.balancedMs, n1Only: ideal.n1OnlyMs, workMs: ideal.workMs },
      balanced: scenarioJson(balRuns, bal),
      skewed: { ...scenarioJson(skRuns, sk), moveTimelineMedianRun: medianRun(skRuns).moves },
      skewedNoSteal: scenarioJson(nsRuns, ns),
      ...(ev ? { even: scenarioJson(runs.get('even')!, ev) } : {}),
      ...(sw ? { skewedWarm: { ...scenarioJson(runs.get('skewed-warm')!, sw), moveTimelineMedianRun: medianRun(runs.get('skewed-warm')!).moves } } : {}),
      routingUsPerTask: Object.fromEntries(routing.strategies.map((x) => [x.name, round(x.nsPerDecision / 1000, 3)])),
      routing: {
        agents: routing.agents,
        nodes: routing.nodes,
        depth: routing.depth,
        treeBuildUs: round(routing.treeBuildUs, 2),
        nsPerDecision: Object.fromEntries(routing.strategies.map((x) => [x.name, Math.round(x.nsPerDecision)])),
      },
      meta: {
        date: new Date().toISOString(),
        node: process.version,
        redis: redisInfo.version,
        redisSource: redisInfo.source,
        cpus: cpus().length,
        tasks: s.tasks,
        agents: s.agents,
        nodes,
        lengthsMs: [s.minMs, s.maxMs],
        seed: s.seed,
        reps: s.reps,
        balancedSubmit: s.submit === 'batch' ? `SwarmClient.submitBatch, ${Math.min(10_000, s.batch, s.tasks)} per batch, one after another` : `SwarmClient.submit, ${s.window} in flight`,
        skewedAdd: 'Queue(node-n1).addBulk of all tasks, ids newTaskId("n1"), data { payload }',
        stealIntervalMs: s.stealIntervalMs ?? defaults.workStealing.intervalMs,
        stealIntervalDefault: s.stealIntervalMs === undefined || s.stealIntervalMs === defaults.workStealing.intervalMs,
        stealRatio: defaults.workStealing.thresholdRatio,
        rebalanceIntervalMs: defaults.loadBalancing.rebalanceInterval,
        rebalanceTolerance: defaults.loadBalancing.rebalanceTolerance,
        pollMs: s.pollMs,
        loadavgBefore: loadBefore,
        loadavgAfter: loadavg().map((x) => round(x, 2)),
        order: Array.from({ length: s.reps }, (_, rep) => only.map((_, i) => only[(i + rep) % only.length]!).join(', ')),
      },
    };
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const file = fileURLToPath(new URL('./results/balance.json', import.meta.url));
    writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
    console.log(`\nwrote ${file}`);
  }
  log(`took ${secs(performance.now() - began)}; load average ${loadBefore.join(' ')} before, ${loadavg().map((x) => x.toFixed(2)).join(' ')} after (${cpus().length} cpus)`);
}
