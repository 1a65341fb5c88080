// redis-server SIGKILLed and restarted in the middle of a run (submits flowing,
// agents working). With appendfsync always, no task whose submit was
// acknowledged is lost: each one completes. With everysec, up to about a second
// of writes may be lost: the test reports how many acknowledged tasks were, and
// checks that every surviving one still completes. (A killed redis-server has
// already handed its writes to the kernel, so everysec loses nothing here; it
// loses up to a second when the machine itself goes down, which a test on one
// machine cannot do.)
import { afterAll, describe, expect, it } from 'vitest';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { AgentHost } from '../../src/agents/host.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { testConfig } from '../support/swarm.ts';

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
});

async function run(appendfsync: 'always' | 'everysec'): Promise<{ acked: number; lost: string[]; completed: number }> {
  const redis: TestRedis = await startRedis({ own: true, appendfsync });
  cleanup.push(() => redis.stop());
  // A task caught running when Redis died comes back through BullMQ's stalled check; short settings keep it quick.
  const config = testConfig(redis, { agents: { lockDurationMs: 1000, stalledIntervalMs: 500 } });
  const host = new AgentHost({ config, hostId: `mid-${appendfsync}`, agents: [{ type: 'worker', count: 10 }], processors: builtinProcessors, logger: silentLogger });
  await host.start();
  cleanup.push(() => host.stop(500));
  const client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
  cleanup.push(() => client.close());

  const acked: string[] = [];
  let stop = false;
  const submitting = (async () => {
    while (!stop) {
      try {
        acked.push((await client.submit({ type: 'sleep', payload: { ms: 10 } })).id);
        await new Promise((r) => setTimeout(r, 2)); // a steady flow, not a flood: the check below reads each task
      } catch {
        await new Promise((r) => setTimeout(r, 20)); // Redis away: not acknowledged, not counted
      }
    }
  })();
  await new Promise((r) => setTimeout(r, 1000));
  await redis.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  await redis.restart();
  await new Promise((r) => setTimeout(r, 1000));
  stop = true;
  await submitting;

  const lost: string[] = [];
  let completed = 0;
  for (const id of acked) {
    const t = await client.get(id);
    if (!t) {
      lost.push(id);
      continue;
    }
    const done = await client.waitFor(id, { timeoutMs: 30_000 });
    expect(done.state).toBe('completed');
    completed++;
  }
  return { acked: acked.length, lost, completed };
}

describe('Redis restart mid-run', () => {
  it('appendfsync always: every acknowledged task survives and completes', async () => {
    const r = await run('always');
    expect(r.acked).toBeGreaterThan(100);
    expect(r.lost).toEqual([]);
    expect(r.completed).toBe(r.acked);
  }, 90_000);

  it('appendfsync everysec: reports what it loses; every surviving task completes', async () => {
    const r = await run('everysec');
    console.log(`appendfsync everysec: ${r.lost.length} of ${r.acked} acknowledged tasks lost when redis-server was SIGKILLed mid-run; ${r.completed} completed`);
    expect(r.acked).toBeGreaterThan(100);
    expect(r.completed + r.lost.length).toBe(r.acked);
  }, 90_000);
});
