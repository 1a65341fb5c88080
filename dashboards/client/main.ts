// The dashboard's imperative shell in the browser: counts, one page of agents
// and the open part of the hierarchy from the JSON routes every couple of
// seconds (and soon after an event that changes them), events from the
// Server-Sent Events stream as they happen, and a render of the pure views
// after each change. Nothing here grows with the swarm: at 10,000 agents the
// page holds a summary, 50 table rows and the groups someone opened.
import type { AgentPage } from '../../src/api/agentPage.ts';
import type { HierarchySliceJSON } from '../../src/routing/hierarchySlice.ts';
import type { RatePoint } from '../ratePoint.ts';
import { agentsSearch, firstQuery, firstRow, isFiltered, nextPage, previousPage, withFilters, type AgentQuery } from './agentQuery.ts';
import { agentRows, applyEvent, applySnapshot, emptyState, type AgentSnapshot, type HostSnapshot, type RecoverySnapshot } from './model.ts';
import { pagerText, swarmStateCounts, type SwarmSummary } from './summaryModel.ts';
import { DASHBOARD_EVENT_TYPES, eventsUrl, toSwarmEvent } from './swarmEvents.ts';
import { shownTree, slicesToFetch, toggle, topLevels } from './treeModel.ts';
import { treeView } from './treeGrid.ts';
import type { RunningPage } from '../../src/api/runningTasks.ts';
import { runningPanel } from './runningTasks.ts';
import type { AwaitingPage } from '../../src/coordinator/approvals.ts';
import { approvalsKey, approvalsPanel } from './approvals.ts';
import type { KeyView } from '../../src/keys/keyAdmin.ts';
import { keysPanel } from './keysPanel.ts';
import { agentsTable, alertFeed, consensusFeed, hostsPanel, ratesPanel, rebalanceFeed, recoveryFeed, stateSummary } from './views.ts';

const SNAPSHOT_EVERY_MS = 2000;
const RATES_EVERY_MS = 2000;
/** After an event, a fresh snapshot this soon (events come in bursts: one read per burst). */
const AFTER_EVENT_MS = 150;
/** Typing in the search box: ask once the typing pauses. */
const SEARCH_PAUSE_MS = 200;
/** Past events a new page asks for, so its feeds start filled. */
const BACKLOG = 300;

// This module is served from <dashboard>/client/, the API from <dashboard>/../api/.
const base = new URL('../', import.meta.url);
const ratesUrl = new URL('rates', base);
const apiBase = new URL('../api/', base);
const api = (path: string) => new URL(path, apiBase);

let state = emptyState();
let summary: SwarmSummary | undefined;
let top: HierarchySliceJSON | undefined;
/** Levels of the top slice: the whole tree while it is small (decided on the first answer). */
let topDepth = 1;
const slices = new Map<string, HierarchySliceJSON>();
let toggled: string[] = [];
let query: AgentQuery = firstQuery;
let page: Pick<AgentPage, 'total' | 'matched' | 'nextCursor'> | undefined;
let rates: RatePoint[] = [];
let running: RunningPage | undefined;
let approvals: AwaitingPage | undefined;
/** The rows on screen (approvalsKey): the panel is redrawn only when they change, so a reason being typed stays. */
let approvalsShown: string | undefined;
let keys: KeyView[] | undefined;
let ready = false;

function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
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

function renderTree(): void {
  if (!top) return;
  el('tree').innerHTML = top.nodes ? treeView(shownTree(top, slices, new Set(toggled))) : '<p class="empty">No coordination nodes yet: they appear as agents join.</p>';
  const t = summary?.totals ?? top.root;
  const n = (x: number) => x.toLocaleString('en');
  el('tree-summary').textContent = `${n(top.nodes)} node${top.nodes === 1 ? '' : 's'} · ${n(t.capacity)} live slots · ${n(t.waiting)} waiting · ${n(t.active)} active`;
}

function renderAgents(): void {
  el('agents').innerHTML = agentsTable(agentRows(state), isFiltered(query));
  const shown = Object.values(state.agents).filter((a) => !a.departed).length;
  el('agent-pager').textContent = page ? pagerText({ first: firstRow(query), shown, matched: page.matched, total: page.total }) : '';
  el<HTMLButtonElement>('agent-prev').disabled = query.cursors.length === 0;
  el<HTMLButtonElement>('agent-next').disabled = !page?.nextCursor;
}

