// How late a host's heartbeats arrive, and whether that predicts the host is
// degrading. Pure: the monitor owns the clock, Redis and the alerts.
//
// Two rules keep a shared, known cause from being blamed on each host (issue 15:
// ten hosts of 1,000 agents started together on a busy 2-core machine each
// raised predicted-degradation):
//
// - Only beats after the host said it was ready build its baseline. A host
//   beats from the moment it starts, and spawning 1,000 agents then blocks its
//   event loop for seconds. A host whose first sample came before that stall
//   got a near-zero baseline (the baseline takes an outlier only up to the
//   alarm line) and a recent trend of seconds, and alarmed once it had
//   minSamples; a host whose first sample was the stall got a baseline of
//   seconds that hid any real degradation for minutes. Either way the
//   baseline described startup, not the host's normal.
// - A rise counts against the host only when its recent delay also stands out
//   from the other hosts' (their median, ready or not). Hosts sharing a machine
//   that is busy (siblings still spawning, other load) are all late together:
//   that is the machine's condition, not a degrading host, and blaming it on
//   each host is a storm of alerts that says nothing about any one of them.
//   Hosts on other machines are unaffected, so a lone slow host still stands out.
import { alarmLine, observe, predictDegradation, updateEma, type AgentBaselines, type Baseline, type BaselineOptions, type DegradationPrediction } from './baseline.ts';

export interface HostTrend {
  /** The last beat seen (ms, the host's clock). */
  last: number;
  /** When the host said it was ready (ms); undefined while it is starting. */
  readyAt: number | undefined;
  /** Built from beats after readyAt only. */
  baselines: AgentBaselines;
  /** Every delay seen, startup included: what this host adds to its peers' reference. */
  recentAll: Baseline | undefined;
  /** Whether a predicted-degradation alert is out for the host. */
  predicted: boolean;
}

export function firstBeat(beat: number, readyAt: number | undefined): HostTrend {
  return { last: beat, readyAt, baselines: {}, recentAll: undefined, predicted: false };
}

/** A beat read by the monitor; the same beat read again changes nothing. */
export function observeBeat(t: HostTrend, beat: number, readyAt: number | undefined, intervalMs: number, o: BaselineOptions): HostTrend {
  // A new life (ready again after a rejoin, or its mark gone): its old normal no longer applies.
  const base = readyAt === t.readyAt ? t : { ...t, readyAt, baselines: {}, predicted: false };
  if (!Number.isFinite(beat) || beat === base.last) return base;
  // A beat older than the last is clock skew or a restarted host: a new starting point, not a delay.
  if (beat < base.last) return { ...base, last: beat };
  const delay = beat - base.last - intervalMs;
  const next = { ...base, last: beat, recentAll: updateEma(base.recentAll, Math.max(0, delay), o.fastAlpha) };
  // The gap into the first beat after ready still spans the end of startup.
  if (readyAt === undefined || base.last < readyAt) return next;
  return { ...next, baselines: observe(base.baselines, 'heartbeatDelay', delay, o) };
}

/** The middle of the peers' recent delays; undefined without peers. */
export function median(xs: readonly number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * For each host, the median of the other hosts' values: sorted once, each
 * median read by index, so a monitor of thousands of hosts stays O(n log n) a check.
 */
export function mediansOfOthers(values: ReadonlyMap<string, number>): Map<string, number | undefined> {
  const sorted = [...values].sort((a, b) => a[1] - b[1]);
  const n = sorted.length - 1;
  const out = new Map<string, number | undefined>();
  sorted.forEach(([host], k) => {
    // The j-th of the others is sorted[j] before this host's place, sorted[j + 1] from it on.
    const at = (j: number) => sorted[j < k ? j : j + 1]![1];
    out.set(host, n === 0 ? undefined : n % 2 ? at((n - 1) / 2) : (at(n / 2 - 1) + at(n / 2)) / 2);
  });
  return out;
}

export interface HostTrendJudgement extends DegradationPrediction {
  /** The peers' median recent delay the host was compared with (ms), when it had peers. */
  peers?: number;
}

/**
 * Degrading when the host's recent delay is well above its own post-ready
 * baseline and, given peers (their median recent delay), also above that by
 * the same margin (+50 % and +100 ms by default). Without peers only its own
 * baseline can judge.
 */
export function judgeHostTrend(t: HostTrend, peers: number | undefined, o: BaselineOptions): HostTrendJudgement {
  const own = predictDegradation(t.baselines, o);
  if (!own.predicted || peers === undefined) return peers === undefined ? own : { ...own, peers };
  if (own.recent! > alarmLine(peers, 'heartbeatDelay', o)) return { ...own, peers };
  return { predicted: false, peers };
}
