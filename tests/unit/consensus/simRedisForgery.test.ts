// PBFT in the simulator with Byzantine agent hosts that also write Redis
// (src/consensus/sim/recordedRound.ts): forged decision entries for any agent
// (bare, signed with their own host key, or with a signature copied from
// another agent, value or round), roster rekeys of honest agents, and spec
// rewrites. The outcome is computed from the recorded decisions by outcomeOf
// with decisionCheck after every write, and must never be a value no honest
// agent decided. A broken check must be caught, so these tests can fail.
import { describe, expect, it } from 'vitest';
import { runSeeds, seedRange } from '../../../src/consensus/sim/batch.ts';
import { simSpecFor } from '../../../src/consensus/sim/registry.ts';
import { passingSeeds } from './simSeeds.ts';

describe('pbft in the simulator, with Byzantine hosts writing Redis', () => {
  it('passes seeds 301–600: no forged outcome, no uncertified key taken, no rewritten spec accepted', () => {
    const sum = passingSeeds('pbft', seedRange(301, 300));
    // The moves did happen (seeds 1–300 make about 2,300 writes).
    expect(sum.redisForgeries).toBeGreaterThan(1000);
  });

  it('catches an outcome read without decisionCheck (bare entries count)', () => {
    const sum = runSeeds(simSpecFor('pbft'), seedRange(1, 100), { outcomeCheck: () => undefined });
    const forged = sum.failures.filter((f) => f.violations.some((v) => v.startsWith('forged outcome:')));
    expect(forged.length).toBeGreaterThan(0);
  });

  it('catches a check that counts any signed entry without verifying whose signature it is', () => {
    const sum = runSeeds(simSpecFor('pbft'), seedRange(1, 100), { outcomeCheck: () => ({ counts: (_agent, d) => d.sig !== undefined }) });
    const forged = sum.failures.filter((f) => f.violations.some((v) => v.startsWith('forged outcome:')));
    expect(forged.length).toBeGreaterThan(0);
  });
});
