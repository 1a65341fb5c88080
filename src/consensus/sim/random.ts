// The run's single source of randomness: one seeded xoroshiro128+ generator,
// drawn from in a fixed order, so a seed replays the same run exactly. Every
// random choice of the simulator, of client proposals and of Byzantine
// behaviour comes from here; nothing reads the clock or Math.random.
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { SimRandom } from './spec.ts';

export interface RunRandom extends SimRandom {
  /** One element, uniformly. */
  pick<T>(items: readonly T[]): T;
  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[];
}

export function createRunRandom(seed: number): RunRandom {
  // pure-rand v7+ generators are mutable: each draw advances this one.
  const g = xoroshiro128plus(seed | 0);
  const int = (min: number, max: number): number => {
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min > max) throw new RangeError(`int(${min}, ${max}): need integers min ≤ max`);
    return uniformInt(g, min, max);
  };
  return {
    int,
    chance: (p) => uniformFloat64(g) < p,
    pick: (items) => {
      if (items.length === 0) throw new RangeError('pick from an empty list');
      return items[int(0, items.length - 1)] as (typeof items)[number];
    },
    shuffle: (items) => {
      const out = [...items];
      for (let i = out.length - 1; i > 0; i--) {
        const j = int(0, i);
        [out[i], out[j]] = [out[j] as (typeof out)[number], out[i] as (typeof out)[number]];
      }
      return out;
    },
  };
}
