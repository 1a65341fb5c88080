// Three coordinator processes share slot groups and hosts. One holding groups is
// SIGKILLed: the other two take its partitions once its leases lapse (within
// the lease plus a round), each with a newer token, and a move carrying the dead
// coordinator's token is refused by the group's fence.
import { afterAll, describe, expect, it } from 'vitest';
import { moveWaitingJobs } from '../../queues/moveJobs.ts';
import { coordinatorsView } from '../../src/coordinator/coordinatorsView.ts';
import { CliFleet, type CliChild } from '../support/cli.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';
import { until } from '../support/swarm.ts';

const redis = redisForFile();
const fleet = new CliFleet();
const prefix = uniquePrefix('parts');
const LEASE_MS = 1500;
afterAll(() => fleet.killAll());

function cli(args: string[]): CliChild {
  // One agent a node: 30 agents make three slot groups.
  return fleet.spawn([...args, '--redis-url', redis.url, '--prefix', prefix], { env: { SWARMQ_LEASE_MS: String(LEASE_MS), SWARMQ_MAX_AGENTS_PER_NODE: '1' } });
}

describe('a coordinator SIGKILLed while holding partitions', () => {
  it('the others take its partitions within the lease time, and its stale token moves nothing', async () => {
    const coordinators = [cli(['coordinator', '--port', '0']), cli(['coordinator', '--port', '0']), cli(['coordinator', '--port', '0'])];
    await Promise.all(coordinators.map((c) => c.waitFor(/coordinator ready/)));
    const host = cli(['agents', '--count', '30', '--host-id', 'pk']);
    await host.waitFor(/agent host ready/);
    const all = ['g1', 'g2', 'g3', 'parked', 'host:pk'];
    const before = await until(async () => {
      const v = await coordinatorsView(redis.connection, prefix);
      const held = v.coordinators.flatMap((c) => c.partitions.map((p) => p.name));
      return v.coordinators.length === 3 && all.every((p) => held.filter((h) => h === p).length === 1) ? v : undefined;
    }, 20_000, 'three coordinators holding every partition once');
    const victim = [...before.coordinators].sort((a, b) => b.groups.length - a.groups.length)[0]!;
    expect(victim.groups.length).toBeGreaterThan(0);
    const child = coordinators.find((c) => victim.id.includes(`-${c.child.pid}-`))!;
    expect(child, victim.id).toBeDefined();

    child.child.kill('SIGKILL');
    const killedAt = Date.now();
    const after = await until(async () => {
      const v = await coordinatorsView(redis.connection, prefix);
      const holders = new Map(v.coordinators.flatMap((c) => c.partitions.map((p) => [p.name, { id: c.id, token: p.token }] as const)));
      return v.coordinators.length === 2 && victim.partitions.every((p) => holders.has(p.name)) ? { v, holders } : undefined;
    }, 10_000, "the survivors to hold the dead coordinator's partitions");
    const tookMs = Date.now() - killedAt;
    expect(tookMs, 'the lease (1.5 s) plus a round (0.5 s) and a generous margin for a loaded box').toBeLessThan(LEASE_MS + LEASE_MS / 3 + 1500);
    for (const p of victim.partitions) {
      const now = after.holders.get(p.name)!;
      expect(now.id).not.toBe(victim.id);
      expect(now.token, p.name).toBeGreaterThan(p.token);
    }

    // What the dead coordinator would do if it were only paused: move with its token. Refused in every group it held.
    for (const g of victim.groups.filter((x) => x !== 'parked')) {
      const first = (Number(g.slice(1)) - 1) * 10 + 1;
      const token = victim.partitions.find((p) => p.name === g)!.token;
      await expect(moveWaitingJobs(redis.connection, { prefix, from: `n${first}`, to: `n${first + 1}`, max: 10, fence: { token: String(token) } })).rejects.toThrow(/no longer current/);
    }
  }, 60_000);
});
