// A host's heartbeat against real Redis: when the monitor has failed the host,
// or its record went with Redis's data, the beat asks it to rejoin; a rejoin
// that fails is reported (never an unhandled rejection, which would end the
// process) and tried again.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { swarmKeys } from '../../queues/keys.ts';
import { Heartbeat } from '../../src/agents/heartbeat.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';
import { until } from '../support/swarm.ts';

const redis = redisForFile();
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

/** A heartbeat of host h1 every 20 ms under `prefix`. */
function beatOf(prefix: string, rejoin: (failedAt: number | null) => Promise<void>, onRejoinError: (err: Error) => void = () => {}): Heartbeat {
  return new Heartbeat({ redis: redis.connection, prefix, hostId: 'h1', intervalMs: 20, isStopping: () => false, rejoin, onRejoinError });
}

describe('heartbeat', () => {
  it('reports a failed rejoin, keeps beating, and tries again until one works', async () => {
    const prefix = uniquePrefix('beat');
    const keys = swarmKeys(prefix);
    await redis.connection.hset(keys.failedHosts, 'h1', String(Date.now()));
    const errors: string[] = [];
    let calls = 0;
    const beat = beatOf(
      prefix,
      async () => {
        calls++;
        if (calls < 3) throw new Error(`rejoin ${calls} failed`);
        await redis.connection.hdel(keys.failedHosts, 'h1');
      },
      (err) => errors.push(err.message),
    );
    await beat.start();
    try {
      await until(async () => (await redis.connection.hexists(keys.failedHosts, 'h1')) === 0, 5000, 'a rejoin to work');
      await new Promise((r) => setTimeout(r, 100));
      expect(errors).toEqual(['rejoin 1 failed', 'rejoin 2 failed']);
      expect(calls).toBe(3);
      expect(unhandled).toEqual([]);
      expect(await redis.connection.zscore(keys.hosts, 'h1')).not.toBeNull();
    } finally {
      beat.stop();
    }
  });

  it('asks to rejoin (failedAt null) when its record is gone with no failed mark, never at its first beat', async () => {
    const prefix = uniquePrefix('beat');
    const keys = swarmKeys(prefix);
    const causes: (number | null)[] = [];
    const beat = beatOf(prefix, async (failedAt) => void causes.push(failedAt));
    await beat.start();
    try {
      await new Promise((r) => setTimeout(r, 120));
      expect(causes).toEqual([]); // its first beat wrote its record: nothing was lost
      await redis.connection.del(keys.hosts); // as a restart with no persistence leaves it
      await until(async () => causes.length > 0, 5000, 'a rejoin after the record was lost');
      await new Promise((r) => setTimeout(r, 120));
      expect(causes).toEqual([null]); // once: the beat that found it gone wrote it again
      // Taken out by the monitor (isolateHost-6.lua: the record goes, the mark is written in the same step): a failure, with its time.
      await redis.connection.multi().zrem(keys.hosts, 'h1').hset(keys.failedHosts, 'h1', '1234').exec();
      await until(async () => causes.length > 1, 5000, 'a rejoin after the monitor failed it');
      expect(causes[1]).toBe(1234);
    } finally {
      beat.stop();
    }
  });
});
