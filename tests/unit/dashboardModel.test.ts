// The dashboard's state: snapshots and stream events folded into what the page shows.
import { describe, expect, it } from 'vitest';
import { agentRows, applyEvent, applySnapshot, compareStreamIds, DEPARTED_SHOWN_MS, emptyState, KEPT, stateCounts, type AgentSnapshot } from '../../dashboards/client/model.ts';
import { toSwarmEvent, type SwarmEvent } from '../../dashboards/client/swarmEvents.ts';
import { recoveryFeed } from '../../dashboards/client/views.ts';

const agent = (id: string, hostId: string): AgentSnapshot => ({ id, type: 'worker', node: 'n1', hostId, capacity: 1, live: true });
const ev = (id: string, type: string, data: unknown): SwarmEvent => {
  const e = toSwarmEvent({ id, type, at: Number(id.split('-')[0]), data });
  if (!e) throw new Error(`not an event: ${type}`);
  return e;
};

describe('dashboard model', () => {
  it('gives each agent its host health state, unknown until the host is classified', () => {
    let s = applySnapshot(emptyState(), { agents: [agent('a1', 'h1'), agent('b1', 'h2')], hosts: [{ host: 'h1', state: 'healthy', since: 1 }], recoveries: [] }, 1000);
    expect(agentRows(s).map((r) => [r.id, r.state])).toEqual([
      ['a1', 'healthy'],
      ['b1', 'unknown'],
    ]);
    s = applyEvent(s, ev('2000-0', 'health:alert', { at: 2000, host: 'h2', severity: 'warning', reason: 'heartbeat', from: 'healthy', to: 'degraded' }));
    expect(agentRows(s).find((r) => r.id === 'b1')!.state).toBe('degraded');
    expect(s.alerts[0]!.text).toBe('host h2: healthy → degraded (heartbeat)');
  });

  it('keeps the agents of a failed host on the page, failed, after recovery removed them, for a while', () => {
    let s = applySnapshot(emptyState(), { agents: [agent('a1', 'h1'), agent('b1', 'h2')], hosts: [{ host: 'h1', state: 'healthy', since: 1 }, { host: 'h2', state: 'healthy', since: 1 }], recoveries: [] }, 1000);
    s = applyEvent(s, ev('1500-0', 'health:alert', { at: 1500, host: 'h2', severity: 'critical', reason: 'connection-closed', from: 'healthy', to: 'failed' }));
    // Recovery removed b1 and the host; the monitor no longer lists h2.
    s = applySnapshot(s, { agents: [agent('a1', 'h1')], hosts: [{ host: 'h1', state: 'healthy', since: 1 }], recoveries: [] }, 2000);
    expect(agentRows(s).find((r) => r.id === 'b1')).toMatchObject({ state: 'failed', departed: true });
    expect(stateCounts(agentRows(s))).toMatchObject({ healthy: 1, failed: 1 });
    s = applySnapshot(s, { agents: [agent('a1', 'h1')], hosts: [], recoveries: [] }, 2000 + DEPARTED_SHOWN_MS + 1);
    expect(agentRows(s).map((r) => r.id)).toEqual(['a1']);
  });

  it('a snapshot older than an alert does not undo it', () => {
    let s = applyEvent(emptyState(), ev('5000-0', 'health:alert', { at: 5000, host: 'h1', severity: 'critical', reason: 'connection-closed', from: 'healthy', to: 'failed' }));
    s = applySnapshot(s, { agents: [agent('a1', 'h1')], hosts: [{ host: 'h1', state: 'healthy', since: 100 }], recoveries: [] }, 5100);
    expect(agentRows(s)[0]!.state).toBe('failed');
    s = applySnapshot(s, { agents: [agent('a1', 'h1')], hosts: [{ host: 'h1', state: 'healthy', since: 6000 }], recoveries: [] }, 6100);
    expect(agentRows(s)[0]!.state).toBe('healthy');
  });

  it("an endpoint's alert is listed without changing its host's state", () => {
    let s = applySnapshot(emptyState(), { agents: [agent('a1', 'h1')], hosts: [{ host: 'h1', state: 'healthy', since: 1 }], recoveries: [] }, 1);
    s = applyEvent(s, ev('30-0', 'health:alert', { at: 30, host: 'h1', agents: 1, severity: 'critical', reason: 'endpoint', endpoint: 'http://10.0.0.7:9000/run', from: 'degraded', to: 'failed', silentForMs: 10_000 }));
    expect(agentRows(s)[0]!.state).toBe('healthy');
    expect(s.alerts[0]).toMatchObject({ severity: 'critical', kind: 'endpoint: failed', text: 'endpoint http://10.0.0.7:9000/run of host h1: degraded → failed (1 agents)' });
  });

  it('marks agents isolated by their breaker until they are reintegrated', () => {
    let s = applySnapshot(emptyState(), { agents: [agent('a1', 'h1')], hosts: [{ host: 'h1', state: 'healthy', since: 1 }], recoveries: [] }, 1);
    s = applyEvent(s, ev('10-0', 'health:alert', { at: 10, host: 'h1', agent: 'a1', node: 'n1', severity: 'warning', reason: 'isolated', breaker: 'open' }));
    expect(agentRows(s)[0]).toMatchObject({ isolated: true, state: 'healthy' });
    s = applyEvent(s, ev('20-0', 'health:alert', { at: 20, host: 'h1', agent: 'a1', node: 'n1', severity: 'info', reason: 'reintegrated', breaker: 'closed' }));
    expect(agentRows(s)[0]!.isolated).toBe(false);
  });

  it('applies each stream entry once, in order (SSE replays after a reconnect)', () => {
    const e = ev('100-1', 'load:rebalanced', { at: 100, token: 1, moves: [{ from: 'n1', to: 'n2', count: 3, moved: 3, reason: 'steal' }] });
    let s = applyEvent(emptyState(), e);
    s = applyEvent(s, e);
    s = applyEvent(s, ev('100-0', 'load:rebalanced', { at: 100, token: 1, moves: [] }));
    expect(s.rebalances).toHaveLength(1);
    expect(compareStreamIds('100-1', '99-5')).toBe(1);
    expect(compareStreamIds('100-1', '100-2')).toBe(-1);
  });

  it('builds recoveries from their steps and keeps the newest consensus rounds', () => {
    let s = emptyState();
    s = applyEvent(s, ev('1-0', 'recovery:step', { id: 'r1', host: 'h2', state: 'running', step: 'isolate', at: 1, detail: {} }));
    s = applyEvent(s, ev('2-0', 'recovery:step', { id: 'r1', host: 'h2', state: 'done', step: 'verify', at: 2, detail: { requeued: 2 } }));
    expect(s.recoveries).toEqual([{ id: 'r1', host: 'h2', state: 'done', detectedAt: 1, steps: [{ step: 'isolate', at: 1, detail: {} }, { step: 'verify', at: 2, detail: { requeued: 2 } }], requeued: 2 }]);
    expect(recoveryFeed(applyEvent(s, ev('3-0', 'recovery:step', { id: 'r1', host: 'h2', state: 'done', step: 'verify', at: 3, detail: { node: 'n4' } })))).toContain('isolate → verify → verify n4');
    for (let i = 0; i < KEPT.consensus + 3; i++) {
      s = applyEvent(s, ev(`${10 + i}-0`, 'consensus:reached', { id: `p${i}`, protocol: 'raft', decided: true, value: { v: i }, votes: 3, participants: 5, rounds: 1, latencyMs: 4 }));
    }
    expect(s.consensus).toHaveLength(KEPT.consensus);
    expect(s.consensus[0]).toMatchObject({ id: `p${KEPT.consensus + 2}`, votes: 3, participants: 5, at: 10 + KEPT.consensus + 2 });
  });

  it('takes only well-formed messages of the types it follows', () => {
    expect(toSwarmEvent({ id: '1-0', type: 'health:alert', at: 1, data: { at: 1, host: 'h1', severity: 'info', reason: 'recovered' } })).toBeDefined();
    expect(toSwarmEvent({ id: 'x', type: 'health:alert', at: 1, data: {} })).toBeUndefined();
    expect(toSwarmEvent({ id: '1-0', type: 'metrics:updated', at: 1, data: {} })).toBeUndefined();
    expect(toSwarmEvent({ id: '1-0', type: 'load:rebalanced', at: '1', data: {} })).toBeUndefined();
    expect(toSwarmEvent({ id: '1-0', type: 'consensus:reached', at: 1, data: 'decided' })).toBeUndefined();
    expect(toSwarmEvent(null)).toBeUndefined();
  });

  it('puts budget alerts in the alerts feed: 80 % a warning, spent critical', () => {
    let s = applyEvent(emptyState(), ev('7000-0', 'budget:alert', { at: 7000, scope: 'key', threshold: 80, key: 'acme', task: 'n1.t', type: 'spend', spent: { tokens: 800, costUsd: 0 }, limit: { tokens: 1000 }, resetsAt: 9000 }));
    s = applyEvent(s, ev('7001-0', 'budget:alert', { at: 7001, scope: 'task', threshold: 100, task: 'n1.u', type: 'spend', spent: { tokens: 5, costUsd: 0.5 }, limit: { costUsd: 0.5 } }));
    expect(s.alerts.map((a) => [a.severity, a.text])).toEqual([
      ['critical', 'task n1.u: 100 % of its own budget spent ($0.5 / $0.5)'],
      ['warning', 'key acme: 80 % of its budget spent (800 / 1,000 tokens)'],
    ]);
  });
});
