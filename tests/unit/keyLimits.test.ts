// Keys' limits as given and as kept (src/keys/limits.ts), the fair order's
// numbers (src/keys/fairOrder.ts), and SWARMQ_KEYS.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/settings.ts';
import { bandOf, TAG_UNIT, tagStep } from '../../src/keys/fairOrder.ts';
import { keyLimitsSchema, limitsFields, limitsFromFields, MAX_RATE, MAX_WEIGHT, MIN_WEIGHT, parseRate, rateText } from '../../src/keys/limits.ts';
import { taskInputSchema } from '../../src/tasks/schema.ts';
import { HELD_RECHECK_MS, heldRecheckMs } from '../../src/agents/keyGate.ts';

describe('rates', () => {
  it('read as people write them', () => {
    expect(parseRate('20/s')).toEqual({ max: 20, perMs: 1000 });
    expect(parseRate('500/min')).toEqual({ max: 500, perMs: 60_000 });
    expect(parseRate('500/m')).toEqual({ max: 500, perMs: 60_000 });
    expect(parseRate(' 5 / 100ms ')).toEqual({ max: 5, perMs: 100 });
    expect(parseRate('1000/h')).toEqual({ max: 1000, perMs: 3_600_000 });
    expect(parseRate('7/10s')).toEqual({ max: 7, perMs: 10_000 });
    for (const bad of ['20', '20/', '/s', '20/s/s', '-1/s', '1.5/s', '20 per second', '20/day']) expect(parseRate(bad), bad).toBeUndefined();
  });

  it('print back to what they were read from', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_RATE }), fc.integer({ min: 1, max: 86_400_000 }), (max, perMs) => {
        expect(parseRate(rateText({ max, perMs }))).toEqual({ max, perMs });
      }),
    );
    expect(rateText({ max: 20, perMs: 1000 })).toBe('20/s');
    expect(rateText({ max: 500, perMs: 60_000 })).toBe('500/min');
  });
});

describe('limits', () => {
  it('name every bad field, and refuse unknown ones', () => {
    const r = keyLimitsSchema.safeParse({ maxActive: 0, rate: { max: 0, perMs: 1000 }, weight: MAX_WEIGHT * 2, budget: 1 });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.') || '(root)').sort()).toEqual(['(root)', 'maxActive', 'rate.max', 'weight']);
    expect(keyLimitsSchema.safeParse({ rate: 'soon' }).error!.issues[0]!.message).toMatch(/a rate is "<n>\/<unit>"/);
    expect(keyLimitsSchema.parse({})).toEqual({});
    expect(keyLimitsSchema.parse({ weight: MIN_WEIGHT })).toEqual({ weight: MIN_WEIGHT });
  });

  it('go through the key\'s limits hash and back unchanged', () => {
    const limits = fc.record(
      {
        maxActive: fc.integer({ min: 1, max: 100_000 }),
        rate: fc.record({ max: fc.integer({ min: 1, max: MAX_RATE }), perMs: fc.integer({ min: 1, max: 86_400_000 }) }),
        weight: fc.double({ min: MIN_WEIGHT, max: MAX_WEIGHT, noNaN: true }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(limits, (l) => {
        expect(limitsFromFields(limitsFields(l))).toEqual(l);
      }),
    );
  });

  it('a hash field that does not parse counts as no limit', () => {
    expect(limitsFromFields({ maxActive: 'many', rateMax: '20', weight: '-1' })).toEqual({});
  });
});

describe('the fair order', () => {
  it("spaces a key's tags 1000 / weight apart, at least 1", () => {
    expect(tagStep()).toBe(TAG_UNIT);
    expect(tagStep(2)).toBe(500);
    expect(tagStep(3)).toBe(333);
    expect(tagStep(MAX_WEIGHT)).toBe(1);
    expect(tagStep(MIN_WEIGHT)).toBe(1_000_000);
    fc.assert(
      fc.property(fc.double({ min: MIN_WEIGHT, max: MAX_WEIGHT, noNaN: true }), (w) => {
        expect(tagStep(w)).toBeGreaterThanOrEqual(1);
      }),
    );
  });

  it('puts a task in the band of its priority, 0 for none', () => {
    expect(bandOf(undefined)).toBe(0);
    expect(bandOf(7)).toBe(7);
  });
});

describe('a task\'s key', () => {
  it('is a name that builds no other Redis key, and not on a replicated task yet', () => {
    expect(taskInputSchema.parse({ type: 'x', key: 'tenant-42.eu@team:a_b' }).key).toBe('tenant-42.eu@team:a_b');
    for (const bad of ['', 'a{b}', 'a b', 'a/b', 'a*', 'x'.repeat(129)]) expect(taskInputSchema.safeParse({ type: 'x', key: bad }).success, bad).toBe(false);
    const r = taskInputSchema.safeParse({ type: 'x', key: 'k', consensus: { protocol: 'quorum', replicas: 3 } });
    expect(r.error!.issues[0]).toMatchObject({ path: ['key'], message: expect.stringMatching(/replicated task/) });
  });
});

describe('SWARMQ_KEYS', () => {
  it('is JSON of key → limits; a bad one names the setting', () => {
    expect(loadConfig({ SWARMQ_KEYS: '{"acme":{"maxActive":3,"rate":"20/s","weight":2}}' }).keys).toEqual({ acme: { maxActive: 3, rate: { max: 20, perMs: 1000 }, weight: 2 } });
    expect(loadConfig({}).keys).toEqual({});
    expect(() => loadConfig({ SWARMQ_KEYS: '{"acme":{"maxActive":"three"}}' })).toThrow(/keys\.acme\.maxActive \(SWARMQ_KEYS or its flag\)/);
    expect(() => loadConfig({ SWARMQ_KEYS: 'not json' })).toThrow(/SWARMQ_KEYS/);
    expect(() => loadConfig({ SWARMQ_KEYS: '{"a b":{}}' })).toThrow(/SWARMQ_KEYS/);
  });
});

describe('a task held for a slot', () => {
  it('is checked again after 5 s, later with many held, never past a minute', () => {
    expect(heldRecheckMs(1)).toBe(HELD_RECHECK_MS);
    expect(heldRecheckMs(1000)).toBe(20_000);
    expect(heldRecheckMs(1_000_000)).toBe(60_000);
  });
});
