// The dashboard's imperative shell in the browser: snapshots from the JSON
// routes every couple of seconds (and soon after an event that changes them),
// events from the Server-Sent Events stream as they happen, and a render of
// the pure views after each change.
import type { HierarchyJSON } from '../../src/routing/hierarchyJson.ts';
import type { RatePoint } from '../ratePoint.ts';
import { agentRows, applyEvent, applySnapshot, emptyState, type AgentSnapshot, type HostSnapshot, type RecoverySnapshot } from './model.ts';
import { DASHBOARD_EVENT_TYPES, eventsUrl, toSwarmEvent } from './swarmEvents.ts';
import { layoutTree } from './treeLayout.ts';
import { treeSvg } from './treeSvg.ts';
import { agentsTable, alertFeed, consensusFeed, ratesPanel, rebalanceFeed, recoveryFeed, stateSummary } from './views.ts';

const SNAPSHOT_EVERY_MS = 2000;
const RATES_EVERY_MS = 2000;
/** After an event, a fresh snapshot this soon (events come in bursts: one read per burst). */
const AFTER_EVENT_MS = 150;
/** Past events a new page asks for, so its feeds start filled. */
const BACKLOG = 300;

// This module is served from <dashboard>/client/, the API from <dashboard>/../api/.
const base = new URL('../', import.meta.url);
const ratesUrl = new URL('rates', base);
const apiBase = new URL('../api/', base);
const api = (path: string) => new URL(path, apiBase);

let state = emptyState();
let hierarchy: HierarchyJSON | undefined;
let rates: RatePoint[] = [];

function el(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e;
}

function setStatus(text: string, live: boolean): void {
  const s = el('status');
  s.textContent = text;
  s.dataset.live = String(live);
}

let renderQueued = false;
/** Events come in bursts (a recovery is a dozen): one render per frame, however many arrived. */
function renderSoon(): void {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function render(): void {
  const rows = agentRows(state);
  if (hierarchy) {
    el('tree').innerHTML = hierarchy.nodes ? treeSvg(layoutTree(hierarchy)) : '<p class="empty">No coordination nodes yet: they appear as agents join.</p>';
    el('tree-summary').textContent = `${hierarchy.nodes} node${hierarchy.nodes === 1 ? '' : 's'} · ${hierarchy.root.capacity} live slots · ${hierarchy.root.waiting} waiting · ${hierarchy.root.active} active`;
  }
  el('agent-states').innerHTML = stateSummary(rows);
  el('agents').innerHTML = agentsTable(rows);
  el('rebalances').innerHTML = rebalanceFeed(state);
  el('recoveries').innerHTML = recoveryFeed(state);
  el('consensus').innerHTML = consensusFeed(state);
  el('alerts').innerHTML = alertFeed(state);
  el('rates').innerHTML = ratesPanel(rates);
}

async function getJson<T>(url: URL): Promise<T> {
  const res = await fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
  if (!res.ok) throw new Error(`${url.pathname}: ${res.status}`);
  return (await res.json()) as T;
}

let snapshotting: Promise<void> | undefined;
async function refreshSnapshot(): Promise<void> {
  const [agents, health, recoveries, tree] = await Promise.all([
    getJson<{ agents: AgentSnapshot[] }>(api('agents')),
    getJson<{ hosts: HostSnapshot[] }>(api('health')),
    getJson<{ recoveries: RecoverySnapshot[] }>(api('recoveries')),
    getJson<HierarchyJSON>(api('hierarchy')),
  ]);
  state = applySnapshot(state, { agents: agents.agents, hosts: health.hosts, recoveries: recoveries.recoveries }, Date.now());
  hierarchy = tree;
  render();
  document.body.dataset.ready = 'true';
}

function snapshotSoon(delayMs: number): void {
  setTimeout(() => {
    snapshotting ??= refreshSnapshot()
      .catch((err: Error) => setStatus(`cannot read the swarm: ${err.message}`, false))
      .finally(() => {
        snapshotting = undefined;
      });
  }, delayMs);
}

async function refreshRates(): Promise<void> {
  try {
    rates = (await getJson<{ points: RatePoint[] }>(ratesUrl)).points;
    el('rates').innerHTML = ratesPanel(rates);
  } catch {
    // The next tick tries again; the plot keeps its last picture.
  }
}

function listen(): void {
  const source = new EventSource(eventsUrl(apiBase, BACKLOG), { withCredentials: true });
  source.onopen = () => setStatus('live', true);
  source.onerror = () => setStatus('reconnecting…', false);
  for (const type of DASHBOARD_EVENT_TYPES) {
    source.addEventListener(type, (msg) => {
      let data: unknown;
      try {
        data = JSON.parse((msg as MessageEvent<string>).data);
      } catch {
        return;
      }
      const e = toSwarmEvent(data);
      if (!e) return;
      state = applyEvent(state, e);
      renderSoon();
      snapshotSoon(AFTER_EVENT_MS);
    });
  }
}

snapshotSoon(0);
setInterval(() => snapshotSoon(0), SNAPSHOT_EVERY_MS);
void refreshRates();
setInterval(() => void refreshRates(), RATES_EVERY_MS);
listen();
