import { describe, expect, it } from 'vitest';
import { RoundTrace, startTracing, TRACE_PREFIX } from '../../../src/consensus/runtime/trace.ts';
import { parseTraceLines } from '../../../bench/support/consensusTrace.ts';

describe('round traces (SWARMQ_CONSENSUS_TRACE)', () => {
  it('writes one line per round: marks relative to the proposal, the first for mark and the last for markLast, sums added up', () => {
    const lines: string[] = [];
    startTracing((l) => lines.push(l));
    const t = new RoundTrace('p-1', 'ch0');
    t.createdAt = 1000;
    t.mark('arrive', 1004.5);
    t.mark('arrive', 1009);
    t.markLast('envLastArrive', 1010);
    t.markLast('envLastArrive', 1012.25);
    t.add('envIn', 2);
    t.add('envIn', 3);
    expect(t.has('arrive')).toBe(true);
    expect(t.has('decided')).toBe(false);
    t.write({ protocol: 'quorum' });
    t.write();
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith(TRACE_PREFIX)).toBe(true);
    const [parsed] = parseTraceLines(`noise\n${lines[0]}\n`);
    expect(parsed).toMatchObject({ round: 'p-1', who: 'ch0', protocol: 'quorum', marks: { arrive: 4.5, envLastArrive: 12.25 }, sums: { envIn: 5 } });
    expect(parsed!.sums.cpuMs).toBeGreaterThanOrEqual(0);
  });
});
