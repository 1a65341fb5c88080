// A quorum round among 100 agents on 4 agent host processes, through real
// Redis: every message sealed by its sender and opened by its receiver, the
// outcome durable with the proposal, and every agent that decided agrees.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { consensusKeys } from '../../src/consensus/runtime/keys.ts';
import { parseDecisions } from '../../src/consensus/runtime/outcome.ts';
import { CliFleet } from '../support/cli.ts';
import { startConsensusFleet, type ConsensusFleet } from '../support/consensusFleet.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../support/redis.ts';
import { until } from '../support/swarm.ts';

let redis: TestRedis;
let conn: Redis;
let swarm: ConsensusFleet;
const fleet = new CliFleet();

beforeAll(async () => {
  redis = await startRedis();
  conn = new Redis(redis.url);
  swarm = await startConsensusFleet(fleet, redis.url, uniquePrefix('cq'), 4, 25);
}, 30_000);

afterAll(async () => {
  await swarm?.close();
  fleet.killAll();
  conn?.disconnect();
  await redis?.stop();
});

describe('quorum among 100 agents on 4 hosts', () => {
  it('decides the proposed value; the decision is persisted and every decider agrees', async () => {
    const r = await swarm.consensus.propose({ protocol: 'quorum', value: { deploy: 'v2' }, participants: { count: 100 }, timeoutMs: 15_000 });
    expect(r).toMatchObject({ decided: true, value: { deploy: 'v2' }, participants: 100 });
    expect(r.rounds).toBeGreaterThanOrEqual(1);
    expect(r.votes).toBeGreaterThanOrEqual(1);
    expect(r.rejected).toEqual({});
    // Every participant learns it (votes go to all); decisions are in Redis, one value.
    const k = consensusKeys(swarm.prefix);
    const decisions = await until(async () => {
      const d = parseDecisions(await conn.hgetall(k.decided(r.id)));
      return d.size === 100 ? d : undefined;
    }, 15_000, 'all 100 agents to decide');
    expect(new Set([...decisions.values()].map((d) => d.value))).toEqual(new Set([JSON.stringify({ deploy: 'v2' })]));
    // Agents from all four hosts took part, and each persisted its vote before sending it.
    expect(new Set([...decisions.keys()].map((a) => a.split('-')[0]))).toEqual(new Set(['ch0', 'ch1', 'ch2', 'ch3']));
    expect(await conn.hlen(k.state(r.id))).toBe(100);
    // The outcome is the job's: GET reads it back.
    const view = await swarm.consensus.get(r.id);
    expect(view).toMatchObject({ id: r.id, protocol: 'quorum', state: 'completed', value: { deploy: 'v2' }, outcome: { decided: true } });
    expect(view!.participants).toHaveLength(100);
  }, 30_000);
});
