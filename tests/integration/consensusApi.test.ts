// Proposals over HTTP and from TypeScript, among agents of two in-process
// hosts: POST /api/proposals → 202 { id }, GET until final, the
// consensus:reached event; bad input gets a clear error and writes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentHost } from '../../src/agents/host.ts';
import { SwarmError } from '../../src/errors.ts';
import { Consensus } from '../../src/consensus/runtime/consensus.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { redisForFile } from '../support/redis.ts';
import { stackForFile } from '../support/stack.ts';
import { until } from '../support/swarm.ts';

const redis = redisForFile();
// With the process that runs rounds (a coordinator's job in production: `swarmq coordinator` does it).
const stack = stackForFile(redis, { agents: [{ type: 'voter', count: 3 }], hostId: 'ha', driveConsensus: true });
let second: AgentHost;

beforeAll(async () => {
  second = new AgentHost({ config: stack.config, hostId: 'hb', agents: [{ type: 'voter', count: 3 }, { type: 'critic', count: 1 }], processors: builtinProcessors, logger: silentLogger, control: false });
  await second.start();
});

afterAll(async () => {
  await second?.stop(100);
});

/** Everything consensus has written under this swarm's prefix. */
async function consensusKeys(): Promise<string[]> {
  const p = stack.config.prefix;
  return [...(await redis.connection.keys(`${p}:consensus:*`)), ...(await redis.connection.keys(`${p}:{swarm}:consensus:*`))].sort();
}

describe('proposals over HTTP', () => {
  it('POST queues a proposal (202 { id }); GET shows it decided; consensus:reached is published', async () => {
    const res = await stack.request('POST', '/api/proposals', { protocol: 'pbft', value: { release: '1.2' }, participants: { count: 6, type: 'voter' } });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.stringMatching(/^p-[0-9a-f]{16}$/) });
    const id = res.body.id as string;
    const view = await until(async () => {
      const r = await stack.request('GET', `/api/proposals/${id}`);
      expect(r.status).toBe(200);
      return r.body.state === 'completed' ? r.body : undefined;
    }, 20_000, 'the proposal to complete');
    expect(view).toMatchObject({ id, protocol: 'pbft', value: { release: '1.2' }, outcome: { decided: true, value: { release: '1.2' }, participants: 6, rejected: {} } });
    // PBFT: final once f+1 = 2 replicas decided the same value.
    expect(view.outcome.votes).toBeGreaterThanOrEqual(2);
    expect(new Set((view.participants as string[]).map((a) => a.split('-')[0]))).toEqual(new Set(['ha', 'hb']));
    const events = await redis.connection.xrange(`${stack.config.prefix}:{swarm}:events`, '-', '+');
    const reached = events.filter(([, f]) => f[1] === 'consensus:reached').map(([, f]) => JSON.parse(f[3]!) as { id: string; value: unknown });
    expect(reached).toContainEqual(expect.objectContaining({ id, value: { release: '1.2' }, decided: true }));
  }, 30_000);

  it('a Consensus that proposed closes every connection it opened (one left open would reconnect forever and keep its process alive)', async () => {
    // CLIENT LIST: every master's clients, on a Cluster (tests/support/clusterAsRedis.ts).
    const clients = async () => String(await redis.connection.client('LIST')).trim().split('\n').length;
    const before = await clients();
    const c = new Consensus({ redis: redis.url, prefix: stack.config.prefix });
    const r = await c.propose({ protocol: 'quorum', value: 'closing', participants: ['ha-a1', 'hb-a1', 'ha-a2'], timeoutMs: 15_000 });
    expect(r.decided).toBe(true);
    expect(await clients()).toBeGreaterThan(before);
    await c.close();
    await until(async () => ((await clients()) === before ? true : undefined), 5000);
  });

  it('propose() from TypeScript resolves with the outcome', async () => {
    const r = await stack.consensus.propose({ protocol: 'raft', value: 'go', participants: ['ha-a1', 'hb-a1', 'ha-a2', 'hb-a2', 'ha-a3'], timeoutMs: 15_000 });
    expect(r).toMatchObject({ decided: true, value: 'go', participants: 5, protocol: 'raft' });
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
    expect(r.rounds).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it('bad input: a clear error, and nothing written', async () => {
    const before = await consensusKeys();
    const cases: [unknown, number, string, RegExp][] = [
      [{ protocol: 'paxos-made-simple', value: 1 }, 400, 'invalid_request', /unknown protocol "paxos-made-simple"; known: quorum, raft, pbft, fast-paxos/],
      [{ protocol: 'pbft', value: 1, participants: ['ha-a1', 'ha-a2', 'hb-a1'] }, 400, 'invalid_request', /pbft needs at least 4 participants/],
      [{ protocol: 'pbft', value: 1, participants: { count: 3 } }, 400, 'invalid_request', /pbft needs at least 4 participants/],
      [{ protocol: 'raft', value: 1, participants: ['ha-a1', 'ha-a2', 'nobody'] }, 400, 'invalid_request', /no such agent: nobody/],
      [{ protocol: 'raft', value: 1, participants: { count: 50 } }, 400, 'no_capable_agent', /asked for 50 live agents, the swarm has 7/],
      [{ protocol: 'quorum', value: 1, participants: { count: 3, type: 'critic' } }, 400, 'no_capable_agent', /of type critic, the swarm has 1/],
      [{ protocol: 'quorum', value: 1, timeoutMs: -5 }, 400, 'invalid_request', /invalid proposal/],
      [{ protocol: 'quorum', value: 1, surprise: true }, 400, 'invalid_request', /invalid proposal/],
      [{ value: 1 }, 400, 'invalid_request', /invalid proposal/],
    ];
    for (const [body, status, code, message] of cases) {
      const r = await stack.request('POST', '/api/proposals', body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.body.error.code, JSON.stringify(body)).toBe(code);
      expect(r.body.error.message, JSON.stringify(body)).toMatch(message);
    }
    const notJson = await stack.request('POST', '/api/proposals', '{"protocol": ', { 'content-type': 'application/json' });
    expect(notJson.status).toBe(400);
    const text = await stack.request('POST', '/api/proposals', 'quorum please', { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    await expect(stack.consensus.propose({ protocol: 'nope', value: 1 })).rejects.toThrow(SwarmError);
    expect(await consensusKeys()).toEqual(before);
    const missing = await stack.request('GET', '/api/proposals/p-0000000000000000');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  }, 30_000);
});
