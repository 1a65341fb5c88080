// The key pool's scripts on their own (leaseKeyed-6.lua, renewKeyed-1.lua),
// with pools of over a thousand slots and tokens: slots and tokens lent are in
// the key's sets with their expiries, kept slots are renewed and a lapsed one
// is reported lost (never lent again), and a renewal counts what it renewed.
// The pool's behaviour across hosts is tests/integration/keyPools.test.ts.
import { describe, expect, it } from 'vitest';
import { leaseKeyed, type LeaseRequest } from '../../queues/keyLease.ts';
import { renewKeyed } from '../../queues/keyState.ts';
import { keyStateKeys } from '../../queues/keys.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';

const redis = redisForFile();
const LEASE = 30_000;
const VALID = 200;

const request = (prefix: string, o: Partial<LeaseRequest>): LeaseRequest => ({
  prefix,
  key: 'k',
  leaseMs: LEASE,
  validMs: VALID,
  minLimit: 32,
  share: 2,
  wantSlots: 0,
  wantTokens: 0,
  stem: '~h:n:',
  firstNumber: 0,
  kept: [],
  giveBack: [],
  unusedTokens: [],
  started: [],
  ...o,
});

describe('key pool scripts', () => {
  it('lends 1,200 slots and 900 tokens with their expiries, renews the kept, reports the lapsed lost', async () => {
    const prefix = uniquePrefix('lease');
    const k = keyStateKeys(prefix, 'k');
    const r = redis.connection;
    await r.hset(k.limits, 'maxActive', '10000', 'rateMax', '10000', 'ratePerMs', '1000');
    const before = Date.now();
    const first = await leaseKeyed(r, request(prefix, { wantSlots: 1200, wantTokens: 900 }));
    expect(first).toMatchObject({ verdict: 'ok', hasMax: true, hasRate: true, lost: [] });
    expect(first.slots).toHaveLength(1200);
    expect(first.tokens).toHaveLength(900);
    expect(await r.zcard(k.active)).toBe(1200);
    expect(await r.zcard(k.starts)).toBe(900);
    const slotScores = await r.zmscore(k.active, first.slots[0]!, first.slots[1199]!);
    for (const s of slotScores) expect(Number(s)).toBeGreaterThanOrEqual(before + LEASE - 1000);
    const tokenScores = await r.zmscore(k.starts, first.tokens[0]!, first.tokens[899]!);
    for (const s of tokenScores) expect(Number(s)).toBeGreaterThanOrEqual(before + VALID - 1000);

    // Two of the kept lapsed (gone from the set); the rest are renewed to a later expiry, nothing new lent.
    const lapsed = [first.slots[3]!, first.slots[1100]!];
    await r.zrem(k.active, ...lapsed);
    // The rest have a few seconds of lease left: a renewal moves them to a full lease from now.
    await r.zadd(k.active, 'XX', ...first.slots.flatMap((s) => [before + 5000, s]));
    const second = await leaseKeyed(r, request(prefix, { kept: first.slots, firstNumber: 2100 }));
    expect(second.verdict).toBe('ok');
    expect(second.lost.sort()).toEqual([...lapsed].sort());
    expect(second.slots).toEqual([]);
    expect(await r.zcard(k.active)).toBe(1198);
    const renewed = await r.zmscore(k.active, first.slots[0]!, first.slots[1199]!);
    for (const s of renewed) expect(Number(s)).toBeGreaterThan(before + LEASE - 1000);
    expect(await r.zscore(k.active, lapsed[0]!)).toBeNull();
  });

  it('renewKeyed renews 1,100 running tasks in one call and counts only those still holding a slot', async () => {
    const prefix = uniquePrefix('renew');
    const k = keyStateKeys(prefix, 'k');
    const r = redis.connection;
    const ids = Array.from({ length: 1100 }, (_, i) => `t${i}`);
    const old = Date.now() - 1000;
    await r.zadd(k.active, ...ids.slice(0, 1000).flatMap((id) => [old, id]));
    expect(await renewKeyed(r, { prefix, key: 'k', taskIds: ids, leaseMs: LEASE })).toBe(1000);
    expect(await r.zcard(k.active)).toBe(1000);
    expect(Number(await r.zscore(k.active, 't999'))).toBeGreaterThan(old + LEASE - 2000);
  });
});
