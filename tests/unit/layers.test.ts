// The layer rules of .dependency-cruiser.cjs (queues/ <- src/ <- processors/,
// dashboards/ handed what they show, pure cores, no cycles) as a test, so a
// forbidden import fails here with the rule and the edge that broke it.
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('layers', () => {
  it('src, queues, processors and dashboards break no layer rule', async () => {
    const options = await extractDepcruiseOptions(`${root}.dependency-cruiser.cjs`);
    const { output } = await cruise(['src', 'queues', 'processors', 'dashboards'], { ...options, baseDir: root });
    const result = output as ICruiseResult;
    // The parser read the sources, type-only imports included (the cycle rule needs them): an empty cruise passes nothing.
    expect(result.summary.totalCruised).toBeGreaterThan(150);
    expect(result.modules.some((m) => m.dependencies.some((d) => d.dependencyTypes.includes('type-only')))).toBe(true);
    const broken = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.cycle ? v.cycle.map((c) => c.name).join(' → ') : v.to}`);
    expect(broken).toEqual([]);
    // CI runs the unit project on the other Node lines at the lowest CPU priority beside the main suite (.ci/run gives
    // them 300 s a test): this test's own 30 s overrode that, and a starved run once timed out parsing the sources.
  }, 300_000);
});
