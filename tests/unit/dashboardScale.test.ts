// The dashboard's pure parts that keep it usable at 10,000 agents: alert
// bursts folded into one line, the hierarchy shown as closed groups that open
// on a click, the agent table's query and pager, and counts from the summary.
import { describe, expect, it } from 'vitest';
import { agentsSearch, firstQuery, firstRow, nextPage, previousPage, withFilters } from '../../dashboards/client/agentQuery.ts';
import { alertLines, BURST_WINDOW_MS } from '../../dashboards/client/alertBursts.ts';
import { agentRows, applyEvent, applySnapshot, emptyState, type Alert, type AgentSnapshot } from '../../dashboards/client/model.ts';
import { pagerText, swarmStateCounts } from '../../dashboards/client/summaryModel.ts';
import { toSwarmEvent, type SwarmEvent } from '../../dashboards/client/swarmEvents.ts';
import { treeView } from '../../dashboards/client/treeGrid.ts';
import { MAX_OPEN, shownTree, slicesToFetch, SMALL_TREE_NODES, toggle, topLevels } from '../../dashboards/client/treeModel.ts';
import { alertFeed } from '../../dashboards/client/views.ts';
import { indexRoster } from '../../src/api/rosterIndex.ts';
import { swarmSummary } from '../../src/api/swarmSummary.ts';
import { buildHierarchy } from '../../src/routing/hierarchy.ts';
import { hierarchySlice } from '../../src/routing/hierarchySlice.ts';
import type { NodeView } from '../../src/routing/loads.ts';

const alert = (at: number, host: string, kind: string, extra: Partial<Alert> = {}): Alert => ({ at, host, kind, severity: 'warning', text: `host ${host}: ${kind}`, ...extra });
const newestFirst = (xs: Alert[]) => [...xs].sort((a, b) => b.at - a.at);

describe('alertLines', () => {
  it('folds one kind of alert from ten hosts within seconds into one line', () => {
    const burst = Array.from({ length: 10 }, (_, i) => alert(1000 + i * 300, `h${i + 1}`, 'predicted-degradation', { agent: `h${i + 1}-a1` }));
    const lines = alertLines(newestFirst(burst));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ kind: 'predicted-degradation', count: 10, at: 1000 + 9 * 300, text: 'predicted-degradation on 10 hosts (10 agents)' });
    expect(lines[0]!.hosts).toHaveLength(10);
  });

  it('keeps single alerts, other kinds and alerts outside the window as their own lines', () => {
    const xs = newestFirst([
      alert(0, 'h1', 'heartbeat: degraded'),
      alert(100, 'h2', 'heartbeat: degraded', { severity: 'critical' }),
      alert(200, 'h3', 'connection-closed: failed'),
      alert(200 + BURST_WINDOW_MS + 1, 'h4', 'heartbeat: degraded'),
    ]);
    expect(alertLines(xs).map((l) => l.text)).toEqual(['host h4: heartbeat: degraded', 'host h3: connection-closed: failed', 'heartbeat: degraded on 2 hosts']);
    expect(alertLines(xs)[2]!.severity).toBe('critical');
    // Three of a kind from one host (a flapping breaker) is one line too; two are two.
    expect(alertLines(newestFirst([alert(1, 'h1', 'isolated', { agent: 'a1' }), alert(2, 'h1', 'isolated', { agent: 'a2' }), alert(3, 'h1', 'isolated', { agent: 'a3' })])).map((l) => l.text)).toEqual([
      'isolated on host h1 (3 agents)',
    ]);
    expect(alertLines(newestFirst([alert(1, 'h1', 'isolated'), alert(2, 'h1', 'isolated')]))).toHaveLength(2);
  });

  it('the feed shows the burst as one line, from the events the stream sends', () => {
    let s = emptyState();
    for (let i = 0; i < 10; i++) {
      const e = toSwarmEvent({ id: `${5000 + i}-0`, type: 'health:alert', at: 5000 + i, data: { at: 5000 + i, host: `h${i}`, agent: `h${i}-a3`, severity: 'warning', reason: 'predicted-degradation', trend: { metric: 'duration', baseline: 10, recent: 40 } } });
      s = applyEvent(s, e as SwarmEvent);
    }
    const html = alertFeed(s);
    expect(html.match(/<li/g)).toHaveLength(1);
    expect(html).toContain('predicted-degradation on 10 hosts');
  });

  it("the coordinator's own summary of a burst is one line naming its hosts, and sets no host's state", () => {
    const data = { at: 7000, host: '*', hosts: ['h1', 'h2', 'h3'], count: 3, agents: 30, from: 'healthy', to: 'healthy', severity: 'warning', reason: 'predicted-degradation', heartbeatAgeMs: null };
    const s = applyEvent(emptyState(), toSwarmEvent({ id: '7000-0', type: 'health:alert', at: 7000, data }) as SwarmEvent);
    expect(s.hosts).toEqual({});
    const lines = alertLines(s.alerts);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ hosts: ['h1', 'h2', 'h3'], count: 3, text: 'predicted-degradation on 3 hosts' });
  });
});

