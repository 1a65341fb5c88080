// The consensus benchmark: rounds per protocol among n = 4, 16, 100 agents
// spread evenly over 4 agent host processes (`swarmq agents`, the real CLI),
// through one real Redis, every message authenticated. Rounds run one after
// another; each is a fresh proposal (a BullMQ job) with all n agents taking
// part. Two latencies per round:
//   decision  proposal queued → the agent decision that makes the outcome final
//             (the first decider; for PBFT the (f+1)-th matching one), by the
//             clocks of this machine's processes;
//   resolved  propose() called → its promise resolved (adds the job's
//             completion event reaching the caller).
// DESIGN.md budgets at n = 100 (decision): quorum and Fast Paxos ≤ 20 ms, Raft
// commit ≤ 50 ms, PBFT ≤ 250 ms. The design report claimed 485, 800, 1,200 and
// 300 ms. Then the same at n = 100 with certification on (--certified-sizes,
// --no-certified): hosts enrolled under a trust anchor, specs and decisions
// signed, every outcome checked; its cost is printed beside the plain figures.
// --trace: every process times its part of each round (trace.ts) and a table
// per protocol says where the time went (bench/support/consensusTrace.ts).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProtocolName } from '../src/consensus/protocol.ts';
import { CliFleet } from '../tests/support/cli.ts';
import { resolveParticipants } from '../src/consensus/runtime/participants.ts';
import { startConsensusFleet, type ConsensusFleet, type ConsensusFleetOptions } from '../tests/support/consensusFleet.ts';
import { trustEnroll, trustInit } from '../src/cli/trust.ts';
import { processTrust } from '../src/trust/processTrust.ts';
import { intFlag, listFlag } from './support/args.ts';
import { round, textTable } from './support/measure.ts';
import { benchRedis } from './support/redis.ts';
import { parseTraceLines, traceReport } from './support/consensusTrace.ts';
import { startTracing } from '../src/consensus/runtime/trace.ts';

const PROTOCOLS: readonly ProtocolName[] = ['quorum', 'raft', 'pbft', 'fast-paxos'];
const SIZES = [4, 16, 100];
const HOSTS = 4;
const BUDGET_MS: Record<ProtocolName, number> = { quorum: 20, 'fast-paxos': 20, raft: 50, pbft: 250 };
const CLAIMED_MS: Record<ProtocolName, number> = { quorum: 485, raft: 800, pbft: 1200, 'fast-paxos': 300 };

const log = (msg: string) => console.error(msg);

function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface Cell {
  p50Ms: number;
  p99Ms: number;
  resolvedP50Ms: number;
  resolvedP99Ms: number;
  rounds: number;
  undecided: number;
  maxProtocolRounds: number;
}

/**
 * On a busy machine a host can miss heartbeats for long enough to count as
 * failed, and a round cannot name its agents: wait (up to a minute) rather
 * than measure a round of fewer agents.
 */
