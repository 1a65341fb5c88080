// Unit and property tests for the Redis record parsers (src/swarm/records.ts).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { z } from 'zod';
import { agentProfile, agentRecordSchema, cancelledRecordSchema, nodeRecordSchema, parseHash, type AgentRecord } from '../../src/swarm/records.ts';

const NUM_RUNS = 300;

const goodAgent = (over: Partial<AgentRecord> = {}): AgentRecord => ({
  id: 'h1-a1',
  type: 'coder',
  capabilities: ['py'],
  taskTypes: ['build', 'lint'],
  capacity: 2,
  node: 'n1',
  hostId: 'h1',
  startedAt: 1_700_000_000_000,
  ...over,
});

function collect<T>(hash: Record<string, string>, schema: z.ZodType<T>) {
  const bad: { key: string; err: string }[] = [];
  const out = parseHash(hash, schema, (key, err) => bad.push({ key, err }));
  return { out, bad };
}

describe('parseHash', () => {
  it('parses every good entry and reports none', () => {
    const a1 = goodAgent();
    const a2 = goodAgent({ id: 'h1-a2', capabilities: [], taskTypes: ['test'], capacity: 1 });
    const { out, bad } = collect({ [a1.id]: JSON.stringify(a1), [a2.id]: JSON.stringify(a2) }, agentRecordSchema);
    expect(bad).toEqual([]);
    expect([...out.keys()].sort()).toEqual(['h1-a1', 'h1-a2']);
    expect(out.get('h1-a1')).toEqual(a1);
    expect(out.get('h1-a2')).toEqual(a2);
  });

  it('an empty hash gives an empty map', () => {
    const { out, bad } = collect({}, agentRecordSchema);
    expect(out.size).toBe(0);
    expect(bad).toEqual([]);
  });

  it('reports a value that is not JSON, and keeps the rest', () => {
    const a = goodAgent();
    const { out, bad } = collect({ broken: '{"id":', [a.id]: JSON.stringify(a) }, agentRecordSchema);
    expect(bad).toEqual([{ key: 'broken', err: 'not JSON' }]);
    expect([...out.keys()]).toEqual([a.id]);
  });

  it('reports JSON that fails the schema with the failing field, and keeps the rest', () => {
    const a = goodAgent();
    const { out, bad } = collect(
      {
        noCapacity: JSON.stringify({ ...a, capacity: 0 }),
        missingNode: JSON.stringify({ ...a, node: undefined }),
        [a.id]: JSON.stringify(a),
        wrongShape: '[1,2,3]',
        nul: 'null',
      },
      agentRecordSchema,
    );
    expect(out.size).toBe(1);
    expect(out.get(a.id)).toEqual(a);
    expect(bad.map((b) => b.key).sort()).toEqual(['missingNode', 'noCapacity', 'nul', 'wrongShape']);
    expect(bad.find((b) => b.key === 'noCapacity')!.err).toContain('capacity');
    expect(bad.find((b) => b.key === 'missingNode')!.err).toContain('node');
  });

  it('does not throw on bad entries', () => {
    expect(() => parseHash({ x: 'not json at all', y: '"a string"' }, nodeRecordSchema, () => {})).not.toThrow();
  });

  it('works for node and cancelled records too', () => {
    const n = { id: 'n1', seq: 1, queue: 'node-n1', profile: 'coder||build', members: 3, createdAt: 1 };
    const c = { id: 'n1.abc', type: 'build', node: 'n1', createdAt: 1, attempts: 1, cancelledAt: 2 };
    expect(collect({ n1: JSON.stringify(n), bad: JSON.stringify({ ...n, members: -1 }) }, nodeRecordSchema).out).toEqual(new Map([['n1', n]]));
    expect(collect({ [c.id]: JSON.stringify(c) }, cancelledRecordSchema).out).toEqual(new Map([[c.id, c]]));
  });

  it('splits any mix of good and bad entries exactly: each good one kept, each bad one reported once (property)', () => {
    const entryArb = fc.oneof(
      fc.record({ good: fc.constant(true), capacity: fc.integer({ min: 1, max: 50 }) }),
      fc.record({
        good: fc.constant(false),
        raw: fc.oneof(
          fc.constant('{'),
          fc.constant(''),
          fc.constant('null'),
          fc.jsonValue().map((v) => JSON.stringify(v)).filter((s) => s !== undefined),
          fc.integer({ max: 0 }).map((capacity) => JSON.stringify(goodAgent({ capacity }))),
        ),
      }),
    );
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(fc.stringMatching(/^k[0-9a-z]{1,6}$/), entryArb), { selector: ([k]) => k, maxLength: 12 }), (entries) => {
        const hash: Record<string, string> = {};
        const goodKeys: string[] = [];
        const badKeys: string[] = [];
        for (const [k, e] of entries) {
          if (e.good) {
            hash[k] = JSON.stringify(goodAgent({ id: k, capacity: e.capacity }));
            goodKeys.push(k);
          } else {
            hash[k] = e.raw;
            badKeys.push(k);
          }
        }
        const { out, bad } = collect(hash, agentRecordSchema);
        expect([...out.keys()].sort()).toEqual(goodKeys.sort());
        expect(bad.map((b) => b.key).sort()).toEqual(badKeys.sort());
        for (const k of goodKeys) expect(out.get(k)!.id).toBe(k);
        for (const b of bad) expect(b.err.length).toBeGreaterThan(0);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('agent records: the cjson empty-array quirk', () => {
  it('reads capabilities stored as {} as []', () => {
    const raw = JSON.stringify({ ...goodAgent(), capabilities: {} });
    const { out, bad } = collect({ a: raw }, agentRecordSchema);
    expect(bad).toEqual([]);
    expect(out.get('a')!.capabilities).toEqual([]);
    expect(Array.isArray(out.get('a')!.capabilities)).toBe(true);
  });

  it('reads taskTypes stored as {} as []', () => {
    const raw = JSON.stringify({ ...goodAgent(), taskTypes: {} });
    const { out, bad } = collect({ a: raw }, agentRecordSchema);
    expect(bad).toEqual([]);
    expect(out.get('a')!.taskTypes).toEqual([]);
  });

  it('reads both at once, as cjson writes an agent with neither', () => {
    const parsed = agentRecordSchema.parse({ ...goodAgent(), capabilities: {}, taskTypes: {} });
    expect(parsed.capabilities).toEqual([]);
    expect(parsed.taskTypes).toEqual([]);
  });

  it('keeps a real array as is', () => {
    expect(agentRecordSchema.parse(goodAgent({ capabilities: ['gpu', 'py'] })).capabilities).toEqual(['gpu', 'py']);
  });

  it('still rejects lists that are neither an array nor an object', () => {
    for (const v of [null, 'py', 3, true, [1], ['ok', 2]]) {
      expect(agentRecordSchema.safeParse({ ...goodAgent(), capabilities: v }).success, JSON.stringify(v)).toBe(false);
      expect(agentRecordSchema.safeParse({ ...goodAgent(), taskTypes: v }).success, JSON.stringify(v)).toBe(false);
    }
  });
});

describe('agentProfile', () => {
  const word = fc.stringMatching(/^[a-z0-9_.-]{1,8}$/);

  it('is independent of the order of capabilities and taskTypes (property)', () => {
    const arb = fc
      .record({ type: word, capabilities: fc.array(word, { maxLength: 6 }), taskTypes: fc.array(word, { maxLength: 6 }) })
      .chain((a) =>
        fc.tuple(
          fc.constant(a),
          fc.shuffledSubarray(a.capabilities, { minLength: a.capabilities.length, maxLength: a.capabilities.length }),
          fc.shuffledSubarray(a.taskTypes, { minLength: a.taskTypes.length, maxLength: a.taskTypes.length }),
        ),
      );
    fc.assert(
      fc.property(arb, ([a, caps, types]) => {
        expect(agentProfile({ type: a.type, capabilities: caps, taskTypes: types })).toBe(agentProfile(a));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('does not sort its input in place', () => {
    const caps = ['z', 'a'];
    const types = ['y', 'b'];
    agentProfile({ type: 't', capabilities: caps, taskTypes: types });
    expect(caps).toEqual(['z', 'a']);
    expect(types).toEqual(['y', 'b']);
  });

  it('tells apart agents that differ in type, capability set or task-type set (property, separator-free names)', () => {
    const profileArb = fc.record({
      type: word,
      capabilities: fc.uniqueArray(word, { maxLength: 4 }),
      taskTypes: fc.uniqueArray(word, { maxLength: 4 }),
    });
    const key = (a: { type: string; capabilities: string[]; taskTypes: string[] }) =>
      JSON.stringify([a.type, [...a.capabilities].sort(), [...a.taskTypes].sort()]);
    fc.assert(
      fc.property(profileArb, profileArb, (a, b) => {
        expect(agentProfile(a) === agentProfile(b)).toBe(key(a) === key(b));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('distinguishes capabilities from task types', () => {
    expect(agentProfile({ type: 'x', capabilities: ['a'], taskTypes: [] })).not.toBe(agentProfile({ type: 'x', capabilities: [], taskTypes: ['a'] }));
  });
});
