// Which active jobs a host hands back after its connection was made again: only
// those taken for it before the drop, still locked, and held by none of its Workers.
import { describe, expect, it } from 'vitest';
import { unheldPickups, type ActiveRow } from '../../src/agents/unheldPickups.ts';

const row = (id: string, o: Partial<ActiveRow> = {}): ActiveRow => ({ id, takenBy: 'h1', takenAt: 1000, lockToken: `tok-${id}`, ...o });

describe('unheldPickups', () => {
  it('hands back a job taken for this host before the drop that no Worker here holds, with its lock token', () => {
    expect(unheldPickups([row('lost')], 'h1', 2000, new Set())).toEqual([{ id: 'lost', token: 'tok-lost' }]);
  });

  it('leaves a held job, another host\'s, one taken since the drop, one with no lock or no record of who took it', () => {
    const rows = [
      row('running'),
      row('other', { takenBy: 'h2' }),
      row('after', { takenAt: 2000 }),
      row('unlocked', { lockToken: null }),
      row('untaken', { takenBy: null }),
      row('undated', { takenAt: null }),
      row('lost'),
    ];
    expect(unheldPickups(rows, 'h1', 2000, new Set(['running'])).map((j) => j.id)).toEqual(['lost']);
  });
});
