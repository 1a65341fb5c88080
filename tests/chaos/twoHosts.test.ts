// Two agent hosts as child processes share the work; one is stopped (SIGTERM)
// mid-run: it returns what it cannot finish, the work left in its node moves to
// the other host's node, every task completes, and none completes twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { bullKey, nodeQueueName } from '../../queues/keys.ts';
import { spawnCli, type CliChild } from '../support/cli.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';
import { until } from '../support/swarm.ts';

const redis = redisForFile();
let client: SwarmClient;
let conn: Redis;
const prefix = uniquePrefix('two');
const children: CliChild[] = [];
const env = { SWARMQ_HEARTBEAT_INTERVAL_MS: '200', SWARMQ_SNAPSHOT_INTERVAL_MS: '50' };

function host(id: string): CliChild {
  const c = spawnCli(['agents', '--count', '10', '--capacity', '2', '--host-id', id, '--drain-ms', '200', '--redis-url', redis.url, '--prefix', prefix], { env });
  children.push(c);
  return c;
}

beforeAll(async () => {
  client = new SwarmClient({ redis: redis.url, prefix, config: { coordinator: { snapshotIntervalMs: 50 } } });
  conn = redis.connect();
});

afterAll(async () => {
  for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  await client?.close();
});

describe('two hosts, one stopped mid-run', () => {
  it('loses nothing and completes nothing twice', async () => {
    const a = host('ha');
    const b = host('hb');
    await Promise.all([a.waitFor(/agent host ready/), b.waitFor(/agent host ready/)]);
    // About 150 tasks of 50–130 ms for each host's 20 slots: half a second or more of work each, so the stop lands
    // while the stopped host's node still holds waiting tasks (on a loaded box, whichever host is slower).
    const { ids } = await client.submitBatch(Array.from({ length: 300 }, (_, i) => ({ type: 'sleep' as const, payload: { ms: 50 + (i % 5) * 20 } })));

    await until(async () => {
      const done = await Promise.all(ids.map((id) => client.get(id)));
      return done.filter((t) => t?.state === 'completed').length >= 30;
    }, 20_000, 'a tenth of the run');
    a.child.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);

    const finals = await Promise.all(ids.map((id) => client.waitFor(id, { timeoutMs: 60_000 })));
    expect(finals.filter((t) => t.state !== 'completed')).toEqual([]);
    const byHost = new Set(finals.map((t) => t.agentId!.split('-a')[0]));
    expect(byHost).toEqual(new Set(['ha', 'hb']));
    expect(finals.every((t) => t.attempts === 1)).toBe(true);
    // Work left in the stopped host's node moved to the other one.
    const stoppedNode = finals.find((t) => t.agentId!.startsWith('ha-'))!.node;
    expect(finals.some((t) => t.id.startsWith(`${stoppedNode}.`) && t.node !== stoppedNode && t.agentId!.startsWith('hb-'))).toBe(true);

    // BullMQ's own event streams: one 'completed' per task, across every node queue.
    const completions = new Map<string, number>();
    for (const node of ['n1', 'n2']) {
      const events = await conn.xrange(bullKey(prefix, nodeQueueName(node), 'events'), '-', '+');
      for (const [, fields] of events) {
        const f = Object.fromEntries(fields.reduce<[string, string][]>((acc, v, i, all) => (i % 2 ? acc : [...acc, [v, all[i + 1]!]]), []));
        if (f.event === 'completed') completions.set(f.jobId!, (completions.get(f.jobId!) ?? 0) + 1);
      }
    }
    expect(completions.size).toBe(300);
    expect([...completions.values()].every((n) => n === 1)).toBe(true);
    expect(await conn.hget(`${prefix}:{swarm}:stats`, 'duplicateCompletions')).toBeNull();
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 120_000);
});
