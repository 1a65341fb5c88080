// The page's panels as HTML strings: pure functions of the dashboard state,
// so what a panel shows for a given swarm is unit-tested without a browser.
import type { RatePoint } from '../ratePoint.ts';
import { clock, esc } from './html.ts';
import { alertLines } from './alertBursts.ts';
import type { AgentRow, DashboardState } from './model.ts';
import type { StateCounts, SwarmSummary } from './summaryModel.ts';
import { hostRows } from './summaryModel.ts';
import { formatValue, sparkline } from './sparkline.ts';

const STATES = ['healthy', 'degraded', 'critical', 'failed', 'unknown'] as const;

/** Lines of the alerts feed: bursts of one kind folded into one. */
export const ALERT_LINES = 16;

export function stateSummary(counts: StateCounts): string {
  return STATES.filter((s) => s !== 'unknown' || counts.unknown > 0)
    .map((s) => `<span class="pill ${s}" data-count="${s}">${counts[s].toLocaleString('en')} ${s}</span>`)
    .join(' ');
}

export function agentsTable(rows: readonly AgentRow[], filtered = false): string {
  if (rows.length === 0) {
    return filtered ? '<p class="empty">No agent matches.</p>' : '<p class="empty">No agents in the roster. Start a host: <code>npx swarmq agents --count 10 --type worker</code></p>';
  }
  const body = rows
    .map((r) => {
      const notes = [r.isolated ? 'isolated (breaker open)' : '', r.departed ? 'left the roster' : ''].filter(Boolean).join(', ');
      return (
        `<tr data-agent="${esc(r.id)}" data-host="${esc(r.host)}" data-state="${r.state}"${r.departed ? ' class="departed"' : ''}>` +
        `<td>${esc(r.id)}</td><td>${esc(r.type)}</td><td>${esc(r.node)}</td><td>${esc(r.host)}</td><td class="num">${r.capacity}</td>` +
        `<td><span class="badge ${r.state}">${r.state}</span>${notes ? ` <span class="note">${esc(notes)}</span>` : ''}</td></tr>`
      );
    })
    .join('');
  return `<table class="agents"><thead><tr><th>agent</th><th>type</th><th>node</th><th>host</th><th class="num">slots</th><th>health</th></tr></thead><tbody>${body}</tbody></table>`;
}

function feed(items: string[], empty: string): string {
  return items.length ? `<ul class="feed">${items.join('')}</ul>` : `<p class="empty">${esc(empty)}</p>`;
}

export function rebalanceFeed(s: DashboardState): string {
  return feed(
    s.rebalances.map(
      (r) =>
        `<li data-kind="rebalance"><time>${clock(r.at)}</time> ${r.moves.map((m) => `${m.moved} ${esc(m.from)} → ${esc(m.to)} <span class="note">${esc(m.reason)}</span>`).join(', ')}</li>`,
    ),
    'No moves yet: the balancer steals and rebalances waiting work when nodes are uneven.',
  );
}

export function recoveryFeed(s: DashboardState): string {
  return feed(
    s.recoveries.map(
      (r) =>
        `<li data-recovery="${esc(r.id)}" data-state="${esc(r.state)}"><time>${clock(r.detectedAt)}</time> host <b>${esc(r.host)}</b> ` +
        `<span class="badge ${r.state === 'done' ? 'healthy' : r.state === 'escalated' ? 'critical' : 'degraded'}">${esc(r.state)}</span> ` +
        `${r.steps.map((x) => esc(typeof x.detail?.node === 'string' ? `${x.step} ${x.detail.node}` : x.step)).join(' → ')}${r.requeued ? ` <span class="note">${r.requeued} requeued</span>` : ''}</li>`,
    ),
    'No recoveries: no host has failed.',
  );
}

export function consensusFeed(s: DashboardState): string {
  return feed(
    s.consensus.map((c) => {
      const value = JSON.stringify(c.value) ?? 'null';
      const share = c.participants > 0 ? c.votes / c.participants : 0;
      return (
        `<li data-round="${esc(c.id)}"><time>${clock(c.at)}</time> <b>${esc(c.protocol)}</b> ${c.decided ? 'decided' : 'undecided'} <code>${esc(value.length > 40 ? `${value.slice(0, 40)}…` : value)}</code> ` +
        `<span class="votes" title="${c.votes} of ${c.participants} participants decided it"><span style="width:${(share * 100).toFixed(0)}%"></span></span> ${c.votes}/${c.participants} votes · ${c.rounds} round${c.rounds === 1 ? '' : 's'} · ${formatValue(c.latencyMs)} ms</li>`
      );
    }),
    'No consensus rounds yet.',
  );
}

