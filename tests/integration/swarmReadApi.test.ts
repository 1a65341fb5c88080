// The swarm's read routes at a few hundred agents on two hosts: GET /api/agents
// pages through every agent exactly once in id order and filters by host, node,
// type, state and id; /api/nodes pages the same way; /api/summary and
// /api/hosts count without listing; /api/hierarchy?depth&under slices the tree;
// a bad query is a 400 naming the parameter; and while the roster stands still
// the API reads no agent record from Redis (the roster is cached by version).
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { swarmKeys } from '../../queues/keys.ts';
import { AgentHost } from '../../src/agents/host.ts';
import { createApp } from '../../src/api/app.ts';
import { idOrder } from '../../src/swarm/idOrder.ts';
import { loadsReaderSource } from '../../src/api/swarmSource.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { redisForFile } from '../support/redis.ts';
import { monitorCommands } from '../support/monitor.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

const redis = redisForFile();
let stack: Stack;
let h2: AgentHost;
const TOTAL = 300;

beforeAll(async () => {
  stack = await startStack(testConfig(redis), { hostId: 'h1', agents: [{ type: 'worker', count: 150 }, { type: 'gpu', count: 30 }] });
  h2 = new AgentHost({ config: stack.config, hostId: 'h2', agents: [{ type: 'worker', count: 120 }], processors: builtinProcessors, logger: silentLogger });
  await h2.start();
  await until(async () => (await stack.request('GET', '/api/agents?state=live&limit=1')).body.matched === TOTAL, 15_000, 'all agents live');
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await h2?.stop(1000);
});

interface Agent {
  id: string;
  hostId: string;
  node: string;
  type: string;
  live: boolean;
}
interface AgentPage {
  agents: Agent[];
  total: number;
  matched: number;
  nextCursor: string | null;
}

