import { defineConfig } from 'vitest/config';
import { clusterFiles } from './tests/clusterFiles.ts';
import { LongestFirst } from './tests/sequencer.ts';

// One project per kind of suite, so `npx vitest --project unit` runs the pure
// cores in seconds; `npm test` runs them all. Files run in parallel, each with
// its own redis-server or key prefix. Vitest's default (one fork per core but
// one) gives a 2-core machine a single fork, yet most integration files spend
// their time waiting on Redis and timers, so they run three at a time; the chaos
// files load the CPU on purpose and time recoveries, so they run one at a time,
// after the rest (groupOrder runs the groups in turn; three at a time, they
// fell short of their throughput and startup bounds). The `cluster` project
// runs chosen integration and chaos files again, each on a three-master Cluster
// of its own (tests/clusterFiles.ts), last, beside the `failover` files: those
// kill a Redis master and mostly wait out its replica's promotion, and assert
// what was lost, not how fast, so they share that group instead of the chaos one,
// four at a time: most of its time is waits for promotions and recoveries.
const failoverFiles = ['tests/chaos/clusterFailover.test.ts', 'tests/chaos/clusterPickupFailover.test.ts', 'tests/chaos/sentinelFailover.test.ts'];
// `order`: the groups run in turn, each file of a group longest first (tests/sequencer.ts). The
// browser files (a Chromium each, short) run beside the unit files; a group's projects must
// agree on maxWorkers (and a single-worker project of order 0 would run after every group).
const kinds = [
  { kind: 'unit', workers: 2, order: 0 },
  { kind: 'browser', workers: 2, order: 0 },
  { kind: 'integration', workers: 3, order: 1 },
  { kind: 'chaos', workers: 1, order: 2 },
] as const;
const lastGroup = 3;

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // A worker runs its files one after another in the same process, keeping the
    // modules it imported: one fresh fork per file spent as much CPU importing
    // src/ again as some files spend testing (the integration files: 300 against
    // 200 CPU-seconds). Every file starts its own servers or prefix and stops them.
    isolate: false,
    sequence: { sequencer: LongestFirst },
    projects: [
      ...kinds.map(({ kind, workers, order }) => ({
        extends: true as const,
        test: { name: kind, include: [`tests/${kind}/**/*.test.ts`], exclude: failoverFiles, maxWorkers: workers, sequence: { groupOrder: order } },
      })),
      {
        extends: true as const,
        test: { name: 'failover', include: failoverFiles, maxWorkers: 4, sequence: { groupOrder: lastGroup } },
      },
      {
        extends: true as const,
        test: { name: 'cluster', include: [...clusterFiles], env: { SWARMQ_TEST_TOPOLOGY: 'cluster' }, maxWorkers: 4, sequence: { groupOrder: lastGroup } },
      },
    ],
  },
});
