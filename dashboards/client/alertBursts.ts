// A burst of one kind of alert (the same predicted degradation from ten hosts
// within seconds, a rack losing its heartbeats) is one line on the page,
// "predicted-degradation on 10 hosts", not ten. Pure, and unit-tested.
import type { Alert } from './model.ts';

/** Alerts of one kind this close together (from the newest of them) are one burst. */
export const BURST_WINDOW_MS = 10_000;
const SEVERITY_RANK = { info: 0, warning: 1, critical: 2 } as const;

export interface AlertLine {
  /** The newest alert of the line. */
  at: number;
  severity: Alert['severity'];
  kind: string;
  /** Hosts it came from, in order of first appearance (newest first). */
  hosts: string[];
  /** Alerts folded into it (1 for a single alert). */
  count: number;
  text: string;
}

/**
 * Alerts (newest first) as lines (newest first): the alerts of one kind within
 * BURST_WINDOW_MS of the newest of them form a burst; a burst from two or more
 * hosts, or of three or more alerts, is one line; any other alert is its own.
 */
export function alertLines(alerts: readonly Alert[], windowMs = BURST_WINDOW_MS): AlertLine[] {
  const bursts: Alert[][] = [];
  const open = new Map<string, Alert[]>();
  for (const a of alerts) {
    const burst = open.get(a.kind);
    if (burst && burst[0]!.at - a.at <= windowMs) {
      burst.push(a);
      continue;
    }
    const fresh = [a];
    open.set(a.kind, fresh);
    bursts.push(fresh);
  }
  const lines: AlertLine[] = [];
  for (const burst of bursts) {
    const hosts = [...new Set(burst.flatMap((a) => a.hosts ?? [a.host]))];
    if (hosts.length < 2 && burst.length < 3) {
      for (const a of burst) lines.push({ at: a.at, severity: a.severity, kind: a.kind, hosts: [a.host], count: 1, text: a.text });
      continue;
    }
    if (burst.length === 1) {
      // One summary the coordinator made already.
      const a = burst[0]!;
      lines.push({ at: a.at, severity: a.severity, kind: a.kind, hosts, count: hosts.length, text: a.text });
      continue;
    }
    const severity = burst.reduce<Alert['severity']>((s, a) => (SEVERITY_RANK[a.severity] > SEVERITY_RANK[s] ? a.severity : s), 'info');
    const agents = new Set(burst.flatMap((a) => (a.agent ? [a.agent] : []))).size;
    const where = hosts.length === 1 ? `on host ${hosts[0]}` : `on ${hosts.length} hosts`;
    const what = agents > 0 ? ` (${agents} agent${agents === 1 ? '' : 's'})` : burst.length > hosts.length ? ` (${burst.length} alerts)` : '';
    lines.push({ at: burst[0]!.at, severity, kind: burst[0]!.kind, hosts, count: burst.length, text: `${burst[0]!.kind} ${where}${what}` });
  }
  return lines.sort((x, y) => y.at - x.at);
}
