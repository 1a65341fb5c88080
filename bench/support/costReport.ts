// The cost mode's figures, reduced (medians over the runs), printed and shaped
// for bench/results/core.json. Every figure is per task unless it says /s.
import { round, textTable } from './measure.ts';
import type { CostRunFigures, PerRole } from './costRun.ts';
import type { CostRole } from './costChild.ts';
import type { ContenderName } from './rigs.ts';

const ROLES: readonly CostRole[] = ['producer', 'consumer', 'coordinator', 'service'];
const TOP = 14;
/** Groups kept in core.json per contender and level (the printed table has TOP). */
const JSON_GROUPS = 6;

export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface CostSummary {
  contender: ContenderName;
  concurrency: number;
  runs: number;
  cpuUs: PerRole;
  processesUs: number;
  idleUsPerSec: PerRole;
  redisCpuUs: number;
  executed: number;
  /** from the slowlog windows (absent when CONFIG was refused): as logged, and typical (each group's median µs per call × its calls) */
  redisUs?: number;
  typicalUs?: number;
  scriptUs?: number;
  typicalScriptUs?: number;
  sent?: number;
  slowlogOverheadUs?: number;
  /** mean µs per script call, slowlog off and on (commandstats), medians */
  scriptUsPerCall: { off: number; on?: number };
  /** group → per task: typical µs, calls, µs as logged; and the median µs per call. Medians over the runs (a group missing from a run counts 0 there) */
  groups: Map<string, { typicalUs: number; calls: number; us: number; medianUsPerCall: number }>;
  inside: Map<string, [string, number, number][]>;
  check?: { commandstatsUs: number; slowlogUs: number; commandstatsCalls: number; slowlogCalls: number };
  lost: number;
  perRun: CostRunFigures[];
}

const sumRoles = (p: PerRole) => ROLES.reduce((s, r) => s + (p[r] ?? 0), 0);

function medianRoles(ps: readonly PerRole[]): PerRole {
  const out: PerRole = {};
  for (const r of ROLES) {
    const xs = ps.map((p) => p[r]).filter((x): x is number => x !== undefined);
    if (xs.length) out[r] = median(xs);
  }
  return out;
}

export function summarizeCost(runs: readonly CostRunFigures[]): CostSummary {
  const first = runs[0]!;
  const logged = runs.flatMap((r) => (r.slowlog ? [r.slowlog] : []));
  const keys = [...new Set(logged.flatMap((s) => s.groups.map((g) => g.key)))];
  const of = (key: string, f: 'typicalUs' | 'calls' | 'us' | 'medianUsPerCall') => median(logged.map((s) => s.groups.find((g) => g.key === key)?.[f] ?? 0));
  const groups = new Map(
    keys
      .map((k) => [k, { typicalUs: of(k, 'typicalUs'), calls: of(k, 'calls'), us: of(k, 'us'), medianUsPerCall: of(k, 'medianUsPerCall') }] as const)
      .sort((a, b) => b[1].typicalUs - a[1].typicalUs),
  );
  // Inner commands: the last run's, as an illustration (they are a split of the script's µs, not a figure of their own).
  const inside = new Map(Object.entries(logged.at(-1)?.inside ?? {}));
  const m = (f: (s: NonNullable<CostRunFigures['slowlog']>) => number) => (logged.length ? median(logged.map(f)) : undefined);
  const overhead = logged.length ? median(runs.filter((r) => r.slowlog).map((r) => r.slowlog!.redisCpuUs - r.redisCpuUs)) : undefined;
  const last = logged.at(-1);
  return {
    contender: first.contender,
    concurrency: first.concurrency,
    runs: runs.length,
    cpuUs: medianRoles(runs.map((r) => r.cpuUs)),
    processesUs: median(runs.map((r) => sumRoles(r.cpuUs))),
    idleUsPerSec: medianRoles(runs.map((r) => r.idleUsPerSec)),
    redisCpuUs: median(runs.map((r) => r.redisCpuUs)),
    executed: median(runs.map((r) => r.executed)),
    ...(logged.length
      ? {
          redisUs: m((s) => s.redisUs)!,
          typicalUs: m((s) => s.typicalUs)!,
          scriptUs: m((s) => s.scriptUs)!,
          typicalScriptUs: m((s) => s.typicalScriptUs)!,
          sent: m((s) => s.sent)!,
          slowlogOverheadUs: overhead!,
        }
      : {}),
    scriptUsPerCall: {
      off: median(runs.map((r) => r.scriptUsPerCall.off)),
      ...(logged.length ? { on: median(runs.flatMap((r) => (r.scriptUsPerCall.on === undefined ? [] : [r.scriptUsPerCall.on]))) } : {}),
    },
    groups,
    inside,
    ...(last ? { check: last.check } : {}),
    lost: logged.reduce((s, l) => s + l.lost, 0),
    perRun: [...runs],
  };
}

