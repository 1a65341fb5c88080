// The pure parts of the read routes: paging and filtering agents and nodes,
// the summary's counts, slices of the hierarchy, and the load bands.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadBand as pageLoadBand } from '../../dashboards/client/treeSvg.ts';
import { agentPage, type AgentFilters, type Liveness } from '../../src/api/agentPage.ts';
import { nodePage, nodeStatuses } from '../../src/api/nodePage.ts';
import { indexRoster } from '../../src/api/rosterIndex.ts';
import { idOrder } from '../../src/swarm/idOrder.ts';
import { swarmSummary } from '../../src/api/swarmSummary.ts';
import { buildHierarchy } from '../../src/routing/hierarchy.ts';
import { hierarchySlice } from '../../src/routing/hierarchySlice.ts';
import { loadBand } from '../../src/routing/loadBand.ts';
import type { NodeView } from '../../src/routing/loads.ts';
import type { AgentRecord, NodeRecord } from '../../src/swarm/records.ts';

const agent = (id: string, hostId: string, node: string, type = 'worker'): AgentRecord => ({ id, type, capabilities: [], taskTypes: ['echo'], capacity: 1, node, hostId, startedAt: 0 });
const NOW = 100_000;
const liveness = (beats: Record<string, number>, health: Record<string, 'healthy' | 'failed'> = {}): Liveness => ({
  now: NOW,
  failedAfterMs: 5000,
  hostBeats: new Map(Object.entries(beats)),
  health: new Map(Object.entries(health)),
});

/** 25 agents on h1 (live), 15 on h2 (down), 4 per node, every fifth a gpu. */
function roster(): AgentRecord[] {
  const out: AgentRecord[] = [];
  for (let i = 1; i <= 40; i++) {
    const host = i <= 25 ? 'h1' : 'h2';
    out.push(agent(`${host}-a${i}`, host, `n${Math.ceil(i / 4)}`, i % 5 === 0 ? 'gpu' : 'worker'));
  }
  return out.reverse();
}
const L = liveness({ h1: NOW - 100, h2: NOW - 60_000 }, { h1: 'healthy', h2: 'failed' });

function walk(filters: Omit<AgentFilters, 'cursor'>, l = L): string[] {
  const index = indexRoster('v1', roster());
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 100; guard++) {
    const p = agentPage(index, { ...filters, cursor }, l);
    ids.push(...p.agents.map((a) => a.id));
    if (p.nextCursor === null) return ids;
    cursor = p.nextCursor;
  }
  throw new Error('no end');
}

