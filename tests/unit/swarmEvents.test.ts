// The event contract: stream entries parse into typed events (or say why not),
// every shape the publishers send passes its schema, and the pure summaries
// behind metrics:updated and /metrics agree with the roster they read.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { agentsByHealth, nodeLoads, totals } from '../../src/metrics/swarmFigures.ts';
import type { SwarmState } from '../../src/metrics/swarmState.ts';
import { rosterChanges, summarize, workingAgents } from '../../src/metrics/summaryEvents.ts';
import { swarmEventSchemas } from '../../src/swarm/eventSchemas.ts';
import { parseEventEntry, streamIdTime } from '../../src/swarm/events.ts';
import type { AgentRecord } from '../../src/swarm/records.ts';

const entry = (id: string, type: string, data: unknown): [string, string[]] => [id, ['type', type, 'data', typeof data === 'string' ? data : JSON.stringify(data)]];

describe('parseEventEntry', () => {
  it('gives a typed event with its time from the stream id, dropping fields the schema does not know', () => {
    const p = parseEventEntry(entry('1733100000123-4', 'load:rebalanced', { at: 1, token: 2, moves: [{ from: 'n1', to: 'n2', count: 3, moved: 3, reason: 'steal' }], extra: true }));
    expect(p).toEqual({ ok: true, event: { id: '1733100000123-4', type: 'load:rebalanced', at: 1733100000123, data: { at: 1, token: 2, moves: [{ from: 'n1', to: 'n2', count: 3, moved: 3, reason: 'steal' }] } } });
    expect(streamIdTime('17-0')).toBe(17);
  });

  it('says why an entry is not an event: unknown type, bad JSON, a shape its schema refuses', () => {
    expect(parseEventEntry(entry('1-0', 'nope', {}))).toMatchObject({ ok: false, reason: expect.stringMatching(/unknown event type/) });
    expect(parseEventEntry(['1-0', ['data', '{}']])).toMatchObject({ ok: false });
    expect(parseEventEntry(entry('1-0', 'health:alert', '{not json'))).toMatchObject({ ok: false, reason: 'data is not JSON' });
    expect(parseEventEntry(entry('1-0', 'health:alert', { at: 1, host: 'h', severity: 'loud', reason: 'x' }))).toMatchObject({ ok: false, reason: expect.stringMatching(/severity/) });
    expect(parseEventEntry(entry('1-0', '__proto__', {}))).toMatchObject({ ok: false });
  });

  it('accepts what each publisher sends', () => {
    const ok = (type: keyof typeof swarmEventSchemas, data: unknown) => expect(swarmEventSchemas[type].safeParse(data).error).toBeUndefined();
    // the health monitor: a state change, an escalation, a trend
    ok('health:alert', { at: 1, host: 'h1', agents: 10, from: 'healthy', to: 'failed', severity: 'critical', reason: 'connection-closed', heartbeatAgeMs: null });
    ok('health:alert', { at: 1, host: 'h1', agents: 10, from: 'failed', to: 'failed', severity: 'critical', reason: 'heartbeat-timeout', heartbeatAgeMs: null, escalated: { replaced: 0 } });
    ok('health:alert', { at: 1, host: 'h1', agents: 2, from: 'healthy', to: 'healthy', severity: 'warning', reason: 'predicted-degradation', heartbeatAgeMs: 300, trend: { metric: 'heartbeatDelay', baseline: 5, recent: 90 } });
    // an agent host: the breaker, a slowing agent
    ok('health:alert', { at: 1, host: 'h1', agent: 'h1-a1', node: 'n1', reason: 'isolated', breaker: 'open', severity: 'warning' });
    ok('health:alert', { at: 1, host: 'h1', agent: 'h1-a1', node: 'n1', taskType: 'cpu', reason: 'predicted-degradation', severity: 'warning', trend: { metric: 'duration', baseline: 10, recent: 50 } });
    ok('recovery:step', { id: 'r1', host: 'h1', state: 'running', step: 'requeue', at: 1, detail: { tasks: 3 } });
    ok('consensus:reached', { id: 'p1', protocol: 'pbft', decided: true, value: { any: ['json'] }, votes: 3, participants: 4, rounds: 1, latencyMs: 12.5 });
    ok('task:dead-lettered', { id: 'n1.x', type: 'fail', node: 'n1', payload: null, error: 'boom', attempts: 3, failedAt: 1, agentId: null });
    ok('agent:joined', { at: 1, agents: [{ id: 'a', type: 't', node: 'n1', host: 'h' }] });
  });
});

