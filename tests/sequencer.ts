// The order vitest starts test files in. Its own sequencer runs the longest
// files first only from a cache a fresh clone does not have, so CI started
// them in name order and the longest (two Redis failovers of ~70 s) last, as
// the tail of the run. Here the groups still run in turn, and within a group
// files start longest first by tests/durations.json: seconds per file from a
// past run (`npm run test:durations` rewrites it). A file not listed counts as
// short. The figures only order the run; nothing asserts them.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const durations: Record<string, number> = JSON.parse(readFileSync(new URL('./durations.json', import.meta.url), 'utf8')) as Record<string, number>;
const SHORT = 1;

export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const seconds = (f: TestSpecification) => durations[relative(root, f.moduleId)] ?? SHORT;
    return [...files].sort((a, b) => (a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder) || seconds(b) - seconds(a));
  }
}
