// PBFT through the seeded simulator with fixed seeds: up to f Byzantine
// replicas (silence, equivocation, forged view changes and new views, garbage)
// on top of crashes, drops, duplicates, delays, reordering and partitions;
// after every step no two requests committed for one sequence number across
// views, agreement and validity among honest replicas; liveness after the heal.
import { describe, expect, it } from 'vitest';
import { seedRange } from '../../../src/consensus/sim/batch.ts';
import { passingSeeds } from './simSeeds.ts';

describe('pbft in the simulator', () => {
  it('passes 300 seeds (n = 3–7, up to f Byzantine) with no violation', () => {
    const sum = passingSeeds('pbft', seedRange(1, 300));
    expect(sum.decisions).toBeGreaterThan(300 * 3);
    // Byzantine replicas sent garbage, and the schema dropped it before any core saw it.
    expect(sum.rejected).toBeGreaterThan(1000);
  });

  it('passes n = 10 (f = 3, quorum 7) with up to three Byzantine replicas', () => {
    const sum = passingSeeds('pbft', seedRange(1, 4), 10);
    expect(sum.decisions).toBeGreaterThan(4 * 7);
    expect(sum.rejected).toBeGreaterThan(0); // seeds 3 and 4 draw three and two Byzantine replicas
  });
});
