// Alerts of one kind from several hosts within a short window go out as one
// summary naming how many hosts and which, instead of one line per host: ten
// hosts slowed by one cause are one piece of news, and a feed flooded with ten
// copies hides the alert that differs. A kind raised by a single host goes out
// as it was. Pure: the monitor holds the state, the clock and the publishing.

export interface BurstAlert {
  at: number;
  host: string;
  reason: string;
  severity: 'info' | 'warning' | 'critical';
}

/** Per kind: alerts held since the first of them arrived. */
export type Bursts<A extends BurstAlert> = ReadonlyMap<string, { since: number; alerts: readonly A[] }>;

export type Released<A extends BurstAlert> = { kind: 'one'; alert: A } | { kind: 'many'; alerts: readonly A[] };

/** Holds an alert in its kind's burst; a host already in the burst is replaced by its newer alert. */
export function hold<A extends BurstAlert>(bursts: Bursts<A>, kind: string, alert: A, now: number): Bursts<A> {
  const b = bursts.get(kind);
  const next = new Map(bursts);
  next.set(kind, { since: b?.since ?? now, alerts: [...(b?.alerts ?? []).filter((a) => a.host !== alert.host), alert] });
  return next;
}

/**
 * The bursts whose window has passed (all of them with `everything`, for a
 * monitor that stops), in the order they began: a single alert as it is,
 * several as one group to summarize.
 */
export function release<A extends BurstAlert>(bursts: Bursts<A>, now: number, windowMs: number, everything = false): { bursts: Bursts<A>; out: Released<A>[] } {
  const out: Released<A>[] = [];
  const kept = new Map<string, { since: number; alerts: readonly A[] }>();
  const due = [...bursts.entries()].sort((x, y) => x[1].since - y[1].since);
  for (const [kind, b] of due) {
    if (!everything && now - b.since < windowMs) kept.set(kind, b);
    else if (b.alerts.length === 1) out.push({ kind: 'one', alert: b.alerts[0]! });
    else if (b.alerts.length > 1) out.push({ kind: 'many', alerts: b.alerts });
  }
  return { bursts: kept, out };
}

/** The most severe of the group's severities, so a summary never understates what it holds. */
export function worstSeverity(alerts: readonly BurstAlert[]): BurstAlert['severity'] {
  const rank = { info: 0, warning: 1, critical: 2 } as const;
  return alerts.reduce<BurstAlert['severity']>((w, a) => (rank[a.severity] > rank[w] ? a.severity : w), 'info');
}
