// The circuit breaker of one agent, pure: an agent whose tasks fail again and
// again (a broken tool, a poisoned cache, a bad GPU) stops taking tasks for a
// cool-down, then comes back gradually, at reduced capacity, and is trusted
// with its full capacity again only after a run of successes. Failures of
// different tasks in a row point at the agent, not at one bad task.

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failed tasks that isolate the agent (0: never). */
  failures: number;
  /** How long an isolated agent takes no task. */
  cooldownMs: number;
  /** Share of its capacity a reintegrating agent gets (at least one slot). */
  probeShare: number;
  /** Successes in a row, while reintegrating, that restore full capacity. */
  successesToClose: number;
}

export const DEFAULT_BREAKER: Readonly<BreakerOptions> = Object.freeze({ failures: 5, cooldownMs: 10_000, probeShare: 0.5, successesToClose: 3 });

export interface Breaker {
  state: BreakerState;
  /** Failures in a row (closed), or successes in a row (half-open). */
  streak: number;
  openedAt: number | null;
}

export const CLOSED: Breaker = Object.freeze({ state: 'closed', streak: 0, openedAt: null });

export type BreakerTransition = 'isolated' | 'reintegrating' | 'reintegrated' | null;

export interface BreakerStep {
  breaker: Breaker;
  transition: BreakerTransition;
}

/** A task this agent ran has finished. */
export function recordResult(b: Breaker, ok: boolean, now: number, o: BreakerOptions): BreakerStep {
  if (o.failures <= 0) return { breaker: b, transition: null };
  switch (b.state) {
    case 'closed': {
      if (ok) return { breaker: b.streak === 0 ? b : { ...b, streak: 0 }, transition: null };
      const streak = b.streak + 1;
      if (streak >= o.failures) return { breaker: { state: 'open', streak: 0, openedAt: now }, transition: 'isolated' };
      return { breaker: { ...b, streak }, transition: null };
    }
    case 'half-open': {
      // One failure while on probation sends it back to isolation.
      if (!ok) return { breaker: { state: 'open', streak: 0, openedAt: now }, transition: 'isolated' };
      const streak = b.streak + 1;
      if (streak >= o.successesToClose) return { breaker: CLOSED, transition: 'reintegrated' };
      return { breaker: { ...b, streak }, transition: null };
    }
    case 'open':
      // A task it started before it was isolated finishing now changes nothing.
      return { breaker: b, transition: null };
  }
}

/** Time passes: an isolated agent whose cool-down is over starts reintegrating. */
export function advance(b: Breaker, now: number, o: BreakerOptions): BreakerStep {
  if (b.state === 'open' && b.openedAt !== null && now - b.openedAt >= o.cooldownMs) {
    return { breaker: { state: 'half-open', streak: 0, openedAt: b.openedAt }, transition: 'reintegrating' };
  }
  return { breaker: b, transition: null };
}

/**
 * How long an isolated agent still has to wait, by the clock its breaker was
 * opened with (0 when it may reintegrate now, or is not isolated). A timer can
 * fire a little before Date.now() says its delay is over, and the wall clock
 * can step back: then whoever ends the cool-down waits this much more.
 */
export function cooldownLeft(b: Breaker, now: number, o: BreakerOptions): number {
  if (b.state !== 'open' || b.openedAt === null) return 0;
  return Math.max(0, b.openedAt + o.cooldownMs - now);
}

/** Slots the agent may fill now. */
export function slots(b: Breaker, capacity: number, o: BreakerOptions): number {
  if (b.state === 'open') return 0;
  if (b.state === 'half-open') return Math.max(1, Math.floor(capacity * o.probeShare));
  return capacity;
}
