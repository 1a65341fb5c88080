// One consensus fleet per test file: its own Redis and agent host processes,
// started before the file's tests and stopped after them. Apart from
// consensusFleet.ts because that one also serves the benchmark, outside vitest.
import { afterAll, beforeAll } from 'vitest';
import { CliFleet } from './cli.ts';
import { startConsensusFleet, type ConsensusFleet } from './consensusFleet.ts';
import { startRedis, uniquePrefix, type TestRedis } from './redis.ts';

/** `swarm` is set once the file's beforeAll has run. */
export function consensusFleetForFile(label: string, hostCount: number, agentsPerHost: number): { readonly swarm: ConsensusFleet } {
  const fleet = new CliFleet();
  let redis: TestRedis | undefined;
  const file = {} as { swarm: ConsensusFleet };
  beforeAll(async () => {
    redis = await startRedis();
    file.swarm = await startConsensusFleet(fleet, redis.url, uniquePrefix(label), hostCount, agentsPerHost);
  }, 60_000);
  afterAll(async () => {
    await file.swarm?.close();
    fleet.killAll();
    await redis?.stop();
  });
  return file;
}
