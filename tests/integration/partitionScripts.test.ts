// The wrappers of the partition scripts (queues/partitions.ts) against real
// Redis: membership on Redis's clock, a partition lease claimed, renewed,
// refused, released and taken over with a token above the group's fence, and
// the fenced first step of a host's recovery.
import { describe, expect, it } from 'vitest';
import { groupKeys, swarmKeys } from '../../queues/keys.ts';
import { moveWaitingJobs } from '../../queues/moveJobs.ts';
import { acquirePartition, isolateHost, joinCoordinators, readCoordinators } from '../../queues/partitions.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';

const redis = redisForFile();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('partition scripts', () => {
  it('joinCoordinators: members expire on their own; leaving drops one at once', async () => {
    const prefix = uniquePrefix('join');
    await joinCoordinators(redis.connection, prefix, 'a', 150, '');
    const { now, members } = await joinCoordinators(redis.connection, prefix, 'b', 5000, '{"partitions":[]}');
    expect(members.map((m) => m.id).sort()).toEqual(['a', 'b']);
    expect(members.find((m) => m.id === 'b')!.expiresAt).toBe(now + 5000);
    await sleep(250);
    expect((await joinCoordinators(redis.connection, prefix, 'b', 5000, '')).members.map((m) => m.id)).toEqual(['b']);
    expect(await redis.connection.hkeys(swarmKeys(prefix).coordinators)).toEqual(['b']); // the lapsed one pruned
    expect((await readCoordinators(redis.connection, prefix)).details).toEqual({ b: '{"partitions":[]}' }); // '' kept what was there
    expect((await joinCoordinators(redis.connection, prefix, 'b', 0, '')).members).toEqual([]);
    // Roles ride with the expiry: a coordinator that only monitors hosts is not given slot groups.
    await joinCoordinators(redis.connection, prefix, 'h-only', 5000, '', 'h');
    expect((await joinCoordinators(redis.connection, prefix, 'both', 5000, '', 'bh')).members.map((m) => [m.id, m.roles]).sort()).toEqual([['both', 'bh'], ['h-only', 'h']]);
  });

  it('acquirePartition: one holder; a release or a lapse lets the next in, with a token above the group fence', async () => {
    const prefix = uniquePrefix('part');
    await redis.connection.set(groupKeys(prefix, 'g1').fence, '41'); // a swarm leader's token from before partitions
    expect(await acquirePartition(redis.connection, prefix, 'g1', 'a', 200, 'claim')).toEqual({ token: 42, holder: 'a', ttlMs: 200 });
    expect(await acquirePartition(redis.connection, prefix, 'g1', 'a', 200, 'claim')).toMatchObject({ token: 42 }); // renewed
    const refused = await acquirePartition(redis.connection, prefix, 'g1', 'b', 200, 'claim');
    expect(refused).toMatchObject({ token: 0, holder: 'a' });
    expect(refused.ttlMs).toBeGreaterThan(0);
    expect(await acquirePartition(redis.connection, prefix, 'g1', 'b', 200, 'release')).toMatchObject({ token: 0, holder: 'a' }); // not b's to release
    expect(await acquirePartition(redis.connection, prefix, 'g1', 'a', 200, 'release')).toEqual({ token: 0, holder: '', ttlMs: 0 });
    expect(await acquirePartition(redis.connection, prefix, 'g1', 'b', 200, 'claim')).toMatchObject({ token: 43, holder: 'b' });
    expect(await redis.connection.get(groupKeys(prefix, 'g1').fence)).toBe('43');
    // a's old token is refused in the group from the moment b holds it.
    await expect(moveWaitingJobs(redis.connection, { prefix, from: 'n1', to: 'n2', max: 1, fence: { token: '42' } })).rejects.toThrow(/no longer current/);
    await sleep(250);
    expect(await acquirePartition(redis.connection, prefix, 'g1', 'a', 200, 'claim')).toMatchObject({ token: 44, holder: 'a' }); // b lapsed
    // Host partitions count on the swarm's floor; parked on its own group's fence.
    expect(await acquirePartition(redis.connection, prefix, 'host:h1', 'a', 200, 'claim')).toMatchObject({ token: 1 });
    expect(await acquirePartition(redis.connection, prefix, 'host:h2', 'a', 200, 'claim')).toMatchObject({ token: 2 });
    expect(await acquirePartition(redis.connection, prefix, 'parked', 'a', 200, 'claim')).toMatchObject({ token: 1 });
  });

  it('isolateHost: only the holder of the host partition with its current token isolates the host', async () => {
    const prefix = uniquePrefix('iso');
    const k = swarmKeys(prefix);
    await redis.connection.multi().zadd(k.hosts, 1, 'h1').hset(k.hostConnections, 'h1', '7@x').hset(k.hostsReady, 'h1', '1').hset(k.endpointSilence, 'h1', '{"endpoints":[]}').hset(k.endpointSilence, 'h2', '{"endpoints":[]}').exec();
    const { token } = await acquirePartition(redis.connection, prefix, 'host:h1', 'a', 5000, 'claim');
    expect(await isolateHost(redis.connection, prefix, 'h1', { id: 'b', token }, 99)).toBe(false);
    expect(await isolateHost(redis.connection, prefix, 'h1', { id: 'a', token: token + 1 }, 99)).toBe(false);
    expect(await redis.connection.zscore(k.hosts, 'h1')).toBe('1'); // untouched
    expect(await redis.connection.hexists(k.endpointSilence, 'h1')).toBe(1);
    expect(await isolateHost(redis.connection, prefix, 'h1', { id: 'a', token }, 99)).toBe(true);
    expect(await redis.connection.zscore(k.hosts, 'h1')).toBeNull();
    expect(await redis.connection.hget(k.hostConnections, 'h1')).toBeNull();
    expect(await redis.connection.hget(k.hostsReady, 'h1')).toBeNull();
    expect(await redis.connection.hget(k.failedHosts, 'h1')).toBe('99');
    // Its endpoints' silence goes with it; another host's stays.
    expect(await redis.connection.hkeys(k.endpointSilence)).toEqual(['h2']);
  });
});
