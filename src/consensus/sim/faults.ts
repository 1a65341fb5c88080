// How rough one run's network and nodes are. Each seed draws its own profile,
// from calm to hostile, so a batch of seeds covers both the common case and
// the corner cases; after the fault phase every run switches to HEALED.
import type { RunRandom } from './random.ts';

export interface FaultProfile {
  /** Probability that a sent message is lost. */
  drop: number;
  /** Probability that a sent message is delivered twice (each copy with its own delay). */
  duplicate: number;
  /** A message is delivered 1 … maxDelay ticks after it is sent; different delays reorder messages. */
  maxDelay: number;
  /** Probability that a message is slow instead: delivered maxDelay … MAX_DELAY_TICKS ticks after it is sent (stale messages are where protocols break). */
  slow: number;
  /** Per tick: probability that one up honest node crashes (within the crash budget). */
  crash: number;
  /** Per tick and per crashed node: probability that it restarts. */
  restart: number;
  /** Per delivery: probability that the receiver crashes after persisting its output but before sending any of it. */
  crashMidStep: number;
  /** Per tick, when there is no partition: probability that one starts. */
  partition: number;
  /** A partition lasts this many ticks, [min, max]. */
  partitionTicks: readonly [number, number];
}

/** After the fault phase: nothing is lost, duplicated or partitioned, nobody crashes; messages still take 1–2 ticks, so some reordering stays. */
export const HEALED: FaultProfile = {
  drop: 0,
  duplicate: 0,
  maxDelay: 2,
  slow: 0,
  crash: 0,
  restart: 0,
  crashMidStep: 0,
  partition: 0,
  partitionTicks: [0, 0],
};

/** The longest delay of a message: messages sent before the heal may still arrive this long after it. */
export const MAX_DELAY_TICKS = 30;

export function drawFaultProfile(rng: RunRandom): FaultProfile {
  // A fifth of the seeds run a clean network (faults only from crashes, or none), so plain runs are covered too.
  const calm = rng.chance(0.2);
  const pick = (xs: readonly number[]): number => rng.pick(xs);
  return {
    drop: calm ? 0 : pick([0, 0.02, 0.05, 0.1, 0.2, 0.35]),
    duplicate: calm ? 0 : pick([0, 0.02, 0.05, 0.1, 0.2]),
    maxDelay: calm ? 1 : rng.int(1, 8),
    slow: calm ? 0 : pick([0, 0.01, 0.05, 0.1]),
    crash: pick([0, 0.01, 0.03, 0.08]),
    restart: pick([0.05, 0.1, 0.3]),
    crashMidStep: calm ? 0 : pick([0, 0, 0.002, 0.01]),
    partition: calm ? 0 : pick([0, 0, 0.01, 0.03, 0.06]),
    partitionTicks: [5, rng.int(10, 40)],
  };
}

export function describeProfile(p: FaultProfile): string {
  const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;
  return `drop ${pct(p.drop)}, dup ${pct(p.duplicate)}, delay 1–${p.maxDelay} (${pct(p.slow)} slow, up to ${MAX_DELAY_TICKS}), crash ${pct(p.crash)}/tick, restart ${pct(p.restart)}/tick, mid-step crash ${pct(p.crashMidStep)}, partition ${pct(p.partition)}/tick for ${p.partitionTicks[0]}–${p.partitionTicks[1]} ticks`;
}