let hostOptions = '';
function renderSummary(): void {
  if (!summary) return;
  el('agent-states').innerHTML = stateSummary(swarmStateCounts(summary, state.hosts));
  el('hosts').innerHTML = hostsPanel(summary, state);
  // Rebuilt only when the hosts change, so an open menu is not pulled from under the pointer.
  const ids = summary.byHost.map((h) => h.id);
  if (ids.join('\n') !== hostOptions) {
    hostOptions = ids.join('\n');
    const select = el<HTMLSelectElement>('agent-host');
    const chosen = select.value;
    select.replaceChildren(new Option('all hosts', ''), ...ids.map((id) => new Option(id, id)));
    select.value = ids.includes(chosen) ? chosen : '';
  }
}

function render(): void {
  renderTree();
  renderSummary();
  renderAgents();
  el('rebalances').innerHTML = rebalanceFeed(state);
  el('recoveries').innerHTML = recoveryFeed(state);
  el('consensus').innerHTML = consensusFeed(state);
  el('alerts').innerHTML = alertFeed(state);
  el('rates').innerHTML = ratesPanel(rates);
  el('running').innerHTML = runningPanel(running, Date.now());
  el('keys').innerHTML = keysPanel(keys, Date.now());
  renderApprovals();
}

function renderApprovals(): void {
  const key = approvalsKey(approvals);
  if (key === approvalsShown && approvals) return;
  approvalsShown = approvals ? key : undefined;
  // Reasons typed into rows that stay are put back.
  const typed = new Map<string, { reason: string; retry: boolean }>();
  for (const li of el('approvals').querySelectorAll<HTMLElement>('li[data-approval]')) {
    const reason = li.querySelector<HTMLInputElement>('input[name=reason]')?.value ?? '';
    const retry = li.querySelector<HTMLInputElement>('input[name=retry]')?.checked ?? false;
    if (reason || retry) typed.set(`${li.dataset.approval}#${li.dataset.round}`, { reason, retry });
  }
  el('approvals').innerHTML = approvalsPanel(approvals, Date.now());
  for (const li of el('approvals').querySelectorAll<HTMLElement>('li[data-approval]')) {
    const t = typed.get(`${li.dataset.approval}#${li.dataset.round}`);
    if (!t) continue;
    li.querySelector<HTMLInputElement>('input[name=reason]')!.value = t.reason;
    li.querySelector<HTMLInputElement>('input[name=retry]')!.checked = t.retry;
  }
}

function approvalStatus(text: string, ok: boolean): void {
  const s = el('approval-status');
  s.textContent = text;
  s.dataset.ok = String(ok);
}

