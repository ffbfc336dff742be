import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'json', include: ['test/**/*.test.ts'] } },
      // The persistence suites once more on the journaled store (test/support.ts reads the variable).
      {
        extends: true,
        test: {
          name: 'journal',
          include: ['test/persistence.test.ts', 'test/lifecycle.test.ts', 'test/concurrency.test.ts'],
          env: { LEASEHOLD_TEST_STORE: 'journal' },
        },
      },
    ],
  },
});
