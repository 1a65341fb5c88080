// POST /api/agents and DELETE /api/agents/:id, carried out by a running host
// through its control queue; bad requests spawn nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisForFile } from '../support/redis.ts';
import { testConfig, until } from '../support/swarm.ts';
import { startStack, type Stack } from '../support/stack.ts';

const redis = redisForFile();
let stack: Stack;
let empty: Stack;

beforeAll(async () => {
  stack = await startStack(testConfig(redis, { agents: { maxSpawn: 500 } }), { agents: [{ type: 'worker', count: 1 }], hostId: 'ctl' });
  empty = await startStack(testConfig(redis)); // a swarm with no host at all
});

afterAll(async () => {
  await stack?.stop();
  await empty?.stop();
});

const agentsOf = async (s: Stack) => (await s.request('GET', '/api/agents?limit=1000')).body.agents as { id: string; type: string; capacity: number; hostId: string }[];

describe('agents over HTTP', () => {
  it('POST /api/agents spawns a batch on a live host → 201', async () => {
    const r = await stack.request('POST', '/api/agents', { count: 25, type: 'writer', capacity: 2, capabilities: ['en'] });
    expect(r.status).toBe(201);
    expect(r.body.hostId).toBe('ctl');
    expect(r.body.agents).toHaveLength(25);
    const writers = (await agentsOf(stack)).filter((a) => a.type === 'writer');
    expect(writers).toHaveLength(25);
    expect(new Set(writers.map((a) => a.capacity))).toEqual(new Set([2]));
    // They work: a task for a writer with "en" reaches one.
    const t = await stack.request('POST', '/api/tasks', { type: 'echo', payload: 'hi', affinity: { agentType: 'writer', capabilities: ['en'] } });
    const done = await until(async () => {
      const g = await stack.request('GET', `/api/tasks/${t.body.id}`);
      return g.body.state === 'completed' ? g.body : undefined;
    });
    expect(writers.map((w) => w.id)).toContain(done.agentId);
  });

  it('mode "waves" spawns wave by wave', async () => {
    const r = await stack.request('POST', '/api/agents', { count: 30, type: 'waver', mode: 'waves', waveSize: 7 });
    expect(r.status).toBe(201);
    expect(r.body.agents).toHaveLength(30);
    expect(stack.host!.agents().filter((a) => a.type === 'waver')).toHaveLength(30);
  });

  it('DELETE /api/agents/:id retires it → 200; unknown → 404', async () => {
    const victim = (await agentsOf(stack)).find((a) => a.type === 'writer')!;
    const r = await stack.request('DELETE', `/api/agents/${victim.id}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ id: victim.id, hostId: 'ctl', returned: 0 });
    expect((await agentsOf(stack)).map((a) => a.id)).not.toContain(victim.id);
    expect((await stack.request('DELETE', '/api/agents/nobody')).status).toBe(404);
  });

  const bad: [string, unknown, string][] = [
    ['count 0', { count: 0, type: 'w' }, 'count'],
    ['count over the maximum', { count: 501, type: 'w' }, 'count'],
    ['capacity 0', { count: 1, type: 'w', capacity: 0 }, 'capacity'],
    ['a type with a bad character', { count: 1, type: 'a b' }, 'type'],
    ['no type', { count: 1 }, 'type'],
    ['unknown mode', { count: 1, type: 'w', mode: 'all' }, 'mode'],
    ['unknown field', { count: 1, type: 'w', colour: 'red' }, '(root)'],
  ];
  for (const [name, body, path] of bad) {
    it(`${name} → 400 naming "${path}", nothing spawned`, async () => {
      const before = (await agentsOf(stack)).length;
      const r = await stack.request('POST', '/api/agents', body);
      expect(r.status).toBe(400);
      expect(r.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
      expect((await agentsOf(stack)).length).toBe(before);
    });
  }

  it('GET /api/hierarchy: root → groups → nodes, with live capacity and loads summed up the tree', async () => {
    const h = (await stack.request('GET', '/api/hierarchy')).body;
    const nodes = (await stack.request('GET', '/api/nodes')).body.nodes as { id: string; capacity: number }[];
    expect(h.depth).toBe(3);
    expect(h.nodes).toBe(nodes.length);
    expect(h.root.kind).toBe('root');
    const leaves: { id: string; capacity: number }[] = [];
    const walk = (n: { kind: string; children: unknown[]; id: string; capacity: number }) => {
      if (n.kind === 'node') leaves.push(n);
      else for (const c of n.children as (typeof n)[]) walk(c);
    };
    walk(h.root);
    expect(leaves.map((l) => l.id).sort()).toEqual(nodes.map((n) => n.id).sort());
    expect(h.root.capacity).toBe(nodes.reduce((s, n) => s + n.capacity, 0));
    for (const g of h.root.children) expect(g.kind).toBe('group');
  });

  it('with no host running → 503 saying to start one', async () => {
    const r = await empty.request('POST', '/api/agents', { count: 1, type: 'w' });
    expect(r.status).toBe(503);
    expect(r.body.error.message).toMatch(/swarmq agents/);
    const named = await stack.request('POST', '/api/agents', { count: 1, type: 'w', hostId: 'ghost' });
    expect(named.status).toBe(503);
  });
});
