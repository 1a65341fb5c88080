// The Prometheus text exposition format, checked: by promtool when it is on
// PATH (CI may lack it), else by a parser of the format's grammar here, which
// says that it stood in.
import { spawnSync } from 'node:child_process';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: -?\\d+)?$`);
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseProm(text: string): { samples: Sample[]; types: Map<string, string>; problems: string[] } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const problems: string[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      if (!name || !['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type ?? '')) problems.push(`bad TYPE line: ${line}`);
      else types.set(name, type!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) {
      problems.push(`not a sample: ${line}`);
      continue;
    }
    const value = Number(m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : m[3]);
    if (Number.isNaN(value) && m[3] !== 'NaN') problems.push(`bad value: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!;
    const family = m[1]!.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(m[1]!) && !types.has(family)) problems.push(`sample without a TYPE: ${m[1]}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { samples, types, problems };
}

/** promtool's verdict, or null when promtool is not installed. */
export function promtoolCheck(text: string): { ok: boolean; output: string } | null {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return null;
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

export function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value;
}

export function sum(samples: Sample[], name: string): number {
  return samples.filter((x) => x.name === name).reduce((a, b) => a + b.value, 0);
}
