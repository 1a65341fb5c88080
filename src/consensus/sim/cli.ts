// npm run sim -- --protocol <p> --seeds N [--base-seed B] [--seed S] [--nodes n] [--verbose] [--trace K]
//
// Runs seeds B … B+N−1 (or exactly S) of the seeded simulator and exits 1 if
// any run broke safety or liveness, printing the seed, what broke, the last K
// steps and the command that replays it. Exit 2: bad usage. Everything on
// stdout is a function of the arguments (the same command prints the same
// bytes); the wall-clock time goes to stderr.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { runSeeds, seedRange } from './batch.ts';
import { simSpecFor, simSpecs, UnknownProtocolError, type AnySimSpec } from './registry.ts';
import { formatFailure, formatRunLine, formatSummary } from './report.ts';
import { DEFAULT_TRACE_LINES } from './run.ts';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

/** Failures printed in full; the rest are listed by seed in the summary. */
const FULL_FAILURES = 3;

export const usage = (specs: Readonly<Record<string, AnySimSpec>> = simSpecs): string => `usage: npm run sim -- --protocol <${Object.keys(specs).sort().join('|')}> [--seeds N] [--base-seed B] [--seed S] [--nodes n] [--verbose] [--trace K]
  --seeds N       run N seeds, B … B+N−1 (default 100)
  --base-seed B   first seed (default 1)
  --seed S        run exactly seed S (replays a failure); with --verbose prints the whole trace
  --nodes n       cluster size (default: drawn from each seed, 3–7)
  --trace K       trace lines printed with a failure (default ${DEFAULT_TRACE_LINES})
  --verbose       one line per seed`;

class UsageError extends Error {}

function integer(name: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^-?\d+$/.test(raw)) throw new UsageError(`--${name} must be an integer, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${raw}`);
  return n;
}

/** Runs the CLI; `specs` is the registry (tests pass their own). Returns the exit code. */
export function runCli(argv: readonly string[], io: CliIo, specs: Readonly<Record<string, AnySimSpec>> = simSpecs): number {
  const USAGE = usage(specs);
  let args;
  try {
    args = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        protocol: { type: 'string' },
        seeds: { type: 'string' },
        'base-seed': { type: 'string' },
        seed: { type: 'string' },
        nodes: { type: 'string' },
        trace: { type: 'string' },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    io.err(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    io.out(USAGE);
    return 0;
  }
  let spec, protocol: string, seeds: number[], nodes: number | undefined, traceLines: number;
  try {
    if (args.protocol === undefined) throw new UsageError(`--protocol is required (known: ${Object.keys(specs).sort().join(', ')})`);
    protocol = args.protocol;
    spec = simSpecFor(protocol, specs);
    const single = integer('seed', args.seed, -(2 ** 31));
    const count = integer('seeds', args.seeds, 1);
    const base = integer('base-seed', args['base-seed'], -(2 ** 31)) ?? 1;
    if (single !== undefined && (count !== undefined || args['base-seed'] !== undefined)) throw new UsageError('--seed runs one seed: drop --seeds and --base-seed');
    seeds = single !== undefined ? [single] : seedRange(base, count ?? 100);
    // Seeds are taken as 32-bit integers by the generator: refuse ones that would silently alias.
    const last = seeds[seeds.length - 1] as number;
    if (last > 2 ** 31 - 1) throw new UsageError(`seeds must stay within 32-bit integers (the last would be ${last})`);
    nodes = integer('nodes', args.nodes, 1);
    traceLines = integer('trace', args.trace, 0) ?? DEFAULT_TRACE_LINES;
  } catch (err) {
    if (err instanceof UsageError || err instanceof UnknownProtocolError) {
      io.err(`${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }

  const fullTrace = args.verbose && seeds.length === 1;
  const started = performance.now();
  let printed = 0;
  const summary = runSeeds(spec, seeds, { nodes, traceLines: fullTrace ? Infinity : traceLines }, (r) => {
    if (fullTrace) {
      io.out(r.setup.join('\n'));
      io.out(r.trace.join('\n'));
    }
    if (args.verbose) io.out(formatRunLine(r));
    if (!r.ok && printed < FULL_FAILURES) {
      printed++;
      io.out(formatFailure(protocol, r, nodes));
    }
  });
  io.out(formatSummary(protocol, seeds, summary));
  const ms = performance.now() - started;
  io.err(`${seeds.length} seed(s) in ${(ms / 1000).toFixed(2)} s (${(ms / seeds.length).toFixed(1)} ms per seed)`);
  return summary.failures.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = runCli(process.argv.slice(2), { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) });
}
