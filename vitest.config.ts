import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'json', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/dashboard/**'] } },
      // The persistence suites once more on the journaled store (test/support.ts reads the variable).
      {
        extends: true,
        test: {
          name: 'journal',
          include: ['test/persistence.test.ts', 'test/lifecycle.test.ts', 'test/concurrency.test.ts'],
          env: { LEASEHOLD_TEST_STORE: 'journal' },
        },
      },
      // The dashboard in a real browser: its globalSetup installs Debian's chromium when it is missing.
      {
        extends: true,
        test: { name: 'dashboard', include: ['test/dashboard/**/*.test.ts'], globalSetup: ['test/dashboard/chromium.ts'] },
      },
    ],
  },
});
