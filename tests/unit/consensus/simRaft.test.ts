// Raft through the seeded simulator with fixed seeds: crashes and restarts from
// persisted state, drops, duplicates, delays, reordering and partitions; after
// every step election safety, log matching, leader completeness, state-machine
// safety, agreement and validity; liveness after the heal. The long run is in
// docs/consensus.md ("The simulator").
import { describe, expect, it } from 'vitest';
import { seedRange } from '../../../src/consensus/sim/batch.ts';
import { passingSeeds } from './simSeeds.ts';

describe('raft in the simulator', () => {
  it('passes 300 seeds (n = 3–7) with no violation', () => {
    const sum = passingSeeds('raft', seedRange(1, 300));
    expect(sum.decisions).toBeGreaterThan(300 * 3);
    expect(sum.crashes).toBeGreaterThan(300);
    expect(sum.partitions).toBeGreaterThan(100);
  });
});
