// The core bench's cost mode reads Redis's own accounting; these are its pure
// pieces: INFO commandstats parsing and the slowlog grouping by script.
import { describe, expect, it } from 'vitest';
import { diffCommandStats, parseCommandStats, parseRedisCpuUs, sumStats } from '../../bench/support/commandStats.ts';
import { emptyTally, foldSlowlog, groupOf, parseSlowlog, medianPerCall, sentTotals, statName, type ScriptNames, type SlowlogEntry } from '../../bench/support/slowlogGroups.ts';

const SHA_A = 'a'.repeat(40);
const names: ScriptNames = {
  bySha: new Map([[SHA_A, 'swarmq:getTask']]),
  byText: [['--[[\n  Adds a job to the queue', 'bullmq:addStandardJob']],
};
const entry = (id: number, us: number, args: string[], addr = '127.0.0.1:5000', name = ''): SlowlogEntry => ({ id, us, args, addr, name });
const none = () => false;

describe('INFO commandstats and cpu', () => {
  it('reads calls and usec per command, subcommands as Redis names them', () => {
    const info = '# Commandstats\r\ncmdstat_evalsha:calls=12,usec=340,usec_per_call=28.33,rejected_calls=0,failed_calls=0\r\ncmdstat_client|setname:calls=2,usec=7,usec_per_call=3.50\r\n';
    const m = parseCommandStats(info);
    expect(m.get('evalsha')).toEqual({ calls: 12, usec: 340 });
    expect(m.get('client|setname')).toEqual({ calls: 2, usec: 7 });
  });

  it('diffs two snapshots, a command first seen in the second counting from zero', () => {
    const a = new Map([['get', { calls: 5, usec: 10 }], ['set', { calls: 1, usec: 2 }]]);
    const b = new Map([['get', { calls: 8, usec: 16 }], ['set', { calls: 1, usec: 2 }], ['zadd', { calls: 2, usec: 4 }]]);
    const d = diffCommandStats(a, b);
    expect([...d]).toEqual([['get', { calls: 3, usec: 6 }], ['zadd', { calls: 2, usec: 4 }]]);
    expect(sumStats(d, (n) => n === 'zadd')).toEqual({ calls: 3, usec: 6 });
  });

  it('adds user and system CPU seconds as µs', () => {
    expect(parseRedisCpuUs('# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:0.250000\r\nused_cpu_sys_children:9.0\r\n')).toBeCloseTo(1_750_000);
  });
});

describe('slowlog grouping', () => {
  it('parses SLOWLOG GET and refuses a shape it does not know', () => {
    expect(parseSlowlog([[7, 1700000000, 12, ['GET', 'k'], '127.0.0.1:1', 'me']])).toEqual([entry(7, 12, ['GET', 'k'], '127.0.0.1:1', 'me')]);
    expect(() => parseSlowlog([[7, 'x']])).toThrow();
  });

  it('names scripts by sha, by the first bytes of an EVAL text, unknown ones by sha prefix; subcommands as commandstats does', () => {
    expect(groupOf(['EVALSHA', SHA_A.toUpperCase(), '9'], names)).toEqual({ key: 'swarmq:getTask', script: true });
    expect(groupOf(['evalsha_ro', 'b'.repeat(40), '1'], names)).toEqual({ key: 'sha bbbbbbbb', script: true });
    expect(groupOf(['EVAL', '--[[\n  Adds a job to the queue by doing... (4000 more bytes)', '9'], names)).toEqual({ key: 'bullmq:addStandardJob', script: true });
    expect(groupOf(['FCALL', 'myfn', '0'], names)).toEqual({ key: 'function myfn', script: true });
    expect(groupOf(['CLIENT', 'SETNAME', 'x'], names)).toEqual({ key: 'client|setname', script: false });
    expect(statName(['ZADD', 'k', '1', 'm'])).toBe('zadd');
  });

  it('keeps a script\'s inner commands apart, under that script, and counts them once in the totals', () => {
    // Newest first, as SLOWLOG GET returns them: the script (id 3) after its two redis.call entries.
    const drain = [
      entry(4, 2, ['GET', 'x']),
      entry(3, 30, ['EVALSHA', SHA_A, '0']),
      entry(2, 5, ['zadd', 'k', '1', 'm'], '?:0'),
      entry(1, 4, ['hset', 'h', 'f', 'v'], '?:0'),
    ];
    const t = foldSlowlog(emptyTally(), drain, names, none);
    expect(t.sent.get('swarmq:getTask')).toMatchObject({ calls: 1, us: 30, script: true });
    expect(t.sent.get('get')).toMatchObject({ calls: 1, us: 2, script: false });
    expect(t.sent.has('zadd')).toBe(false);
    expect([...t.inside.get('swarmq:getTask')!]).toEqual([['hset', { calls: 1, us: 4 }], ['zadd', { calls: 1, us: 5 }]]);
    expect(sentTotals(t)).toMatchObject({ calls: 2, us: 32, scriptUs: 30 });
    // Every entry, for the check against commandstats (which counts nested commands too).
    expect(t.byStatName.get('zadd')).toEqual({ calls: 1, us: 5 });
    expect(t.byStatName.get('evalsha')).toEqual({ calls: 1, us: 30 });
  });

  it('counts a left-out client apart and sees entries lost between drains beyond the drain\'s own', () => {
    const t = emptyTally();
    foldSlowlog(t, [entry(10, 3, ['ZCARD', 'k'], '127.0.0.1:2', 'bench:cost:observer'), entry(9, 1, ['GET', 'a'])], names, (e) => e.name === 'bench:cost:observer');
    expect(t.leftOut.get('zcard')).toEqual({ calls: 1, us: 3 });
    expect(t.sent.has('zcard')).toBe(false);
    // id 11 was the drain's own SLOWLOG GET, cleared by its RESET: expected, not lost.
    foldSlowlog(t, [entry(12, 1, ['GET', 'a'])], names, none);
    expect(t.lost).toBe(0);
    foldSlowlog(t, [entry(20, 1, ['GET', 'a'])], names, none);
    expect(t.lost).toBe(6);
  });

  it('reads a median per call, which OS pauses inside a few calls do not move, and totals it as typical µs', () => {
    expect(medianPerCall(new Map([[10, 60], [5000, 40]]))).toBe(10);
    expect(medianPerCall(new Map([[4, 1], [6, 1], [8, 2]]))).toBe(6);
    expect(medianPerCall(new Map())).toBe(0);
    const t = foldSlowlog(emptyTally(), [entry(1, 10, ['GET', 'a']), entry(2, 10, ['GET', 'a']), entry(3, 900, ['GET', 'a'])], names, none);
    expect(sentTotals(t)).toMatchObject({ calls: 3, us: 920, typicalUs: 30 });
  });
});
