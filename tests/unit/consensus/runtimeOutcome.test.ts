// The consensus runtime's pure parts: when an outcome is final, and how an
// inbox batch is read.
import { describe, expect, it } from 'vitest';
import { outcomeOf, parseDecisions } from '../../../src/consensus/runtime/outcome.ts';
import type { Decision, RoundSpec } from '../../../src/consensus/runtime/proposal.ts';
import { BATCH_FIELD, parseBatch } from '../../../src/consensus/runtime/wire.ts';

const spec = (protocol: RoundSpec['protocol'], n: number): RoundSpec => ({
  id: 'p-0000000000000001',
  protocol,
  value: '"v"',
  participants: Array.from({ length: n }, (_, i) => ({ id: `a${i}`, host: 'h', key: 'k' })),
  seed: 1,
  tickMs: 50,
  timeoutMs: 10_000,
  createdAt: 1000,
});
const d = (value: string, at: number, rounds = 1): Decision => ({ value, at, rounds });

describe('outcomeOf', () => {
  it('crash-fault protocols: final at the first decision; latency from the proposal to it', () => {
    const o = outcomeOf(spec('raft', 5), new Map([['a3', d('"v"', 1040, 2)]]), {});
    expect(o).toMatchObject({ decided: true, value: 'v', votes: 1, rounds: 2, latencyMs: 40, participants: 5 });
  });

  it('PBFT: final only once f+1 participants decided the same value', () => {
    const s = spec('pbft', 7); // f = 2
    expect(outcomeOf(s, new Map([['a0', d('"v"', 1010)], ['a1', d('"v"', 1020)]]), {}).decided).toBe(false);
    const o = outcomeOf(s, new Map([['a0', d('"v"', 1010)], ['a1', d('"v"', 1030)], ['a2', d('"v"', 1020)]]), { forged: '3' });
    expect(o).toMatchObject({ decided: true, value: 'v', votes: 3, latencyMs: 30, rejected: { forged: 3 } });
  });

  it('decisions of agents that are not participants count for nothing', () => {
    expect(outcomeOf(spec('pbft', 4), new Map([['a0', d('"v"', 1010)], ['intruder', d('"v"', 1010)]]), {}).decided).toBe(false);
  });

  it('parseDecisions skips what does not parse', () => {
    const m = parseDecisions({ a0: JSON.stringify(d('"v"', 1)), a1: 'not json', a2: JSON.stringify({ value: 1 }) });
    expect([...m.keys()]).toEqual(['a0']);
  });
});

describe('parseBatch', () => {
  it('reads the items of one stream entry and counts the ones that fail the schema', () => {
    const items = [{ k: 'done', round: 'p-1' }, { k: 'start', round: 'p-1', driver: '' }, { k: 'env', env: { any: 'thing' } }, 7];
    const b = parseBatch([BATCH_FIELD, JSON.stringify(items)]);
    expect(b.items).toEqual([{ k: 'done', round: 'p-1' }, { k: 'env', env: { any: 'thing' } }]);
    expect(b.bad).toBe(2);
  });

  it('an entry that is not a JSON array is one bad entry', () => {
    expect(parseBatch([BATCH_FIELD, '{"k":"done"}'])).toEqual({ items: [], bad: 1 });
    expect(parseBatch([BATCH_FIELD, 'garbage'])).toEqual({ items: [], bad: 1 });
    expect(parseBatch(['other', '[]'])).toEqual({ items: [], bad: 1 });
  });
});
