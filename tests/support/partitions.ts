// Coordinator ids for tests of shared partitions: the first few `<base>-<i>`
// sets whose assignment (the same pure function the coordinators run) splits
// the partitions a test needs split, so the test is about sharing, not luck.
import { assignPartitions } from '../../src/partitions/assign.ts';

export function idsSplitting(count: number, partitions: readonly string[], base = 'coord'): string[] {
  for (let start = 0; start < 10_000; start++) {
    const ids = Array.from({ length: count }, (_, i) => `${base}-${start + i}`);
    const owners = assignPartitions(ids, partitions);
    if (new Set(partitions.map((p) => owners.get(p))).size === Math.min(count, partitions.length)) return ids;
  }
  throw new Error(`no ${count} ids split ${partitions.join(', ')}`);
}