const view = (seq: number, waiting = 0): NodeView => ({ id: `n${seq}`, waiting, active: 0, agents: [{ id: `a${seq}`, type: 'w', capabilities: [], taskTypes: [], capacity: 1, live: true }] });

describe('the hierarchy on demand', () => {
  const big = buildHierarchy(Array.from({ length: 1001 }, (_, i) => view(i + 1, i === 500 ? 9 : 0)), { fanout: 10, depth: 3 });
  const top = hierarchySlice(big, 'root', topLevels(1001, 3))!;

  it('a big swarm starts as its groups, closed; a small one whole', () => {
    expect(topLevels(SMALL_TREE_NODES, 3)).toBe(2);
    expect(topLevels(1001, 3)).toBe(1);
    const shown = shownTree(top, new Map(), new Set());
    expect(shown.root.children).toHaveLength(101);
    expect(shown.root.children.every((g) => g.closed && g.children.length === 0)).toBe(true);
    // A hundred groups are tiles wrapped to the page, not a picture 12,000 px wide.
    const html = treeView(shown);
    expect(html).not.toContain('<svg');
    expect(html.match(/data-kind="node"/g)).toBeNull();
    expect(html.match(/data-kind="group"/g)).toHaveLength(101);
    // The overloaded node inside g51 shows on the closed group.
    expect(html).toMatch(/data-id="g51"[^>]*data-open="false"[^>]*data-load="0.90"/);
    expect(html).toMatch(/<b>\+ g51<\/b>.*?1 hot/);
    expect(shown.root.children[50]!.overloaded).toBe(1);
  });

  it('opens a group once its slice arrives, and closes it again', () => {
    let toggled = toggle([], 'g51');
    expect(slicesToFetch(top, new Set(toggled))).toEqual(['g51']);
    expect(shownTree(top, new Map(), new Set(toggled)).root.children[50]!.closed).toBe(true);
    const slices = new Map([['g51', hierarchySlice(big, 'g51', 1)!]]);
    const g = shownTree(top, slices, new Set(toggled)).root.children[50]!;
    expect(g.closed).toBe(false);
    expect(g.children.map((n) => n.id)).toEqual(Array.from({ length: 10 }, (_, i) => `n${501 + i}`));
    // Drawn below the tiles as its own picture.
    const html = treeView(shownTree(top, slices, new Set(toggled)));
    expect(html).toMatch(/<div class="opened" data-opened="g51"><svg/);
    expect(html.match(/data-kind="node"/g)).toHaveLength(10);
    toggled = toggle(toggled, 'g51');
    expect(shownTree(top, slices, new Set(toggled)).root.children[50]!.closed).toBe(true);
    // Only so many open at once: the oldest closes.
    let many: string[] = [];
    for (let i = 1; i <= MAX_OPEN + 2; i++) many = toggle(many, `g${i}`);
    expect(many).toHaveLength(MAX_OPEN);
    expect(many[0]).toBe('g3');
  });

  it('a small tree comes open, and a click closes a group without asking the server', () => {
    const small = buildHierarchy(Array.from({ length: 12 }, (_, i) => view(i + 1)), { fanout: 10, depth: 3 });
    const whole = hierarchySlice(small, 'root', topLevels(12, 3))!;
    expect(shownTree(whole, new Map(), new Set()).root.children.map((g) => [g.id, g.children.length])).toEqual([
      ['g1', 10],
      ['g2', 2],
    ]);
    expect(slicesToFetch(whole, new Set(['g2']))).toEqual([]);
    expect(shownTree(whole, new Map(), new Set(['g2'])).root.children[1]).toMatchObject({ closed: true, children: [] });
    // A narrow tree stays one picture.
    expect(treeView(shownTree(whole, new Map(), new Set()))).toMatch(/^<svg/);
  });
});

