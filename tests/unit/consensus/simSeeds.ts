// Runs fixed seeds of a registered protocol through the simulator for the CI
// tests (sim*.test.ts): a failure names its seed and the command that replays it.
import { runSeeds, type BatchSummary } from '../../../src/consensus/sim/batch.ts';
import { simSpecFor } from '../../../src/consensus/sim/registry.ts';

export function runProtocolSeeds(protocol: string, seeds: readonly number[], nodes?: number): { failures: string[]; sum: BatchSummary } {
  const sum = runSeeds(simSpecFor(protocol), seeds, nodes === undefined ? {} : { nodes });
  const replay = (seed: number) => `npm run sim -- --protocol ${protocol} --seed ${seed}${nodes === undefined ? '' : ` --nodes ${nodes}`} --verbose`;
  return { failures: sum.failures.map((f) => `${f.seed}: ${f.violations.join('; ')} (replay: ${replay(f.seed)})`), sum };
}
