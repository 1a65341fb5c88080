// Unit and property tests for task input validation (src/tasks/schema.ts) and
// task ids (src/tasks/ids.ts).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { taskInputSchema, taskOptionsSchema } from '../../src/tasks/schema.ts';
import { describeIssues, issuesOf } from '../../src/validation.ts';
import { newTaskId, nodeOfTaskId } from '../../src/tasks/ids.ts';

const NUM_RUNS = 300;
const MAX_PRIORITY = 2_097_152;
const DAY_MS = 24 * 3600 * 1000;

const typeArb = fc.stringMatching(/^[A-Za-z0-9_.-]{1,128}$/);
const nodeIdArb = fc.stringMatching(/^[A-Za-z0-9_-]+$/);

const validInputArb = fc.record(
  {
    type: typeArb,
    payload: fc.jsonValue(),
    priority: fc.integer({ min: 1, max: MAX_PRIORITY }),
    affinity: fc.record(
      {
        agentType: fc.string({ minLength: 1, maxLength: 128 }),
        capabilities: fc.array(fc.string({ minLength: 1, maxLength: 128 }), { maxLength: 64 }),
      },
      { requiredKeys: [] },
    ),
    timeoutMs: fc.integer({ min: 1, max: DAY_MS }),
    attempts: fc.integer({ min: 1, max: 100 }),
    idempotencyKey: fc.string({ minLength: 1, maxLength: 256 }),
  },
  { requiredKeys: ['type'] },
);

function pathsOf(r: { success: boolean; error?: unknown }): string[] {
  if (r.success) return [];
  return issuesOf(r.error as Parameters<typeof issuesOf>[0]).map((i) => i.path);
}

