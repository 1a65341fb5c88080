// A Cluster's cross-slot refusals are told apart from other failures, so the
// HTTP API answers them as a conflict with the deployment (409), never a 500.
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