describe('agentPage', () => {
  it('walks every agent once, in numeric-aware id order, whatever the page size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 45 }), (limit) => {
        const ids = walk({ limit });
        expect(ids).toHaveLength(40);
        expect(ids.slice(0, 3)).toEqual(['h1-a1', 'h1-a2', 'h1-a3']);
        expect(ids).toEqual([...ids].sort(idOrder));
      }),
    );
  });

  it('filters by host, node, type, liveness, health and id, and counts matched against total', () => {
    const index = indexRoster('v1', roster());
    const page = (f: Partial<AgentFilters>) => agentPage(index, { limit: 100, ...f }, L);
    expect(page({ host: 'h2' })).toMatchObject({ total: 40, matched: 15, nextCursor: null });
    expect(page({ node: 'n1' }).agents.map((a) => a.id)).toEqual(['h1-a1', 'h1-a2', 'h1-a3', 'h1-a4']);
    expect(page({ type: 'gpu' }).matched).toBe(8);
    expect(page({ state: 'live' }).matched).toBe(25);
    expect(page({ state: 'down' }).agents.every((a) => a.hostId === 'h2' && !a.live && a.lastHeartbeat === NOW - 60_000)).toBe(true);
    expect(page({ state: 'failed' }).matched).toBe(15);
    expect(page({ state: 'unknown' }).matched).toBe(0);
    expect(page({ q: 'A3' }).agents.map((a) => a.id)).toEqual(['h1-a3', 'h2-a30', 'h2-a31', 'h2-a32', 'h2-a33', 'h2-a34', 'h2-a35', 'h2-a36', 'h2-a37', 'h2-a38', 'h2-a39']);
    expect(page({ host: 'h1', type: 'gpu', limit: 2 })).toMatchObject({ matched: 5, nextCursor: 'h1-a10' });
    expect(walk({ host: 'h1', type: 'gpu', limit: 2 })).toEqual(['h1-a5', 'h1-a10', 'h1-a15', 'h1-a20', 'h1-a25']);
  });

  it("gives an HTTP agent the worse of its host's state and its silent endpoint's, in the state filter and in its row", () => {
    // On h1: agents 1-10 run echo and write (the endpoint serves write), 11-25 echo only.
    const agents = roster().map((a) => (a.hostId === 'h1' && Number(a.id.split('-a')[1]) <= 10 ? { ...a, taskTypes: ['echo', 'write'] } : a));
    const index = indexRoster('v1', agents);
    const url = 'http://10.0.0.7:9000/run';
    const withEndpoint = (state: 'healthy' | 'degraded' | 'failed'): Liveness => ({ ...L, endpoints: new Map([['h1', [{ url, types: ['write'], state }]]]) });
    const page = (f: Partial<AgentFilters>, l: Liveness) => agentPage(index, { limit: 100, ...f }, l);
    expect(page({ state: 'failed' }, withEndpoint('failed')).matched).toBe(15 + 10);
    expect(page({ state: 'healthy' }, withEndpoint('failed')).agents.map((a) => a.id)).toEqual(Array.from({ length: 15 }, (_, i) => `h1-a${i + 11}`));
    expect(page({ state: 'degraded' }, withEndpoint('degraded')).matched).toBe(10);
    // The host's failed state is worse than a degraded endpoint: h2's agents stay failed.
    expect(page({ state: 'failed' }, { ...L, endpoints: new Map([['h2', [{ url, types: ['echo'], state: 'degraded' }]]]) }).matched).toBe(15);
    const rows = page({ host: 'h1', limit: 100 }, withEndpoint('failed')).agents;
    expect(rows.find((a) => a.id === 'h1-a3')!.endpoints).toEqual([{ url, state: 'failed' }]);
    expect(rows.find((a) => a.id === 'h1-a13')).not.toHaveProperty('endpoints');
    // Silent for less than degradedAfterMs: named on the row, the agent still healthy.
    expect(page({ state: 'healthy', host: 'h1' }, withEndpoint('healthy')).agents.find((a) => a.id === 'h1-a3')!.endpoints).toEqual([{ url, state: 'healthy' }]);
    // The summary counts agents the same way; the host's own health stays its heartbeat's.
    const summary = swarmSummary(index, withEndpoint('failed'), []);
    expect(summary.agents.byHealth).toEqual({ healthy: 15, degraded: 0, critical: 0, failed: 25, unknown: 0 });
    expect(summary.byHost.find((h) => h.id === 'h1')!.health).toBe('healthy');
  });

  it('resumes after a cursor whose agent has gone, and orders ids the collator calls equal', () => {
    const index = indexRoster('v', [agent('a1', 'h', 'n1'), agent('a01', 'h', 'n1'), agent('a2', 'h', 'n1'), agent('a10', 'h', 'n1')]);
    expect(index.agents.map((a) => a.id)).toEqual(['a01', 'a1', 'a2', 'a10']);
    expect(agentPage(index, { limit: 1, cursor: 'a01' }, L).agents[0]!.id).toBe('a1');
    expect(agentPage(index, { limit: 5, cursor: 'a3' }, L).agents.map((a) => a.id)).toEqual(['a10']);
  });
});

const view = (id: string, live: number, dead: number, waiting: number, active = 0): NodeView => ({
  id,
  waiting,
  active,
  agents: [...Array.from({ length: live }, (_, i) => ({ id: `${id}-l${i}`, type: 'w', capabilities: [], taskTypes: [], capacity: 1, live: true })), ...Array.from({ length: dead }, (_, i) => ({ id: `${id}-d${i}`, type: 'w', capabilities: [], taskTypes: [], capacity: 1, live: false }))],
});