describe('taskInputSchema', () => {
  it('accepts a minimal task', () => {
    expect(taskInputSchema.parse({ type: 'build' })).toEqual({ type: 'build' });
  });

  it('accepts a full task and returns it unchanged', () => {
    const t = {
      type: 'code.review_v2-x',
      payload: { repo: 'a/b', files: [1, 2] },
      priority: 5,
      affinity: { agentType: 'coder', capabilities: ['py', 'gpu'] },
      timeoutMs: 60_000,
      attempts: 3,
      idempotencyKey: 'req-42',
    };
    expect(taskInputSchema.parse(t)).toEqual(t);
  });

  it('accepts any valid input and returns it unchanged (property)', () => {
    fc.assert(
      fc.property(validInputArb, (t) => {
        const r = taskInputSchema.safeParse(t);
        expect(r.success, r.success ? '' : describeIssues(r.error)).toBe(true);
        if (r.success) expect(r.data).toEqual(t);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('requires a type', () => {
    const r = taskInputSchema.safeParse({ payload: 1 });
    expect(r.success).toBe(false);
    expect(pathsOf(r)).toContain('type');
  });

  it('rejects unknown top-level fields (strict), naming them', () => {
    const r = taskInputSchema.safeParse({ type: 'build', priorty: 3 });
    expect(r.success).toBe(false);
    if (!r.success) expect(describeIssues(r.error)).toContain('priorty');
  });

  it('rejects unknown fields inside affinity (strict)', () => {
    const r = taskInputSchema.safeParse({ type: 'build', affinity: { agentType: 'coder', gpu: true } });
    expect(r.success).toBe(false);
    expect(pathsOf(r)).toContain('affinity');
  });

  it('rejects any unknown field added to a valid task (property)', () => {
    // Every field the schema knows, read from it: a list written here fell behind when `key` and `budget` came (a CI run drew `key`).
    const known = new Set(Object.keys(taskInputSchema.shape));
    expect([...known]).toEqual(expect.arrayContaining(['type', 'payload', 'priority', 'key', 'budget']));
    const extraKey = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !known.has(k) && k !== '__proto__');
    fc.assert(
      fc.property(validInputArb, extraKey, fc.jsonValue(), (t, k, v) => {
        expect(taskInputSchema.safeParse({ ...t, [k]: v }).success).toBe(false);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('priority: integers 1..2,097,152 only', () => {
    for (const p of [1, 2, 1000, MAX_PRIORITY]) expect(taskInputSchema.safeParse({ type: 't', priority: p }).success, `priority ${p}`).toBe(true);
    for (const p of [0, -1, MAX_PRIORITY + 1, 1.5, Number.NaN, Infinity, '3', null]) {
      const r = taskInputSchema.safeParse({ type: 't', priority: p });
      expect(r.success, `priority ${String(p)}`).toBe(false);
      expect(pathsOf(r)).toEqual(['priority']);
    }
  });

  it('priority: property over integers', () => {
    fc.assert(
      fc.property(fc.integer({ min: -10, max: MAX_PRIORITY + 10 }), (p) => {
        expect(taskInputSchema.safeParse({ type: 't', priority: p }).success).toBe(p >= 1 && p <= MAX_PRIORITY);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('attempts: integers 1..100 only', () => {
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 110 }), (n) => {
        expect(taskInputSchema.safeParse({ type: 't', attempts: n }).success).toBe(n >= 1 && n <= 100);
      }),
      { numRuns: NUM_RUNS },
    );
    expect(taskInputSchema.safeParse({ type: 't', attempts: 2.5 }).success).toBe(false);
  });

  it('timeoutMs: positive integer up to one day', () => {
    expect(taskInputSchema.safeParse({ type: 't', timeoutMs: 1 }).success).toBe(true);
    expect(taskInputSchema.safeParse({ type: 't', timeoutMs: DAY_MS }).success).toBe(true);
    expect(taskInputSchema.safeParse({ type: 't', timeoutMs: 0 }).success).toBe(false);
    expect(taskInputSchema.safeParse({ type: 't', timeoutMs: DAY_MS + 1 }).success).toBe(false);
    expect(taskInputSchema.safeParse({ type: 't', timeoutMs: 10.5 }).success).toBe(false);
  });

  it('idempotencyKey: 1..256 characters', () => {
    expect(taskInputSchema.safeParse({ type: 't', idempotencyKey: '' }).success).toBe(false);
    expect(taskInputSchema.safeParse({ type: 't', idempotencyKey: 'k'.repeat(256) }).success).toBe(true);
    expect(taskInputSchema.safeParse({ type: 't', idempotencyKey: 'k'.repeat(257) }).success).toBe(false);
  });

  it('affinity: bounded, non-empty strings', () => {
    expect(taskInputSchema.safeParse({ type: 't', affinity: {} }).success).toBe(true);
    expect(taskInputSchema.safeParse({ type: 't', affinity: { agentType: '' } }).success).toBe(false);
    expect(taskInputSchema.safeParse({ type: 't', affinity: { capabilities: [''] } }).success).toBe(false);
    expect(taskInputSchema.safeParse({ type: 't', affinity: { capabilities: Array.from({ length: 64 }, (_, i) => `c${i}`) } }).success).toBe(true);
    expect(taskInputSchema.safeParse({ type: 't', affinity: { capabilities: Array.from({ length: 65 }, (_, i) => `c${i}`) } }).success).toBe(false);
    expect(taskInputSchema.safeParse({ type: 't', affinity: { agentType: 'x'.repeat(129) } }).success).toBe(false);
  });

  it('type: letters, digits, "_", "." and "-", 1..128 characters', () => {
    expect(taskInputSchema.safeParse({ type: '' }).success).toBe(false);
    expect(taskInputSchema.safeParse({ type: 'a'.repeat(128) }).success).toBe(true);
    expect(taskInputSchema.safeParse({ type: 'a'.repeat(129) }).success).toBe(false);
    for (const bad of ['a b', 'a:b', 'a/b', 'a|b', 'a,b', 'é', 'a\n', ' a', 'a*']) {
      const r = taskInputSchema.safeParse({ type: bad });
      expect(r.success, JSON.stringify(bad)).toBe(false);
      expect(pathsOf(r)).toEqual(['type']);
    }
  });

  it('type: any string with a character outside the alphabet is rejected (property)', () => {
    const okPart = fc.string({ maxLength: 20, unit: fc.constantFrom(...'abcXYZ019_.-') });
    const badChar = fc.oneof(
      fc.constantFrom(' ', ':', '/', '|', ',', '*', '\n', '\0', 'é', '😀'),
      fc
        .integer({ min: 0, max: 0x10ffff })
        .map((cp) => String.fromCodePoint(cp))
        .filter((c) => !/^[A-Za-z0-9_.-]$/.test(c)),
    );
    fc.assert(
      fc.property(okPart, badChar, okPart, (pre, c, post) => {
        expect(taskInputSchema.safeParse({ type: pre + c + post }).success).toBe(false);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('type: any string in the alphabet is accepted (property)', () => {
    fc.assert(
      fc.property(typeArb, (type) => {
        expect(taskInputSchema.safeParse({ type }).success).toBe(true);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('payload is optional and may be anything', () => {
    for (const payload of [null, 0, 'x', [1, 2], { deep: { a: [null] } }, undefined]) {
      expect(taskInputSchema.safeParse({ type: 't', payload }).success).toBe(true);
    }
  });
});

describe('taskOptionsSchema', () => {
  it('accepts empty options', () => {
    expect(taskOptionsSchema.parse({})).toEqual({});
  });

  it('is strict and has no type or payload of its own', () => {
    expect(taskOptionsSchema.safeParse({ type: 'build' }).success).toBe(false);
    expect(taskOptionsSchema.safeParse({ payload: 1 }).success).toBe(false);
    expect(taskOptionsSchema.safeParse({ priority: 1, extra: true }).success).toBe(false);
  });

  it('shares the bounds of the task input', () => {
    expect(taskOptionsSchema.safeParse({ priority: MAX_PRIORITY, attempts: 100 }).success).toBe(true);
    expect(taskOptionsSchema.safeParse({ priority: MAX_PRIORITY + 1 }).success).toBe(false);
    expect(taskOptionsSchema.safeParse({ attempts: 0 }).success).toBe(false);
    expect(taskOptionsSchema.safeParse({ attempts: 101 }).success).toBe(false);
  });
});

describe('task ids', () => {
  it('name the node they were routed to (property)', () => {
    fc.assert(
      fc.property(nodeIdArb, (n) => {
        const id = newTaskId(n);
        expect(id.startsWith(`${n}.`)).toBe(true);
        expect(nodeOfTaskId(id)).toBe(n);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('are valid BullMQ custom ids: no ":" and never an integer (property)', () => {
    fc.assert(
      fc.property(nodeIdArb, (n) => {
        const id = newTaskId(n);
        expect(id).not.toContain(':');
        expect(`${parseInt(id, 10)}`).not.toBe(id);
        expect(id).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{12}$/);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('are unique over 10,000 draws', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) ids.add(newTaskId('n1'));
    expect(ids.size).toBe(10_000);
  });

  it('nodeOfTaskId: undefined for ids that name no node', () => {
    expect(nodeOfTaskId('')).toBeUndefined();
    expect(nodeOfTaskId('n1')).toBeUndefined();
    expect(nodeOfTaskId('.abc')).toBeUndefined();
    expect(nodeOfTaskId('n1.')).toBeUndefined();
    expect(nodeOfTaskId('.')).toBeUndefined();
  });

  it('nodeOfTaskId: the part before the first dot', () => {
    expect(nodeOfTaskId('n1.abc')).toBe('n1');
    expect(nodeOfTaskId('n12.a.b')).toBe('n12');
  });
});