describe('the agent table', () => {
  it('asks the server for one page with the filters set, and pages back exactly', () => {
    expect(agentsSearch(firstQuery)).toBe('?limit=50');
    let q = withFilters(firstQuery, { q: ' a1 ', host: 'h2' });
    expect(agentsSearch(q)).toBe('?q=a1&host=h2&limit=50');
    q = nextPage(q, 'h2-a19');
    q = nextPage(q, 'h2-a107');
    expect(agentsSearch(q)).toBe('?q=a1&host=h2&limit=50&cursor=h2-a107');
    expect(firstRow(q)).toBe(101);
    expect(nextPage(q, null)).toBe(q);
    expect(agentsSearch(previousPage(q))).toBe('?q=a1&host=h2&limit=50&cursor=h2-a19');
    expect(withFilters(q, { state: 'failed' }).cursors).toEqual([]);
    expect(pagerText({ first: 1, shown: 50, matched: 10_000, total: 10_000 })).toBe('1–50 of 10,000');
    expect(pagerText({ first: 51, shown: 12, matched: 62, total: 10_000 })).toBe('51–62 of 62 matching (10,000 agents)');
    expect(pagerText({ first: 1, shown: 0, matched: 0, total: 10_000 })).toBe('none of 10,000 match');
  });

  it('rows that leave a page are departed only when the same page is read again', () => {
    const a = (id: string): AgentSnapshot => ({ id, type: 'w', node: 'n1', hostId: 'h1', capacity: 1, live: true });
    let s = applySnapshot(emptyState(), { agents: [a('a1'), a('a2')], agentsKey: '?limit=50', hosts: [], recoveries: [] }, 1);
    s = applySnapshot(s, { agents: [a('a1')], agentsKey: '?limit=50', hosts: [], recoveries: [] }, 2);
    expect(agentRows(s).map((r) => [r.id, r.departed])).toEqual([
      ['a1', false],
      ['a2', true],
    ]);
    s = applySnapshot(s, { agents: [a('a3')], agentsKey: '?limit=50&cursor=a2', hosts: [], recoveries: [] }, 3);
    expect(agentRows(s).map((r) => r.id)).toEqual(['a3']);
  });

  it('counts agents per health state from the summary, with what the stream said since', () => {
    const agents = [...Array.from({ length: 30 }, (_, i) => ({ id: `h1-a${i}`, hostId: 'h1' })), ...Array.from({ length: 20 }, (_, i) => ({ id: `h2-a${i}`, hostId: 'h2' }))].map((x) => ({
      ...x,
      type: 'w',
      capabilities: [],
      taskTypes: [],
      capacity: 1,
      node: 'n1',
      startedAt: 0,
    }));
    const summary = swarmSummary(indexRoster('1', agents), { now: 10, failedAfterMs: 5, hostBeats: new Map([['h1', 9], ['h2', 9]]), health: new Map([['h1', 'healthy']]) }, []);
    expect(swarmStateCounts(summary, {})).toMatchObject({ healthy: 30, unknown: 20 });
    expect(swarmStateCounts(summary, { h1: { state: 'failed', at: 11 } })).toMatchObject({ failed: 30, unknown: 20, healthy: 0 });
  });
});
