// Rewrites tests/durations.json (the order tests/sequencer.ts starts files in)
// from a vitest JSON report: `npm run test:durations`. A file run twice (once
// more on a Cluster) keeps its longer run; files under two seconds are left
// out, since they count as short anyway.
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { z } from 'zod';

const report = z.object({ testResults: z.array(z.object({ name: z.string(), startTime: z.number(), endTime: z.number() })) });
const [from = '.scratch/test-report.json'] = process.argv.slice(2);
const parsed = report.safeParse(JSON.parse(readFileSync(from, 'utf8')));
if (!parsed.success) {
  console.error(`${from} is not a vitest JSON report (run vitest with --reporter=json --outputFile=${from}): ${parsed.error.message}`);
  process.exit(1);
}
const seconds = new Map<string, number>();
for (const f of parsed.data.testResults) {
  const file = relative(process.cwd(), f.name);
  seconds.set(file, Math.max(seconds.get(file) ?? 0, Math.round((f.endTime - f.startTime) / 100) / 10));
}
const kept = [...seconds].filter(([, s]) => s >= 2).sort((a, b) => b[1] - a[1]);
writeFileSync(new URL('./durations.json', import.meta.url), `${JSON.stringify(Object.fromEntries(kept), null, 1)}\n`);
console.log(`tests/durations.json: ${kept.length} files of ${seconds.size} over 2 s`);
