// The chaos run: tasks flow in at a steady rate while agent hosts and the
// leading coordinator are SIGKILLed at random (seeded) times and replaced by
// fresh processes; at the end every task is completed exactly once: each id in
// the completed set of exactly one node queue, and nothing failed.
//
// CI runs a short version. The long one:
//   CHAOS_TASKS=10000 CHAOS_BUDGET_MS=60000 CHAOS_SEED=<n> npx vitest run tests/chaos/chaosRun.test.ts
// The seed is printed; the same seed replays the same schedule of kills.
import { afterAll, describe, expect, it } from 'vitest';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { bullKey, swarmKeys } from '../../queues/keys.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { CliFleet, isRunning, type CliChild } from '../support/cli.ts';
import { leaderPid } from '../support/swarm.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';

const TASKS = Number(process.env.CHAOS_TASKS ?? 1500);
const BUDGET_MS = Number(process.env.CHAOS_BUDGET_MS ?? 8000);
const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
const HOSTS = 3;

const redis = redisForFile();
const fleet = new CliFleet();
const prefix = uniquePrefix('chaos');
// A task may be caught by several deaths in a row: allow it to stall that often.
const env = { SWARMQ_LEASE_MS: '1500', SWARMQ_MAX_STALLED_COUNT: '20' };

afterAll(async () => {
  fleet.killAll();
});

function cli(args: string[]): CliChild {
  return fleet.spawn([...args, '--redis-url', redis.url, '--prefix', prefix], { env });
}

describe('chaos run', () => {
  it(`${TASKS} tasks while hosts and the leader are killed at random: each completes exactly once`, async () => {
    console.log(`chaos run: seed ${SEED}, ${TASKS} tasks over ${BUDGET_MS} ms (replay with CHAOS_SEED=${SEED})`);
    // Two streams, so the schedule of kills replays whatever the submits do.
    const lengths = xoroshiro128plus(SEED);
    const rng = xoroshiro128plus(SEED + 1);
    let generation = 0;
    const host = () => cli(['agents', '--count', '10', '--host-id', `c${++generation}`]);
    const coordinators = [cli(['coordinator', '--port', '0']), cli(['coordinator', '--port', '0'])];
    const hosts = Array.from({ length: HOSTS }, host);
    await Promise.all([...coordinators.map((c) => c.waitFor(/coordinator ready/)), ...hosts.map((h) => h.waitFor(/agent host ready/))]);

    const client = new SwarmClient({ redis: redis.url, prefix });
    const kills: string[] = [];
    try {
      const ids: string[] = [];
      const t0 = Date.now();
      const submitting = (async () => {
        for (let i = 0; i < TASKS; i++) {
          ids.push((await client.submit({ type: 'sleep', payload: { ms: 5 + uniformInt(lengths, 0, 45) } })).id);
          const due = t0 + ((i + 1) * BUDGET_MS) / TASKS;
          if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        }
      })();
      const chaos = (async () => {
        while (Date.now() - t0 < BUDGET_MS) {
          await new Promise((r) => setTimeout(r, 400 + uniformInt(rng, 0, 1200)));
          if (uniformInt(rng, 0, 3) === 0) {
            const pid = await leaderPid(redis.connection, prefix);
            const leader = coordinators.find((c) => c.child.pid === pid && isRunning(c));
            if (!leader) continue;
            leader.child.kill('SIGKILL');
            coordinators.splice(coordinators.indexOf(leader), 1);
            coordinators.push(cli(['coordinator', '--port', '0']));
            kills.push(`t+${Date.now() - t0} leader`);
          } else {
            // Kill only hosts that are up, and never the last one: with no agent at all
            // a submit is refused (400, nothing accepted), which is not what this run tests.
            const up = hosts.filter((h) => /agent host ready/.test(h.output()));
            if (up.length < 2) continue;
            const victim = up[uniformInt(rng, 0, up.length - 1)]!;
            hosts.splice(hosts.indexOf(victim), 1);
            victim.child.kill('SIGKILL');
            hosts.push(host());
            kills.push(`t+${Date.now() - t0} host`);
          }
        }
      })();
      await Promise.all([submitting, chaos]);
      console.log(`chaos run: kills ${kills.join(', ')}`);
      expect(kills.length).toBeGreaterThan(2);

      const finals = await Promise.all(ids.map((id) => client.waitFor(id, { timeoutMs: 120_000 })));
      expect(finals.filter((t) => t.state !== 'completed').map((t) => `${t.id} ${t.state} ${t.error ?? ''}`)).toEqual([]);
      // Exactly once: every id in one node queue's completed set, and no other.
      const nodes = Object.values(await redis.connection.hgetall(swarmKeys(prefix).nodes)).map((r) => JSON.parse(r) as { queue: string });
      const seen = new Map<string, number>();
      const ours = new Set(ids); // the health monitor's probe tasks complete there too
      for (const n of nodes) for (const id of await redis.connection.zrange(bullKey(prefix, n.queue, 'completed'), '0', '-1')) if (ours.has(id)) seen.set(id, (seen.get(id) ?? 0) + 1);
      expect(seen.size).toBe(TASKS);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      const stats = await redis.connection.hgetall(swarmKeys(prefix).stats);
      console.log(`chaos run: done; late finishes refused: ${JSON.stringify(stats)}; recoveries: ${await redis.connection.hlen(swarmKeys(prefix).recoveries)}`);
    } finally {
      await client.close();
    }
  }, 240_000);
});
