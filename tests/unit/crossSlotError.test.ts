// A Cluster's cross-slot refusals and a Redis that cannot answer for now are
// told apart from other failures, so the HTTP API answers them as a conflict
// with the deployment (409) or as unavailable (503), never a 500.
import { describe, expect, it } from 'vitest';
import { isCrossSlot, isRedisDown } from '../../src/errors.ts';

describe('isCrossSlot', () => {
  it('recognises what Redis Cluster and ioredis say about keys of several slots', () => {
    expect(isCrossSlot(new Error("CROSSSLOT Keys in request don't hash to the same slot"))).toBe(true);
    expect(isCrossSlot(new Error('All keys in the pipeline should belong to the same slots allocation group'))).toBe(true);
  });

  it('leaves other failures alone', () => {
    expect(isCrossSlot(new Error('ECONNREFUSED 127.0.0.1:7000'))).toBe(false);
    expect(isCrossSlot(new Error('NOSCRIPT No matching script'))).toBe(false);
    expect(isCrossSlot('CROSSSLOT as a string')).toBe(false);
    expect(isRedisDown(new Error("CROSSSLOT Keys in request don't hash to the same slot"))).toBe(false);
  });
});

describe('isRedisDown', () => {
  it('takes a Cluster or a primary in the middle of a failover for Redis not answering (a 503 to retry, not a 500)', () => {
    expect(isRedisDown(new Error('Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down'))).toBe(true);
    expect(isRedisDown(new Error('CLUSTERDOWN Hash slot not served'))).toBe(true);
    expect(isRedisDown(new Error('TRYAGAIN Multiple keys request during rehashing of slot'))).toBe(true);
    expect(isRedisDown(new Error("READONLY You can't write against a read only replica."))).toBe(true);
    expect(isRedisDown(new Error('All sentinels are unreachable. Retrying from scratch after 10ms.'))).toBe(true);
    expect(isRedisDown(new Error('connect ECONNREFUSED 127.0.0.1:6379'))).toBe(true);
  });

  it('leaves a refused script or a bad request alone', () => {
    expect(isRedisDown(new Error('NOSCRIPT No matching script'))).toBe(false);
    expect(isRedisDown(new Error('ERR wrong number of arguments'))).toBe(false);
    expect(isRedisDown(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe(false);
  });
});
