// Raft among 100 agents on 4 agent host processes; the host of the first
// proposer is SIGKILLed mid-round (25 of 100 agents, within Raft's fault model):
// the 75 others still decide the proposed value, and no two agents disagree.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Redis } from 'ioredis';
import { CliFleet } from '../support/cli.ts';
import { startConsensusFleet, type ConsensusFleet } from '../support/consensusFleet.ts';
import { killHostMidRound } from '../support/consensusKill.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../support/redis.ts';

let redis: TestRedis;
let conn: Redis;
let swarm: ConsensusFleet;
const fleet = new CliFleet();

beforeAll(async () => {
  redis = await startRedis();
  conn = new Redis(redis.url);
  swarm = await startConsensusFleet(fleet, redis.url, uniquePrefix('craft'), 4, 25);
}, 60_000);

afterAll(async () => {
  await swarm?.close();
  fleet.killAll();
  conn?.disconnect();
  await redis?.stop();
});

describe('Raft with a host killed mid-round', () => {
  it('still decides among the survivors, and they never disagree', async () => {
    await killHostMidRound(swarm, conn, 'raft');
  }, 45_000);
});
