// Health state of a host (and so of its agents) judged from heartbeat age alone.
// Kept pure so the monitor, the CLI and tests all agree on the exact boundaries.

export type HealthState = 'healthy' | 'degraded' | 'critical' | 'failed';

export interface HealthThresholds {
  degradedAfterMs: number;
  criticalAfterMs: number;
  failedAfterMs: number;
}

// Matches the config defaults (agents.*AfterMs) so code that has no config at hand classifies the same way.
export const DEFAULT_THRESHOLDS: Readonly<HealthThresholds> = Object.freeze({
  degradedAfterMs: 2000,
  criticalAfterMs: 5000,
  failedAfterMs: 10_000,
});

/**
 * Each boundary belongs to the worse state (an age of exactly degradedAfterMs is degraded),
 * so a threshold reads as "from this age on".
 */
export function classifyHeartbeat(ageMs: number | null | undefined, t: HealthThresholds = DEFAULT_THRESHOLDS): HealthState {
  // No beat at all (or a corrupt timestamp) gives no evidence of life: treat as the worst case, never as healthy.
  if (ageMs === null || ageMs === undefined || Number.isNaN(ageMs)) return 'failed';
  // A beat "from the future" is clock skew between hosts; it still proves the host was alive just now.
  const age = Math.max(0, ageMs);
  if (age < t.degradedAfterMs) return 'healthy';
  if (age < t.criticalAfterMs) return 'degraded';
  if (age < t.failedAfterMs) return 'critical';
  return 'failed';
}

const NAMES: Record<keyof HealthThresholds, string> = {
  degradedAfterMs: 'agents.degradedAfterMs (SWARMQ_DEGRADED_AFTER_MS)',
  criticalAfterMs: 'agents.criticalAfterMs (SWARMQ_CRITICAL_AFTER_MS)',
  failedAfterMs: 'agents.failedAfterMs (SWARMQ_FAILED_AFTER_MS)',
};

/**
 * Returns undefined when usable, otherwise a message naming the setting to change.
 * Out-of-order thresholds would silently skip states (e.g. never "critical"), so they are rejected rather than sorted.
 */
export function validateThresholds(t: HealthThresholds): string | undefined {
  for (const key of ['degradedAfterMs', 'criticalAfterMs', 'failedAfterMs'] as const) {
    const v: unknown = t[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      return `${NAMES[key]} must be a positive number of milliseconds, got ${String(v)}`;
    }
  }
  if (!(t.degradedAfterMs < t.criticalAfterMs)) {
    return `${NAMES.degradedAfterMs} (${t.degradedAfterMs}) must be less than ${NAMES.criticalAfterMs} (${t.criticalAfterMs}); raise the critical threshold or lower the degraded one`;
  }
  if (!(t.criticalAfterMs < t.failedAfterMs)) {
    return `${NAMES.criticalAfterMs} (${t.criticalAfterMs}) must be less than ${NAMES.failedAfterMs} (${t.failedAfterMs}); raise the failed threshold or lower the critical one`;
  }
  return undefined;
}

export const SEVERITY: Readonly<Record<HealthState, number>> = Object.freeze({
  healthy: 0,
  degraded: 1,
  critical: 2,
  failed: 3,
});

/** The more severe of two states; on a tie the first, so folding over a list is stable. */
export function worse(a: HealthState, b: HealthState): HealthState {
  return SEVERITY[b] > SEVERITY[a] ? b : a;
}
