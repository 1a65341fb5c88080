// `consensus --trace`: where a round's time goes. Every process of the run
// (the proposer and driver here, each agent host) writes one trace line per
// round (src/consensus/runtime/trace.ts); this joins them by round and prints,
// per protocol, the p50/p90/max over rounds of each phase's end, in ms after
// the proposal was made, plus per-round CPU, GC and message counts.
import { TRACE_PREFIX } from '../../src/consensus/runtime/trace.ts';
import { round, textTable } from './measure.ts';

interface Line {
  round: string;
  who: string;
  marks: Record<string, number>;
  sums: Record<string, number>;
}

export function parseTraceLines(text: string): Line[] {
  const out: Line[] = [];
  for (const l of text.split('\n')) {
    const at = l.indexOf(TRACE_PREFIX);
    if (at < 0) continue;
    try {
      out.push(JSON.parse(l.slice(at + TRACE_PREFIX.length)) as Line);
    } catch {
      // a line cut by the process's end
    }
  }
  return out;
}

function pct(xs: number[], p: number): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const HOST_MARKS = ['added', 'arrive', 'handled', 'loadRead', 'verified', 'built', 'flushed', 'envArrive', 'envLastArrive', 'decided', 'decisionWritten'] as const;
const SUMS = ['cpuMs', 'gcMs', 'handleMs', 'flushMs', 'queuedMs', 'passes', 'bytesOut', 'xadds', 'envIn', 'itemsOut', 'ticks'] as const;

/** One table per protocol: the phases of its measured rounds (`rounds`: their ids and decision latencies). */
export function traceReport(protocol: string, rounds: ReadonlyMap<string, number>, lines: readonly Line[]): string {
  const by = new Map<string, Line[]>();
  for (const l of lines) if (rounds.has(l.round)) by.set(l.round, [...(by.get(l.round) ?? []), l]);
  const rows: (string | number)[][] = [];
  const col = (label: string, xs: number[]) => rows.push([label, round(pct(xs, 50), 1), round(pct(xs, 90), 1), round(pct(xs, 100), 1), xs.length]);
  const get = (f: (ls: Line[], latency: number) => number | undefined) => [...by].map(([id, ls]) => f(ls, rounds.get(id)!)).filter((x): x is number => x !== undefined);
  const of = (ls: Line[], who: string) => ls.find((l) => l.who === who);
  const hosts = (ls: Line[]) => ls.filter((l) => l.who !== 'proposer' && l.who !== 'driver');
  const decider = (ls: Line[]) => hosts(ls).filter((l) => l.marks.decided !== undefined).sort((a, b) => a.marks.decided! - b.marks.decided!)[0];
  for (const m of ['signed', 'added', 'noticed']) col(`proposer ${m}`, get((ls) => of(ls, 'proposer')?.marks[m]));
  for (const m of HOST_MARKS) {
    col(`host ${m} (first host)`, get((ls) => Math.min(...hosts(ls).map((h) => h.marks[m] ?? Infinity))));
    col(`host ${m} (last host)`, get((ls) => Math.max(...hosts(ls).map((h) => h.marks[m] ?? -Infinity))));
  }
  for (const m of ['arrive', 'built', 'flushed', 'envArrive', 'envLastArrive', 'decided']) col(`decider ${m}`, get((ls) => decider(ls)?.marks[m]));
  col('decision latency (outcome)', get((_ls, lat) => lat));
  for (const m of ['picked', 'outcome', 'done']) col(`driver ${m}`, get((ls) => of(ls, 'driver')?.marks[m]));
  for (const s of SUMS) col(`per round, all hosts: ${s}`, get((ls) => hosts(ls).reduce((a, h) => a + (h.sums[s] ?? 0), 0)));
  col('per round, decider host: cpuMs', get((ls) => decider(ls)?.sums.cpuMs));
  col('per round, driver reads', get((ls) => of(ls, 'driver')?.sums.reads));
  const slow = [...rounds].sort((a, b) => b[1] - a[1]).slice(0, 3);
  const slowText = slow
    .map(([id, lat]) => {
      const ls = by.get(id) ?? [];
      return `  ${id} (${lat} ms): ${ls.map((l) => `${l.who} ${Object.entries(l.marks).map(([k, v]) => `${k}=${v}`).join(' ')} | ${Object.entries(l.sums).map(([k, v]) => `${k}=${v}`).join(' ')}`).join('\n      ')}`;
    })
    .join('\n');
  return `trace: ${protocol} (ms after the proposal was made; ${by.size} rounds)\n${textTable(['phase', 'p50', 'p90', 'max', 'rounds'], rows)}\nslowest rounds:\n${slowText}`;
}