async function allLive(swarm: ConsensusFleet, n: number): Promise<void> {
  for (let waited = 0; ; waited += 500) {
    try {
      await resolveParticipants(swarm.redis, swarm.prefix, { count: n }, swarm.liveWithinMs);
      if (waited) log(`    (waited ${waited} ms for all ${n} agents to count as live)`);
      return;
    } catch (err) {
      if (waited >= 60_000) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** An authority, an enrolled identity file per host (ch0…), and a proposer's trust for the Consensus that drives. */
function enrolledFleet(dir: string, hosts: number): ConsensusFleetOptions {
  const { anchor, file } = trustInit(join(dir, `t-${Date.now().toString(36)}`));
  const hostFiles = Array.from({ length: hosts }, (_, i) => trustEnroll(file, 'host', `ch${i}`, undefined).file);
  const proposerFile = trustEnroll(file, 'proposer', 'bench', undefined).file;
  const trust = processTrust({ trust: { anchor, proposerIdentityFile: proposerFile, revoked: [] } }, { proposer: true });
  return { hostEnv: (id) => ({ SWARMQ_TRUST_ANCHOR: anchor, SWARMQ_HOST_IDENTITY_FILE: hostFiles[Number(id.slice(2))]! }), ...(trust ? { trust } : {}) };
}

/** `rounds` proposals of each protocol among all n agents of `swarm`, one after another; closes the swarm. */
async function measureProtocols(
  swarm: ConsensusFleet,
  n: number,
  only: readonly ProtocolName[],
  o: { rounds: number; warmup: number; tickMs: number; certified?: boolean; trace?: string[] },
  into: Record<string, Record<string, Cell>>,
): Promise<void> {
  try {
    for (const protocol of only) {
      const decision: number[] = [];
      const resolved: number[] = [];
      let undecided = 0;
      let maxRounds = 0;
      const measured = new Map<string, number>();
      const outputAt = swarm.hosts.map((h) => h.child.output().length);
      const ownAt = o.trace?.length ?? 0;
      // The previous protocol's rounds linger on the hosts for a few seconds (late messages are still counted): let them go.
      await new Promise((r) => setTimeout(r, 6000));
      for (let i = 0; i < o.warmup + o.rounds; i++) {
        await allLive(swarm, n);
        const t0 = performance.now();
        const r = await swarm.consensus.propose({ protocol, value: { round: i, n }, participants: { count: n }, tickMs: o.tickMs, timeoutMs: 10_000 });
        const t1 = performance.now();
        if (o.certified && r.decided && r.certified !== true) throw new Error(`a ${protocol} outcome with certification on was not certified: ${JSON.stringify(r)}`);
        if (i < o.warmup) continue;
        if (!r.decided) {
          undecided++;
          continue;
        }
        decision.push(r.latencyMs);
        measured.set(r.id, r.latencyMs);
        resolved.push(t1 - t0);
        maxRounds = Math.max(maxRounds, r.rounds);
      }
      decision.sort((a, b) => a - b);
      resolved.sort((a, b) => a - b);
      const cell: Cell = {
        p50Ms: percentile(decision, 50),
        p99Ms: percentile(decision, 99),
        resolvedP50Ms: round(percentile(resolved, 50), 1),
        resolvedP99Ms: round(percentile(resolved, 99), 1),
        rounds: o.rounds,
        undecided,
        maxProtocolRounds: maxRounds,
      };
      (into[protocol] ??= {})[String(n)] = cell;
      if (o.trace) {
        // The last round's hosts write theirs when it finishes there (its done notice).
        await new Promise((r) => setTimeout(r, 300));
        const text = [...o.trace.slice(ownAt), ...swarm.hosts.map((h, i) => h.child.output().slice(outputAt[i]))].join('\n');
        console.log(`\n${traceReport(`${protocol} n=${n}${o.certified ? ' certified' : ''}`, measured, parseTraceLines(text))}`);
      }
      log(`  ${protocol} n=${n}${o.certified ? ' certified' : ''}: decision p50 ${cell.p50Ms} ms p99 ${cell.p99Ms} ms; resolved p50 ${cell.resolvedP50Ms} ms p99 ${cell.resolvedP99Ms} ms; undecided ${undecided}`);
    }
  } catch (err) {
    // Say what the hosts said: a host that died or stalled explains most failures here.
    for (const h of swarm.hosts) log(`  host ${h.id} (${h.child.child.exitCode ?? h.child.child.signalCode ?? 'running'}): ${h.child.output().trim().split('\n').slice(-5).join('\n    ')}`);
    throw err;
  } finally {
    await swarm.close();
  }
}

export async function run(args: string[]): Promise<void> {
  const rounds = intFlag(args, '--rounds', 50);
  const warmup = intFlag(args, '--warmup', 5, 0);
  const tickMs = intFlag(args, '--tick-ms', 50);
  const trace = args.includes('--trace') ? ([] as string[]) : undefined;
  if (trace) startTracing((line) => trace.push(line));
  const traceEnv = (env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => (trace ? { ...env, SWARMQ_CONSENSUS_TRACE: '1' } : env);
  const only = (listFlag(args, '--only') ?? [...PROTOCOLS]) as ProtocolName[];
  for (const p of only) if (!PROTOCOLS.includes(p)) throw new Error(`--only: unknown protocol "${p}" (${PROTOCOLS.join(', ')})`);
  const sizes = (listFlag(args, '--sizes') ?? SIZES.map(String)).map(Number);
  for (const n of sizes) if (!Number.isInteger(n) || n < HOSTS || n % HOSTS !== 0) throw new Error(`--sizes: ${n} is not a multiple of ${HOSTS}`);
  const certifiedSizes = args.includes('--no-certified') ? [] : (listFlag(args, '--certified-sizes') ?? ['100']).map(Number);
  for (const n of certifiedSizes) if (!Number.isInteger(n) || n < HOSTS || n % HOSTS !== 0) throw new Error(`--certified-sizes: ${n} is not a multiple of ${HOSTS}`);
  const full = !trace && only.length === PROTOCOLS.length && sizes.join() === SIZES.join() && certifiedSizes.join() === '100' && rounds >= 50;

  const redis = await benchRedis();
  const fleet = new CliFleet();
  const stop = () => {
    fleet.killAll();
    void redis.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  log(`consensus: ${redis.source} ${redis.url} (redis ${redis.version}), node ${process.version}, ${cpus().length} cpus, load ${loadavg().map((x) => round(x, 2)).join(' ')}`);
  log(`           ${HOSTS} agent host processes; ${rounds} rounds (+${warmup} warm-up) per protocol and size; tick ${tickMs} ms`);

  const results: Record<string, Record<string, Cell>> = {};
  const certified: Record<string, Record<string, Cell>> = {};
  const trustDir = mkdtempSync(join(tmpdir(), 'swarmq-bench-trust-'));
  try {
    for (const n of sizes) {
      const swarm = await startConsensusFleet(fleet, redis.url, `bench-consensus-${n}-${Date.now().toString(36)}`, HOSTS, n / HOSTS, { hostEnv: () => traceEnv() });
      await measureProtocols(swarm, n, only, { rounds, warmup, tickMs, ...(trace ? { trace } : {}) }, results);
    }
    for (const n of certifiedSizes) {
      log(`  with certification (a trust anchor, enrolled hosts and proposer), n=${n}:`);
      const setup = enrolledFleet(trustDir, HOSTS);
      const swarm = await startConsensusFleet(fleet, redis.url, `bench-certified-${n}-${Date.now().toString(36)}`, HOSTS, n / HOSTS, { ...setup, hostEnv: (id) => traceEnv(setup.hostEnv?.(id)) });
      await measureProtocols(swarm, n, only, { rounds, warmup, tickMs, certified: true, ...(trace ? { trace } : {}) }, certified);
    }
  } finally {
    fleet.killAll();
    await redis.stop();
    rmSync(trustDir, { recursive: true, force: true });
  }

  const rows = only.flatMap((p) =>
    sizes.map((n) => {
      const c = results[p]?.[String(n)];
      const budget = n === 100 ? `≤ ${BUDGET_MS[p]}${c && c.p99Ms <= BUDGET_MS[p] ? ' PASS' : ' MISS'}` : '';
      return [p, n, c?.p50Ms ?? '-', c?.p99Ms ?? '-', c?.resolvedP50Ms ?? '-', c?.resolvedP99Ms ?? '-', c ? `${c.undecided}/${c.rounds}` : '-', n === 100 ? CLAIMED_MS[p] : '', budget];
    }),
  );
  console.log(textTable(['protocol', 'n', 'decision p50 ms', 'p99 ms', 'resolved p50 ms', 'p99 ms', 'undecided', 'report claimed', 'budget (p99)'], rows));
  if (certifiedSizes.length) {
    const cost = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? '-' : `${b - a >= 0 ? '+' : ''}${round(b - a, 1)}`);
    const certRows = only.flatMap((p) =>
      certifiedSizes.map((n) => {
        const plain = results[p]?.[String(n)];
        const c = certified[p]?.[String(n)];
        const budget = n === 100 ? `≤ ${BUDGET_MS[p]}${c && c.p99Ms <= BUDGET_MS[p] ? ' PASS' : ' MISS'}` : '';
        return [p, n, c?.p50Ms ?? '-', c?.p99Ms ?? '-', c ? `${c.undecided}/${c.rounds}` : '-', cost(plain?.p50Ms, c?.p50Ms), cost(plain?.p99Ms, c?.p99Ms), cost(plain?.resolvedP50Ms, c?.resolvedP50Ms), budget];
      }),
    );
    console.log('\nwith certification (SWARMQ_TRUST_ANCHOR: certified keys, signed specs and decisions, outcomes checked):');
    console.log(textTable(['protocol', 'n', 'decision p50 ms', 'p99 ms', 'undecided', 'cost p50 ms', 'cost p99 ms', 'cost resolved p50 ms', 'budget (p99)'], certRows));
  }
  if (!full) {
    log('note: a partial run (--only, --sizes or fewer than 50 rounds) prints its table but does not write bench/results/consensus.json');
    return;
  }
  const out = fileURLToPath(new URL('./results/consensus.json', import.meta.url));
  mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  const json = Object.fromEntries(PROTOCOLS.map((p) => [p, Object.fromEntries(sizes.map((n) => [String(n), results[p]![String(n)]!]))]));
  writeFileSync(out, `${JSON.stringify({ ...json, certified, claimedAt100Ms: CLAIMED_MS, budgetAt100Ms: BUDGET_MS, tickMs, hosts: HOSTS, measuredAt: new Date().toISOString() }, null, 2)}\n`);
  log(`wrote ${out}`);
}
