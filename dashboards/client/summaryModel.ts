// The swarm in counts, as the page shows it at any size: GET /api/summary's
// figures, with each host's health as the page knows it now (an alert from the
// stream wins over the last snapshot), and the pager's words. Pure.
import type { SwarmSummary } from '../../src/api/swarmSummary.ts';
import type { DashboardState } from './model.ts';
import type { HealthState } from './swarmEvents.ts';

export type { SwarmSummary };
export type StateCounts = Record<HealthState | 'unknown', number>;

/** Agents per health state: each host's agents count in its host's state (page knowledge first, then the summary's). */
export function swarmStateCounts(summary: SwarmSummary, hosts: DashboardState['hosts']): StateCounts {
  const out: StateCounts = { healthy: 0, degraded: 0, critical: 0, failed: 0, unknown: 0 };
  for (const h of summary.byHost) out[hosts[h.id]?.state ?? h.health] += h.agents;
  return out;
}

/** Each host with the state to show it in. */
export function hostRows(summary: SwarmSummary, hosts: DashboardState['hosts']): { id: string; agents: number; live: boolean; state: HealthState | 'unknown' }[] {
  return summary.byHost.map((h) => ({ id: h.id, agents: h.agents, live: h.live, state: hosts[h.id]?.state ?? h.health }));
}

/** "1–50 of 10,000", "51–62 of 62 matching (10,000 agents)", "none of 10,000 match". */
export function pagerText(page: { first: number; shown: number; matched: number; total: number }): string {
  const n = (x: number) => x.toLocaleString('en');
  const of = page.matched === page.total ? `${n(page.total)}` : `${n(page.matched)} matching (${n(page.total)} agents)`;
  if (page.shown === 0) return page.matched === 0 ? `none of ${n(page.total)} match` : `nothing here of ${of}`;
  return `${n(page.first)}–${n(page.first + page.shown - 1)} of ${of}`;
}
