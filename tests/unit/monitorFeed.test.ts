// The test MONITOR reader's parsing of Redis's feed lines (tests/support/monitor.ts).
import { describe, expect, it } from 'vitest';
import { parseArgs, parseFeedLine } from '../support/monitor.ts';

describe('MONITOR feed lines', () => {
  it('reads the source, the command lower-cased and its arguments', () => {
    expect(parseFeedLine('1796302775.231709 [0 127.0.0.1:36790] "EVALSHA" "8fda" "2" "p:{swarm}:loads-version"')).toEqual({
      source: '127.0.0.1:36790',
      cmd: 'evalsha',
      args: ['8fda', '2', 'p:{swarm}:loads-version'],
    });
    expect(parseFeedLine('1796302775.2 [0 lua] "zcard" "k"')).toEqual({ source: 'lua', cmd: 'zcard', args: ['k'] });
  });

  it('undoes the escapes Redis writes', () => {
    expect(parseArgs('"a\\"b" "c\\\\d" "\\x00\\xff" "line\\nnext" ""')).toEqual(['a"b', 'c\\d', '\x00\xff', 'line\nnext', '']);
  });

  it('is not fooled by a line that is not a command', () => {
    expect(parseFeedLine('OK')).toBeUndefined();
  });
});
