// Runs fixed seeds of a registered protocol through the simulator for the CI
// tests (sim*.test.ts): every seed must pass, and a failure names its seed and
// the command that replays it.
import { expect } from 'vitest';
import { runSeeds, type BatchSummary } from '../../../src/consensus/sim/batch.ts';
import { simSpecFor } from '../../../src/consensus/sim/registry.ts';

/** Expects no seed to fail; the summary, for the test's own checks of what the seeds did. */
export function passingSeeds(protocol: string, seeds: readonly number[], nodes?: number): BatchSummary {
  const sum = runSeeds(simSpecFor(protocol), seeds, nodes === undefined ? {} : { nodes });
  const replay = (seed: number) => `npm run sim -- --protocol ${protocol} --seed ${seed}${nodes === undefined ? '' : ` --nodes ${nodes}`} --verbose`;
  const failures = sum.failures.map((f) => `${f.seed}: ${f.violations.join('; ')} (replay: ${replay(f.seed)})`);
  expect(failures).toEqual([]);
  return sum;
}
