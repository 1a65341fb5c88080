// How results read on a terminal: a failure with its seed, violations, setup,
// trace and the command that replays it; a one-line summary otherwise.
import type { BatchSummary } from './batch.ts';
import type { RunResult } from './run.ts';

/** `protocol`: the name the registry knows the spec by (what --protocol took). */
export function replayCommand(protocol: string, r: RunResult, nodes: number | undefined): string {
  return `npm run sim -- --protocol ${protocol} --seed ${r.seed}${nodes === undefined ? '' : ` --nodes ${nodes}`} --verbose`;
}

export function formatFailure(protocol: string, r: RunResult, nodes: number | undefined): string {
  return [
    `✗ ${protocol} seed ${r.seed} (n=${r.stats.nodes}): ${r.violations.length} violation(s)`,
    ...r.violations.map((v) => `  ${v}`),
    '  setup:',
    ...r.setup.map((l) => `    ${l}`),
    `  last ${r.trace.length} steps:`,
    ...r.trace.map((l) => `    ${l}`),
    `  replay: ${replayCommand(protocol, r, nodes)}`,
  ].join('\n');
}

export function formatRunLine(r: RunResult): string {
  const s = r.stats;
  const live = s.liveAt === undefined ? 'not live' : `live ${s.liveAt - s.healedAt + 1} tick(s) after the heal`;
  return `${r.ok ? '✓' : '✗'} seed ${r.seed} n=${s.nodes}${s.byzantine > 0 ? ` (${s.byzantine} byzantine)` : ''}: ${s.steps} steps, ${s.ticks} ticks, ${s.delivered} delivered, ${s.dropped} dropped, ${s.duplicated} duplicated, ${s.lost} lost, ${s.rejected} rejected, ${s.crashes} crashes, ${s.partitions} partitions, ${s.decisions} decisions; ${live}`;
}

export function formatSummary(protocol: string, seeds: readonly number[], sum: BatchSummary): string {
  const range = seeds.length === 1 ? `seed ${seeds[0]}` : `seeds ${seeds[0]}…${seeds[seeds.length - 1]}`;
  const verdict = sum.failures.length === 0 ? 'no violation' : `${sum.failures.length} failing seed(s): ${sum.failures.map((f) => f.seed).join(', ')}`;
  return `${protocol}: ${sum.runs} run(s), ${range}, n=${sum.nodes[0]}–${sum.nodes[1]}: ${verdict}. ${sum.steps} steps, ${sum.ticks} ticks, ${sum.decisions} decisions, ${sum.crashes} crashes, ${sum.partitions} partitions, ${sum.dropped} drops, ${sum.rejected} rejected${sum.redisForgeries > 0 ? `, ${sum.redisForgeries} forged Redis writes` : ''}; slowest to become live: ${sum.slowestLiveness} tick(s) after the heal`;
}