async function agents(query: string): Promise<AgentPage> {
  const r = await stack.request('GET', `/api/agents${query}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as AgentPage;
}

/** Every page of a query, following nextCursor. */
async function walk(query: Record<string, string>): Promise<{ pages: AgentPage[]; ids: string[] }> {
  const pages: AgentPage[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ ...query, ...(cursor ? { cursor } : {}) });
    const page = await agents(`?${q}`);
    pages.push(page);
    cursor = page.nextCursor;
  } while (cursor !== null && pages.length < 1000);
  return { pages, ids: pages.flatMap((p) => p.agents.map((a) => a.id)) };
}

describe('GET /api/agents', () => {
  it('pages through every agent exactly once, in numeric-aware id order', async () => {
    const { pages, ids } = await walk({ limit: '7' });
    expect(ids).toHaveLength(TOTAL);
    expect(new Set(ids).size).toBe(TOTAL);
    expect(ids).toEqual([...ids].sort(idOrder));
    expect(ids.indexOf('h1-a2')).toBeLessThan(ids.indexOf('h1-a10'));
    expect(pages).toHaveLength(Math.ceil(TOTAL / 7));
    for (const p of pages) expect(p).toMatchObject({ total: TOTAL, matched: TOTAL });
    expect(pages.every((p, i) => p.agents.length === (i < pages.length - 1 ? 7 : TOTAL % 7 || 7))).toBe(true);
    expect(pages.at(-1)!.nextCursor).toBeNull();
  });

  it('serves 100 by default and at most 1,000', async () => {
    const first = await agents('');
    expect(first.agents).toHaveLength(100);
    expect(first.nextCursor).toBe(first.agents[99]!.id);
    expect((await agents('?limit=1000')).agents).toHaveLength(TOTAL);
  });

  it('filters by host, type, node, state and part of the id, counting what matched', async () => {
    const byHost = await walk({ host: 'h2', limit: '50' });
    expect(byHost.ids).toHaveLength(120);
    expect(byHost.pages.every((p) => p.matched === 120 && p.total === TOTAL && p.agents.every((a) => a.hostId === 'h2'))).toBe(true);

    const gpu = await agents('?type=gpu&host=h1');
    expect(gpu.matched).toBe(30);
    expect(gpu.agents.every((a) => a.type === 'gpu' && a.hostId === 'h1')).toBe(true);
    expect((await agents('?type=gpu&host=h2')).matched).toBe(0);

    const some = gpu.agents[0]!.node;
    const inNode = await agents(`?node=${some}`);
    expect(inNode.matched).toBeGreaterThan(0);
    expect(inNode.matched).toBeLessThanOrEqual(stack.config.coordinator.maxAgentsPerNode);
    expect(inNode.agents.every((a) => a.node === some)).toBe(true);

    const search = await agents('?q=H2-A1&limit=1000');
    // h2-a1, h2-a10..a19, h2-a100..a119, h2-a120
    expect(search.matched).toBe(1 + 10 + 20 + 1);
    expect(search.agents.every((a) => a.id.startsWith('h2-a1'))).toBe(true);

    expect((await agents('?q=')).matched).toBe(TOTAL);
    expect((await agents('?state=live')).matched).toBe(TOTAL);
    expect((await agents('?state=down')).matched).toBe(0);
    // Health states come from the leading coordinator's classification of each host.
    await until(async () => (await agents('?state=healthy')).matched === TOTAL, 15_000, 'both hosts classified healthy');
  });

  it('a cursor from a page keeps working after the agent it names has gone', async () => {
    const page = await agents('?host=h2&limit=10');
    const cursor = page.nextCursor!;
    const next = await agents(`?host=h2&limit=10&cursor=${cursor}`);
    // The id need not exist: the next page starts after where it would be.
    const between = await agents(`?host=h2&limit=10&cursor=${cursor}~`);
    expect(between.agents[0]!.id).toBe(next.agents[0]!.id);
  });
});

describe('bad queries are a 400 naming the parameter', () => {
  const cases: [string, string][] = [
    ['/api/agents?limit=0', 'limit'],
    ['/api/agents?limit=1001', 'limit'],
    ['/api/agents?limit=ten', 'limit'],
    ['/api/agents?limit=2.5', 'limit'],
    ['/api/agents?state=sleepy', 'state'],
    ['/api/agents?host=a&host=b', 'host'],
    ['/api/agents?hosts=h1', 'hosts'],
    ['/api/agents?cursor=', 'cursor'],
    [`/api/agents?q=${'x'.repeat(300)}`, 'q'],
    ['/api/nodes?load=heavy', 'load'],
    ['/api/nodes?limit=-3', 'limit'],
    ['/api/hierarchy?depth=-1', 'depth'],
    ['/api/hierarchy?depth=deep', 'depth'],
    ['/api/summary?verbose=1', 'verbose'],
    ['/api/hosts?limit=1', 'limit'],
  ];
  for (const [path, param] of cases) {
    it(`${path.slice(0, 60)} → 400 naming ${param}`, async () => {
      const r = await stack.request('GET', path);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
      expect(r.body.error.message).toContain(param);
      expect(r.body.error.details.map((d: { path: string }) => d.path)).toContain(param);
    });
  }

  it('a group the tree does not have is a 404', async () => {
    const r = await stack.request('GET', '/api/hierarchy?under=g999&depth=1');
    expect(r.status).toBe(404);
    expect(r.body.error.details[0].path).toBe('under');
  });
});

describe('GET /api/nodes, /api/hosts, /api/summary', () => {
  it('pages nodes the same way, with loads', async () => {
    const all: string[] = [];
    let cursor: string | null = null;
    let total = 0;
    do {
      const r: { body: { nodes: { id: string; band: string; capacity: number }[]; total: number; nextCursor: string | null } } = await stack.request('GET', `/api/nodes?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      all.push(...r.body.nodes.map((n) => n.id));
      total = r.body.total;
      cursor = r.body.nextCursor;
    } while (cursor);
    expect(new Set(all).size).toBe(total);
    expect(all).toHaveLength(total);
    expect(total).toBe(Math.ceil(180 / 10) + Math.ceil(120 / 10));
    const idle = (await stack.request('GET', '/api/nodes?load=idle&limit=1000')).body;
    expect(idle.matched).toBe(total);
  });

  it('counts hosts and agents without listing agents', async () => {
    const hosts = (await stack.request('GET', '/api/hosts')).body.hosts;
    expect(hosts.map((h: { id: string; agents: number; live: boolean }) => [h.id, h.agents, h.live])).toEqual([
      ['h1', 180, true],
      ['h2', 120, true],
    ]);
    const s = (await stack.request('GET', '/api/summary')).body;
    expect(s.agents).toMatchObject({ total: TOTAL, live: TOTAL, down: 0 });
    expect(s.agents.byHealth.healthy + s.agents.byHealth.unknown).toBe(TOTAL);
    expect(s.hosts).toEqual({ total: 2, live: 2, down: 0 });
    expect(s.byType).toEqual([
      { type: 'gpu', agents: 30, live: 30 },
      { type: 'worker', agents: 270, live: 270 },
    ]);
    expect(s.nodes.total).toBe(30);
    expect(Object.values(s.nodes.byLoad as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(30);
    expect(s.totals).toEqual({ capacity: TOTAL, waiting: 0, active: 0 });
    expect(JSON.stringify(s).length).toBeLessThan(4000);
  });

  it('counts waiting work in the summary and the node bands', async () => {
    const tasks = Array.from({ length: 40 }, () => ({ type: 'sleep', payload: { ms: 1500 } }));
    expect((await stack.request('POST', '/api/tasks/batch', { tasks })).status).toBe(202);
    const s = await until(async () => {
      const b = (await stack.request('GET', '/api/summary')).body;
      return b.totals.active > 0 ? b : undefined;
    }, 10_000, 'active tasks in the summary');
    expect(s.totals.waiting + s.totals.active).toBeGreaterThan(0);
    expect(s.nodes.byLoad.idle).toBeLessThan(30);
  });

  it('reads no agent record from Redis while the roster stands still, and sees a change at once', async () => {
    // An API of its own on a connection of its own, so what the balancer and the
    // health monitor read on the coordinator's connection is not counted.
    const conn = new Redis(redis.url);
    await conn.ping();
    const addr = `127.0.0.1:${conn.stream.localPort}`;
    const app = createApp({ coordinator: stack.coordinator, bodyLimitBytes: 1_000_000, logger: silentLogger, swarmSource: loadsReaderSource(conn, stack.config.prefix, stack.config.agents.failedAfterMs) });
    const server = await new Promise<Server>((res) => {
      const s = app.listen(0, () => res(s));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const get = async (path: string) => (await (await fetch(base + path)).json()) as Record<string, any>;
    const agentsKey = swarmKeys(stack.config.prefix).agents;
    const reads: string[] = [];
    const monitor = await monitorCommands(redis.url, ({ source, cmd, args: [key] }) => {
      if (source === addr && cmd === 'hgetall' && key === agentsKey) reads.push(key);
    });
    try {
      const version = () => conn.get(swarmKeys(stack.config.prefix).rosterVersion);
      const before = await version();
      expect((await get('/api/agents')).total).toBe(TOTAL);
      await until(async () => reads.length >= 1, 5000, 'the first read seen by MONITOR');
      for (let i = 0; i < 5; i++) {
        expect((await get('/api/summary')).agents.total).toBe(TOTAL);
        expect((await get('/api/agents?host=h2&limit=5')).matched).toBe(120);
        await get('/api/hosts');
        await get('/api/nodes');
        await get('/api/hierarchy?depth=1');
        await new Promise((r) => setTimeout(r, 60));
      }
      await new Promise((r) => setTimeout(r, 100));
      // One read, unless the roster itself moved meanwhile (it should not: nobody joins or leaves here).
      expect({ reads: reads.length, rosterMoved: (await version()) !== before }).toEqual({ reads: 1, rosterMoved: false });
      await h2.spawnAgentBatch([{ type: 'late', count: 3 }]);
      expect((await get('/api/agents?type=late')).matched).toBe(3);
      // Node loads (and the summary made with them) may be reused for LOADS_FRESH_MS.
      await until(async () => (await get('/api/summary')).agents.total === TOTAL + 3, 5000, 'the summary counting the new agents');
      expect(reads.length).toBeGreaterThanOrEqual(2);
    } finally {
      monitor.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      conn.disconnect();
    }
  });
});

describe('GET /api/hierarchy', () => {
  it('serves the top level as summaries and opens a group on demand', async () => {
    const top = (await stack.request('GET', '/api/hierarchy?depth=1')).body;
    expect(top.path).toEqual(['root']);
    expect(top.root.kind).toBe('root');
    const groups = top.root.children as { id: string; kind: string; children: unknown; childCount: number; nodeCount: number; agents: number }[];
    expect(groups.every((g) => g.kind === 'group' && g.children === null && g.childCount > 0)).toBe(true);
    expect(groups.reduce((s, g) => s + g.nodeCount, 0)).toBe(top.nodes);
    expect(top.root.agents).toBe(groups.reduce((s, g) => s + g.agents, 0));
    const g = groups[0]!;
    const opened = (await stack.request('GET', `/api/hierarchy?under=${g.id}`)).body;
    expect(opened.path).toEqual(['root', g.id]);
    expect(opened.root.children).toHaveLength(g.childCount);
    expect(opened.root.children.every((n: { kind: string; children: unknown[] }) => n.kind === 'node' && n.children.length === 0)).toBe(true);
    // Without parameters: the whole tree, as before.
    const whole = (await stack.request('GET', '/api/hierarchy')).body;
    expect(whole.root.nodeIds).toHaveLength(top.nodes);
  });
});