describe('swarmSummary and nodePage', () => {
  it('counts agents by liveness, health, host and type, and nodes by load band', () => {
    const nodes = [view('n1', 4, 0, 0), view('n2', 4, 0, 3, 1), view('n3', 2, 0, 5), view('n4', 1, 0, 9), view('n5', 0, 4, 2)];
    const s = swarmSummary(indexRoster('v7', roster()), { ...L, hostBeats: new Map([...L.hostBeats, ['h3', NOW]]) }, nodes);
    expect(s.rosterVersion).toBe('v7');
    expect(s.agents).toEqual({ total: 40, live: 25, down: 15, byHealth: { healthy: 25, degraded: 0, critical: 0, failed: 15, unknown: 0 } });
    expect(s.hosts).toEqual({ total: 3, live: 2, down: 1 });
    expect(s.byHost.map((h) => [h.id, h.agents, h.live, h.health])).toEqual([
      ['h1', 25, true, 'healthy'],
      ['h2', 15, false, 'failed'],
      ['h3', 0, true, 'unknown'],
    ]);
    expect(s.byType).toEqual([
      { type: 'gpu', agents: 8, live: 5 },
      { type: 'worker', agents: 32, live: 20 },
    ]);
    expect(s.nodes).toEqual({ total: 5, byLoad: { idle: 1, ok: 1, busy: 0, overloaded: 2, 'no-capacity': 1 } });
    expect(s.totals).toEqual({ capacity: 11, waiting: 19, active: 1 });
  });

  it('pages nodes in id order, filtered by load band', () => {
    const records = new Map<string, NodeRecord>();
    const views = Array.from({ length: 12 }, (_, i) => view(`n${i + 1}`, 2, 0, i % 3 === 0 ? 10 : 0));
    for (const v of views) records.set(v.id, { id: v.id, seq: Number(v.id.slice(1)), queue: `node-{g1}-${v.id}`, profile: 'p', members: 2, createdAt: 1 });
    const sorted = nodeStatuses([...views].reverse(), records);
    expect(sorted.map((n) => n.id).slice(0, 3)).toEqual(['n1', 'n2', 'n3']);
    const first = nodePage(sorted, { limit: 5 });
    expect(first).toMatchObject({ total: 12, matched: 12, nextCursor: 'n5' });
    expect(nodePage(sorted, { limit: 5, cursor: 'n10' }).nodes.map((n) => n.id)).toEqual(['n11', 'n12']);
    const hot = nodePage(sorted, { limit: 100, load: 'overloaded' });
    expect(hot.nodes.map((n) => n.id)).toEqual(['n1', 'n4', 'n7', 'n10']);
    expect(hot.nodes[0]).toMatchObject({ capacity: 2, load: 5, band: 'overloaded', queue: 'node-{g1}-n1' });
  });
});

describe('hierarchySlice', () => {
  const nodes = Array.from({ length: 23 }, (_, i) => view(`n${i + 1}`, 3, 1, i === 21 ? 20 : 0));
  const tree = buildHierarchy(nodes, { fanout: 5, depth: 3 });

  it('serves the top level as summaries of what each closed group holds', () => {
    const s = hierarchySlice(tree, 'root', 1)!;
    expect(s).toMatchObject({ fanout: 5, depth: 3, nodes: 23, path: ['root'] });
    expect(s.root).toMatchObject({ kind: 'root', nodeCount: 23, agents: 92, liveAgents: 69, childCount: 5 });
    expect(s.root.children!.map((g) => [g.id, g.nodeCount, g.childCount, g.children])).toEqual([
      ['g1', 5, 5, null],
      ['g2', 5, 5, null],
      ['g3', 5, 5, null],
      ['g4', 5, 5, null],
      ['g5', 3, 3, null],
    ]);
    // n22 is overloaded: its closed group says so.
    expect(s.root.children![4]!.bands).toEqual({ idle: 2, ok: 0, busy: 0, overloaded: 1, 'no-capacity': 0 });
    expect(s.root.bands.idle).toBe(22);
  });

  it('opens one group, to its nodes, and says where it sits', () => {
    const g = hierarchySlice(tree, 'g5', 1)!;
    expect(g.path).toEqual(['root', 'g5']);
    expect(g.root.children!.map((n) => [n.id, n.kind, n.seq, n.agents, n.liveAgents, n.children])).toEqual([
      ['n21', 'node', 21, 4, 3, []],
      ['n22', 'node', 22, 4, 3, []],
      ['n23', 'node', 23, 4, 3, []],
    ]);
    expect(hierarchySlice(tree, 'root', 0)!.root.children).toBeNull();
    expect(hierarchySlice(tree, 'root', 5)!.root.children![0]!.children).toHaveLength(5);
    expect(hierarchySlice(tree, 'n7', 3)!.path).toEqual(['root', 'g2', 'n7']);
    expect(hierarchySlice(tree, 'g9', 1)).toBeUndefined();
  });
});

describe('load bands', () => {
  it('the dashboard colours nodes by the same bands the API counts', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 10, noNaN: true }), fc.integer({ min: -1, max: 20 }), (load, capacity) => {
        expect(pageLoadBand(load, capacity)).toBe(loadBand(load, capacity));
      }),
    );
  });
});