export function alertFeed(s: DashboardState): string {
  return feed(
    alertLines(s.alerts)
      .slice(0, ALERT_LINES)
      .map((l) =>
        l.count === 1
          ? `<li class="sev-${l.severity}" data-alert-host="${esc(l.hosts[0])}"><time>${clock(l.at)}</time> ${esc(l.text)}</li>`
          : `<li class="sev-${l.severity}" data-alert-kind="${esc(l.kind)}" data-alert-hosts="${l.hosts.length}" title="${esc(l.hosts.join(', '))}"><time>${clock(l.at)}</time> ${esc(l.text)}</li>`,
      ),
    'No health alerts.',
  );
}

/** Hosts as a short table: at most a few dozen rows whatever the agent count. */
export function hostsPanel(summary: SwarmSummary, s: DashboardState): string {
  const rows = hostRows(summary, s.hosts);
  if (rows.length === 0) return '<p class="empty">No agent host has checked in.</p>';
  const types = summary.byType.map((t) => `${esc(t.type)} ${t.live.toLocaleString('en')}/${t.agents.toLocaleString('en')}`).join(' · ');
  const band = summary.nodes.byLoad;
  return (
    `<p class="note" data-summary="nodes">${summary.nodes.total.toLocaleString('en')} nodes: ${band.idle} idle · ${band.ok} ok · ${band.busy} busy · ${band.overloaded} overloaded${band['no-capacity'] ? ` · ${band['no-capacity']} without live agents` : ''}</p>` +
    `<p class="note" data-summary="types">types (live/all): ${types || 'none'}</p>` +
    `<table class="agents hosts"><thead><tr><th>host</th><th class="num">agents</th><th>health</th></tr></thead><tbody>` +
    rows
      .map((h) => `<tr data-host-row="${esc(h.id)}" data-state="${h.state}"><td>${esc(h.id)}</td><td class="num">${h.agents.toLocaleString('en')}</td><td><span class="badge ${h.state}">${h.state}</span>${h.live ? '' : ' <span class="note">no heartbeat</span>'}</td></tr>`)
      .join('') +
    `</tbody></table>`
  );
}

const PLOT = { width: 360, height: 64 };

/** Throughput (tasks finished per second) and latency quantiles over the sampled minutes. */
export function ratesPanel(points: readonly RatePoint[]): string {
  if (points.length === 0) return '<p class="empty">Sampling… the plots fill in every second.</p>';
  const perSec = (n: number, p: RatePoint) => (n * 1000) / Math.max(1, p.intervalMs);
  const last = points[points.length - 1]!;
  const recent = points.slice(-10);
  const rate = recent.reduce((s, p) => s + perSec(p.completed + p.failed, p), 0) / recent.length;
  const lastWith = [...points].reverse().find((p) => p.waitMs !== null);
  const minutes = Math.max(1, Math.round((last.at - points[0]!.at) / 60_000));
  const throughput = sparkline(
    [
      { name: 'completed', className: 'completed', values: points.map((p) => perSec(p.completed, p)) },
      { name: 'failed', className: 'failed', values: points.map((p) => perSec(p.failed, p)) },
    ],
    { ...PLOT, minMax: 1, unit: '/s' },
  );
  const latency = sparkline(
    [
      { name: 'wait p95', className: 'p95', values: points.map((p) => p.waitMs?.p95 ?? null) },
      { name: 'wait p50', className: 'p50', values: points.map((p) => p.waitMs?.p50 ?? null) },
      { name: 'run p50', className: 'run', values: points.map((p) => p.runMs?.p50 ?? null) },
    ],
    { ...PLOT, minMax: 5, unit: 'ms' },
  );
  const lat = lastWith ? `wait p50 ${formatValue(lastWith.waitMs!.p50)} ms · p95 ${formatValue(lastWith.waitMs!.p95)} ms · run p50 ${formatValue(lastWith.runMs!.p50)} ms` : 'no task finished yet';
  return (
    `<div class="plot" data-plot="throughput"><h3>Throughput <span class="now" data-now="throughput">${formatValue(rate)} tasks/s</span></h3>${throughput}` +
    `<p class="legend"><i class="completed"></i>completed <i class="failed"></i>failed · last ${minutes} min</p></div>` +
    `<div class="plot" data-plot="latency"><h3>Latency <span class="now">${esc(lat)}</span></h3>${latency}` +
    `<p class="legend"><i class="p50"></i>submit → start p50 <i class="p95"></i>p95 <i class="run"></i>run time p50</p></div>`
  );
}