const f0 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '' : x.toFixed(0));
const f1 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '' : x.toFixed(1));

export function printCost(sums: readonly CostSummary[], o: { tasks: number; slowlogTasks: number; reps: number; window: number; load: string }): void {
  const levels = [...new Set(sums.map((s) => s.concurrency))];
  const rawAt = (c: number) => sums.find((s) => s.contender === 'raw' && s.concurrency === c);
  console.log();
  console.log(`cost per task, each process alone (medians of ${o.reps} runs of ${o.tasks} tasks, ${o.window} in flight; Redis µs from a further ${o.slowlogTasks} with the slowlog on):`);
  console.log();
  console.log(
    textTable(
      ['contender', 'c', 'producer', 'consumer', 'coordinator', 'service', 'processes', '÷ raw', 'redis CPU', '÷ raw', 'redis µs', 'as logged', 'in scripts', 'sent', 'executed'],
      sums.map((s) => {
        const raw = rawAt(s.concurrency);
        const ratio = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(2)}×` : '');
        return [
          s.contender,
          s.concurrency,
          f0(s.cpuUs.producer),
          f0(s.cpuUs.consumer),
          f0(s.cpuUs.coordinator),
          f0(s.cpuUs.service),
          f0(s.processesUs),
          ratio(s.processesUs, raw?.processesUs),
          f0(s.redisCpuUs),
          ratio(s.redisCpuUs, raw?.redisCpuUs),
          f1(s.typicalUs),
          f1(s.redisUs),
          f1(s.typicalScriptUs),
          f1(s.sent),
          f1(s.executed),
        ];
      }),
    ),
  );
  console.log('  CPU µs of each process (process.cpuUsage user+sys) from just before the first submit to the last completion, ÷ tasks;');
  console.log('  redis CPU = INFO cpu (used_cpu_user+sys) over the same window; redis µs = time inside the commands clients sent (a script with what');
  console.log('  it runs) from the slowlog: each script\'s or command\'s median µs per call × its calls per task (a duration is wall-clock time, and an');
  console.log('  OS pause inside a command adds to it on a busy box); as logged = the sum of all durations; sent = commands clients sent, executed =');
  console.log('  INFO commandstats calls (a script\'s redis.call too)');
  printAgainstSameJob(sums, levels);
  for (const c of levels) {
    const here = sums.filter((s) => s.concurrency === c && s.groups.size);
    if (!here.length) continue;
    const keys = [...new Set(here.flatMap((s) => [...s.groups.keys()]))]
      .map((k) => [k, Math.max(...here.map((s) => s.groups.get(k)?.typicalUs ?? 0))] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP)
      .map(([k]) => k);
    console.log();
    console.log(`Redis µs per task by script and command at c${c}, median per call × calls (calls per task in brackets; top ${TOP} by the largest of any contender):`);
    console.log();
    console.log(
      textTable(
        ['script / command', ...here.map((s) => s.contender)],
        [
          ...keys.map((k) => [k, ...here.map((s) => (s.groups.has(k) ? `${f1(s.groups.get(k)!.typicalUs)} (${s.groups.get(k)!.calls.toFixed(2)})` : '-'))]),
          ['all', ...here.map((s) => `${f1(s.typicalUs)} (${f1(s.sent)})`)],
        ],
      ),
    );
  }
  console.log();
  console.log('idle CPU µs/s of each process (2 s after the warm-up, nothing submitted), medians:');
  for (const s of sums) {
    const parts = ROLES.filter((r) => s.idleUsPerSec[r] !== undefined).map((r) => `${r} ${f0(s.idleUsPerSec[r])}`);
    console.log(`  ${s.contender.padEnd(7)} c${String(s.concurrency).padEnd(3)} ${parts.join(', ')}`);
  }
  const checks = sums.filter((s) => s.check);
  if (checks.length) {
    console.log();
    console.log('slowlog: its own cost, Redis CPU µs per task with every command logged minus without; a script call\'s mean µs without and with it');
    console.log('(INFO commandstats: logging the commands a script runs happens inside the script), medians; and the check against INFO commandstats');
    console.log('of the same window (every command, nested ones too, EXEC and the bench\'s INFO/SLOWLOG/CONFIG left out on both sides; last run):');
    for (const s of checks) {
      const k = s.check!;
      console.log(
        `  ${s.contender.padEnd(7)} c${String(s.concurrency).padEnd(3)} +${f1(s.slowlogOverheadUs)} µs/task; a script call ${f1(s.scriptUsPerCall.off)} → ${f1(s.scriptUsPerCall.on)} µs; µs slowlog ${k.slowlogUs} vs commandstats ${k.commandstatsUs}, ` +
          `calls ${k.slowlogCalls} vs ${k.commandstatsCalls}${s.lost ? `; ${s.lost} ENTRIES LOST between drains` : ''}`,
      );
    }
  }
  console.log(`  box load (uptime's 1/5/15-min load averages) ${o.load}`);
}

/** Verbose: what runs inside the costliest scripts (last run's split of their µs). */
export function printInside(sums: readonly CostSummary[], top = 4): void {
  for (const s of sums) {
    const scripts = [...s.groups].filter(([k]) => s.inside.has(k)).slice(0, top);
    for (const [k, { us }] of scripts) {
      const inner = s.inside.get(k)!.slice(0, 16).map(([c, u, n]) => `${c} ${u.toFixed(1)} (${n.toFixed(2)})`).join(', ');
      console.log(`  ${s.contender} c${s.concurrency} ${k} ${us.toFixed(1)} µs as logged (median ${s.groups.get(k)!.medianUsPerCall} µs per call): inside ${inner}`);
    }
  }
}

const r1 = (x: number | undefined) => (x === undefined ? undefined : round(x, 1));
const roles = (p: PerRole) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, round(v, 1)]));

/** For core.json: per contender and level, the medians, each run's per-process figures, and the top groups. */
export function costJson(sums: readonly CostSummary[], o: { tasks: number; slowlogTasks: number; reps: number; window: number; load: string }) {
  const out: Record<string, Record<string, unknown>> = {};
  for (const s of sums) {
    (out[`c${s.concurrency}`] ??= {})[s.contender] = {
      cpuUsPerTask: roles(s.cpuUs),
      processesUsPerTask: r1(s.processesUs),
      redisCpuUsPerTask: r1(s.redisCpuUs),
      redisUsPerTask: r1(s.typicalUs),
      redisUsAsLoggedPerTask: r1(s.redisUs),
      scriptUsPerTask: r1(s.typicalScriptUs),
      commandsSentPerTask: r1(s.sent),
      commandsExecutedPerTask: r1(s.executed),
      slowlogOverheadUsPerTask: r1(s.slowlogOverheadUs),
      scriptUsPerCall: { slowlogOff: r1(s.scriptUsPerCall.off), slowlogOn: r1(s.scriptUsPerCall.on) },
      idleUsPerSecond: roles(s.idleUsPerSec),
      redisUsByGroup: Object.fromEntries(
        [...s.groups].slice(0, JSON_GROUPS).map(([k, g]) => [k, { us: round(g.typicalUs, 2), calls: round(g.calls, 3), medianUsPerCall: g.medianUsPerCall }]),
      ),
      runs: s.perRun.map((r) => ({
        cpuUsPerTask: roles(r.cpuUs),
        redisCpuUsPerTask: r1(r.redisCpuUs),
        redisUsPerTask: r1(r.slowlog?.typicalUs),
        ms: Math.round(r.ms),
      })),
    };
  }
  return { ...o, levels: out };
}

/**
 * With raw-opts in the run: each swarmq contender against plain BullMQ given
 * the same job (its envelope, id, attempts, retention), so what swarmq's job
 * asks of BullMQ and what swarmq itself adds are told apart.
 */
function printAgainstSameJob(sums: readonly CostSummary[], levels: readonly number[]): void {
  const rows = levels.flatMap((c) => {
    const same = sums.find((s) => s.contender === 'raw-opts' && s.concurrency === c);
    const raw = sums.find((s) => s.contender === 'raw' && s.concurrency === c);
    if (!same) return [];
    const ratio = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(2)}×` : '');
    return sums
      .filter((s) => s.concurrency === c && s.contender !== 'raw' && s.contender !== 'raw-opts')
      .map((s) => [s.contender, c, ratio(s.cpuUs.producer ?? NaN, same.cpuUs.producer), ratio(s.cpuUs.consumer ?? NaN, same.cpuUs.consumer), ratio(s.processesUs, same.processesUs), ratio(s.redisCpuUs, same.redisCpuUs), f1(s.executed - same.executed), raw ? ratio(same.processesUs, raw.processesUs) : '', raw ? ratio(same.redisCpuUs, raw.redisCpuUs) : '']);
  });
  if (!rows.length) return;
  console.log();
  console.log('against plain BullMQ given the same job as swarmq builds (raw-opts), and what that job costs plain BullMQ against raw\'s:');
  console.log();
  console.log(textTable(['contender', 'c', 'producer ÷', 'consumer ÷', 'processes ÷', 'redis CPU ÷', 'executed +', 'raw-opts processes ÷ raw', 'raw-opts redis CPU ÷ raw'], rows));
}
