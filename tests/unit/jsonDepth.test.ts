// The depth bound (src/tasks/jsonDepth.ts): exact at the boundary, names the
// field, and never recurses, so no depth a producer sends can overflow it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SwarmError } from '../../src/errors.ts';
import { checkFieldDepth, tooDeepAt } from '../../src/tasks/jsonDepth.ts';

function nested(depth: number, kind: 'array' | 'object' = 'array'): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { k: v };
  return v;
}

/** The depth as defined: each object or array one level; computed the obvious (recursive) way, for small values. */
function depthOf(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  const children = Array.isArray(v) ? v : Object.values(v);
  return 1 + Math.max(0, ...children.map(depthOf));
}

describe('tooDeepAt', () => {
  it('scalars and values up to the bound pass; one level more is caught, with the path to it', () => {
    expect(tooDeepAt(7, 1)).toBeUndefined();
    expect(tooDeepAt(null, 1)).toBeUndefined();
    expect(tooDeepAt(nested(64), 64)).toBeUndefined();
    expect(tooDeepAt(nested(65), 64)).toEqual(Array(64).fill(0));
    expect(tooDeepAt({ a: [1, { b: [[]] }] }, 3)).toEqual(['a', 1, 'b']);
    expect(tooDeepAt({ a: [1, { b: [[]] }] }, 4)).toEqual(['a', 1, 'b', 0]);
    expect(tooDeepAt({ a: [1, { b: [[]] }] }, 5)).toBeUndefined();
  });

  it('agrees with the recursive definition on any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 1, max: 10 }), (v, max) => {
        expect(tooDeepAt(v, max) === undefined).toBe(depthOf(v) <= max);
      }),
      { numRuns: 500 },
    );
  });

  it('walks a value a million levels deep, arrays or objects, without overflowing the stack', () => {
    for (const kind of ['array', 'object'] as const) {
      const path = tooDeepAt(nested(1_000_000, kind), 64);
      expect(path).toHaveLength(64);
    }
  });

  it('a cycle (the client takes objects, not JSON) counts as too deep rather than looping', () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = a;
    expect(tooDeepAt(a, 64)).toHaveLength(64);
  });
});

describe('checkFieldDepth', () => {
  it('bounds each field of an input, naming the field with its place and the setting', () => {
    expect(() => checkFieldDepth({ type: 'echo', payload: nested(64) }, 64)).not.toThrow();
    const err = (() => {
      try {
        checkFieldDepth({ type: 'echo', payload: nested(5000) }, 64, 'tasks.3.');
      } catch (e) {
        return e;
      }
    })() as SwarmError;
    expect(err).toBeInstanceOf(SwarmError);
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/^tasks\.3\.payload is nested deeper than 64 levels.*http\.maxJsonDepth/);
    expect(err.details).toEqual([{ path: 'tasks.3.payload', message: 'nested deeper than 64 levels (http.maxJsonDepth)' }]);
  });
});
