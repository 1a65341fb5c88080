import { defineConfig } from 'vitest/config';

// One project per kind of suite, so `npx vitest --project unit` runs the pure
// cores in seconds; `npm test` runs them all.
const kinds = ['unit', 'integration', 'chaos', 'browser'] as const;

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Files run in parallel; each gets its own redis-server or key prefix.
    pool: 'forks',
    projects: kinds.map((kind) => ({
      extends: true,
      test: { name: kind, include: [`tests/${kind}/**/*.test.ts`] },
    })),
  },
});
