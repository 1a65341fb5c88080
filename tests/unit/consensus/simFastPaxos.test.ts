// Fast Paxos through the seeded simulator with fixed seeds: crashes and
// restarts from persisted state, drops, duplicates, delays, reordering and
// partitions, with rival proposals colliding in the fast round; after every
// step no second chosen value, no vote against a chosen one, agreement and
// validity; liveness after the heal. The long run is in docs/consensus.md.
import { describe, expect, it } from 'vitest';
import { seedRange } from '../../../src/consensus/sim/batch.ts';
import { passingSeeds } from './simSeeds.ts';

describe('fast paxos in the simulator', () => {
  it('passes 300 seeds (n = 3–7) with no violation', () => {
    const sum = passingSeeds('fast-paxos', seedRange(1, 300));
    expect(sum.decisions).toBeGreaterThanOrEqual(300 * 3);
    expect(sum.crashes).toBeGreaterThan(300);
  });
});