const agent = (id: string, host: string, node: string, capacity: number, pooled = false): AgentRecord => ({
  id,
  type: 'w',
  capabilities: [],
  taskTypes: [],
  capacity,
  node,
  hostId: host,
  startedAt: 0,
  ...(pooled ? { pooled } : {}),
});

const thresholds = { degradedAfterMs: 2000, criticalAfterMs: 5000, failedAfterMs: 10_000 };

const stateArb = fc
  .record({
    hosts: fc.array(fc.record({ age: fc.option(fc.integer({ min: 0, max: 20_000 }), { nil: undefined }), failed: fc.boolean() }), { minLength: 1, maxLength: 5 }),
    agents: fc.array(fc.record({ host: fc.nat(4), node: fc.integer({ min: 1, max: 3 }), capacity: fc.integer({ min: 1, max: 4 }), pooled: fc.boolean() }), { maxLength: 30 }),
    counts: fc.array(fc.record({ waiting: fc.nat(50), active: fc.nat(10), delayed: fc.nat(5), completed: fc.nat(100), failed: fc.nat(10) }), { minLength: 3, maxLength: 3 }),
  })
  .map(({ hosts, agents, counts }): SwarmState => {
    const now = 1_000_000;
    const hostId = (i: number) => `h${i % hosts.length}`;
    return {
      now,
      roster: {
        agents: new Map(agents.map((a, i) => [`a${i}`, agent(`a${i}`, hostId(a.host), `n${a.node}`, a.capacity, a.pooled)])),
        nodes: new Map(),
      },
      hostBeats: new Map(hosts.flatMap((h, i) => (h.age === undefined ? [] : [[`h${i}`, now - h.age] as [string, number]]))),
      failedHosts: new Set(hosts.flatMap((h, i) => (h.failed ? [`h${i}`] : []))),
      nodes: counts.map((c, i) => ({ id: `n${i + 1}`, queue: `node-{g1}-n${i + 1}`, counts: c })),
      parked: 0,
      deadLetters: 0,
    };
  });

describe('swarm summaries', () => {
  it('count every working agent once by health, never a pooled one, and give failed hosts no capacity', () => {
    fc.assert(
      fc.property(stateArb, (s) => {
        const working = [...s.roster.agents.values()].filter((a) => !a.pooled);
        const byHealth = agentsByHealth(s, thresholds);
        expect(Object.values(byHealth).reduce((x, y) => x + y, 0)).toBe(working.length);
        if (working.some((w) => s.failedHosts.has(w.hostId) || !s.hostBeats.has(w.hostId))) expect(byHealth.failed).toBeGreaterThan(0);
        const loads = nodeLoads(s, thresholds);
        expect(loads.reduce((x, n) => x + n.agents, 0)).toBe(working.filter((a) => s.nodes.some((n) => n.id === a.node)).length);
        for (const n of loads) {
          const alive = working.filter((a) => a.node === n.id && !s.failedHosts.has(a.hostId) && s.hostBeats.has(a.hostId) && s.now - s.hostBeats.get(a.hostId)! < thresholds.failedAfterMs);
          expect(n.capacity).toBe(alive.reduce((x, a) => x + a.capacity, 0));
          expect(n.load).toBe(n.capacity ? (n.waiting + n.active) / n.capacity : n.waiting + n.active);
        }
        const sum = totals(s);
        expect(sum.waiting).toBe(s.nodes.reduce((x, n) => x + n.counts.waiting, 0));
        const event = summarize(s, thresholds, { completed: 10.004, failed: 0.5 });
        expect(swarmEventSchemas['metrics:updated'].safeParse(event).success).toBe(true);
        expect(event.tasksPerSecond).toBe(10.5);
      }),
      { numRuns: 200 },
    );
  });

  it('sees agents join and leave between two rosters', () => {
    const before = workingAgents(new Map([['a', agent('a', 'h', 'n1', 1)], ['b', agent('b', 'h', 'n1', 1)], ['p', agent('p', 'h', 'n1', 1, true)]]));
    const after = workingAgents(new Map([['b', agent('b', 'h', 'n1', 1)], ['c', agent('c', 'h2', 'n2', 1)], ['p', agent('p', 'h', 'n1', 1)]]));
    const { joined, left } = rosterChanges(before, after);
    expect(joined.map((a) => a.id).sort()).toEqual(['c', 'p']); // a pooled agent put to work joins
    expect(left.map((a) => a.id)).toEqual(['a']);
  });
});