/** Approve or reject from a row: the round shown goes with it, so an output that came since is not decided unseen. */
async function decideFrom(button: HTMLButtonElement): Promise<void> {
  const li = button.closest<HTMLElement>('li[data-approval]');
  const id = button.dataset.task;
  if (!li || !id) return;
  const action = button.dataset.action === 'approve' ? 'approve' : 'reject';
  const reason = li.querySelector<HTMLInputElement>('input[name=reason]')?.value.trim() ?? '';
  if (action === 'reject' && !reason) {
    approvalStatus(`say why you reject ${id}: the reason is recorded, and with "run again" the agent is told it`, false);
    li.querySelector<HTMLInputElement>('input[name=reason]')?.focus();
    return;
  }
  const body = { round: Number(li.dataset.round), ...(action === 'reject' ? { reason, retry: li.querySelector<HTMLInputElement>('input[name=retry]')?.checked ?? false } : {}) };
  for (const b of li.querySelectorAll('button')) b.disabled = true;
  try {
    const res = await fetch(api(`tasks/${encodeURIComponent(id)}/${action}`), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    if (res.ok) approvalStatus(`${action === 'approve' ? 'approved' : 'rejected'} ${id}`, true);
    else approvalStatus(answer.error?.message ?? `${action} ${id}: ${res.status}`, false);
  } catch (err) {
    approvalStatus(`${action} ${id}: ${(err as Error).message}`, false);
  } finally {
    for (const b of li.querySelectorAll('button')) b.disabled = false;
    snapshotSoon(0);
  }
}

async function getJson<T>(url: URL): Promise<T> {
  const res = await fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
  if (!res.ok) throw new Error(`${url.pathname}: ${res.status}`);
  return (await res.json()) as T;
}

const agentsUrl = (q: AgentQuery) => api(`agents${agentsSearch(q)}`);
const hierarchyUrl = (under: string, depth: number) => api(`hierarchy?under=${encodeURIComponent(under)}&depth=${depth}`);

/** The open groups' slices, each read again (their loads move). */
async function readSlices(): Promise<void> {
  const want = slicesToFetch(top, new Set(toggled));
  const got = await Promise.all(want.map((id) => getJson<HierarchySliceJSON>(hierarchyUrl(id, 1)).catch(() => undefined)));
  for (const id of [...slices.keys()]) if (!want.includes(id)) slices.delete(id);
  want.forEach((id, i) => {
    const s = got[i];
    if (s) slices.set(id, s);
    // A group that went away (its nodes left) is closed.
    else toggled = toggled.filter((x) => x !== id);
  });
}

let snapshotting: Promise<void> | undefined;
async function refreshSnapshot(): Promise<void> {
  const asked = query;
  const [sum, agents, health, recoveries, tree, run, awaiting, , keyList] = await Promise.all([
    getJson<SwarmSummary>(api('summary')),
    getJson<AgentPage>(agentsUrl(asked)),
    getJson<{ hosts: HostSnapshot[] }>(api('health')),
    getJson<{ recoveries: RecoverySnapshot[] }>(api('recoveries')),
    getJson<HierarchySliceJSON>(hierarchyUrl('root', topDepth)),
    // A coordinator older than the panel has no /api/running: the rest of the page still fills.
    getJson<RunningPage>(api('running?limit=20')).catch(() => running),
    // Likewise /api/approvals.
    getJson<AwaitingPage>(api('approvals?limit=20')).catch(() => approvals),
    readSlices(),
    // Likewise GET /api/keys (docs/keys.md).
    getJson<{ keys: KeyView[] }>(api('keys')).then(
      (r) => r.keys,
      () => keys,
    ),
  ]);
  summary = sum;
  running = run;
  approvals = awaiting;
  keys = keyList;
  top = tree;
  const depth = topLevels(tree.nodes, tree.depth);
  if (depth !== topDepth) {
    // The first answer says how big the tree is: a small one is read whole, at once.
    topDepth = depth;
    top = await getJson<HierarchySliceJSON>(hierarchyUrl('root', topDepth));
  }
  // A query changed while this was on its way: its own read brings the table.
  const current = asked === query;
  if (current) page = agents;
  const shownAgents: AgentSnapshot[] = current ? agents.agents : Object.values(state.agents).filter((a) => !a.departed).map((a) => a.agent);
  state = applySnapshot(state, { agents: shownAgents, agentsKey: current ? agentsSearch(asked) : state.agentsKey, hosts: health.hosts, recoveries: recoveries.recoveries }, Date.now());
  render();
  if (!ready) {
    ready = true;
    // The page's own measure of its load, for people and benchmarks: the first summary, agent page and hierarchy are on screen.
    performance.mark('swarmq:dashboard-ready');
    document.body.dataset.readyMs = String(Math.round(performance.now()));
    document.body.dataset.ready = 'true';
  }
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

let agentsAsked = 0;
/** The table alone, at once, after a search, a filter or a page turn. */
async function refreshAgents(): Promise<void> {
  const n = ++agentsAsked;
  const asked = query;
  try {
    const agents = await getJson<AgentPage>(agentsUrl(asked));
    if (n !== agentsAsked) return; // a later question is on its way
    page = agents;
    state = applySnapshot(state, { agents: agents.agents, agentsKey: agentsSearch(asked), hosts: [], recoveries: [] }, Date.now());
    renderAgents();
  } catch (err) {
    setStatus(`cannot read the agents: ${(err as Error).message}`, false);
  }
}

function setQuery(q: AgentQuery): void {
  query = q;
  void refreshAgents();
}

function wireControls(): void {
  let typing: ReturnType<typeof setTimeout> | undefined;
  el<HTMLInputElement>('agent-search').addEventListener('input', (e) => {
    clearTimeout(typing);
    const value = (e.target as HTMLInputElement).value;
    typing = setTimeout(() => setQuery(withFilters(query, { q: value })), SEARCH_PAUSE_MS);
  });
  el<HTMLSelectElement>('agent-host').addEventListener('change', (e) => setQuery(withFilters(query, { host: (e.target as HTMLSelectElement).value })));
  el<HTMLSelectElement>('agent-state').addEventListener('change', (e) => setQuery(withFilters(query, { state: (e.target as HTMLSelectElement).value })));
  el('agent-next').addEventListener('click', () => setQuery(nextPage(query, page?.nextCursor ?? null)));
  el('agent-prev').addEventListener('click', () => setQuery(previousPage(query)));
  el('approvals').addEventListener('click', (e) => {
    const button = (e.target as Element).closest<HTMLButtonElement>('button[data-action]');
    if (button && !button.disabled) void decideFrom(button);
  });
  el('tree').addEventListener('click', (e) => {
    const g = (e.target as Element).closest('[data-kind="group"]');
    const id = g?.getAttribute('data-id');
    if (!id) return;
    toggled = toggle(toggled, id);
    renderTree();
    void readSlices().then(renderTree);
  });
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

wireControls();
snapshotSoon(0);
setInterval(() => snapshotSoon(0), SNAPSHOT_EVERY_MS);
void refreshRates();
setInterval(() => void refreshRates(), RATES_EVERY_MS);
listen();
