import { configDefaults, defineConfig } from 'vitest/config';

/** The files that need a PostgreSQL server: only the `postgres` project starts one. */
const POSTGRES_ONLY = ['test/store/postgres-*.test.ts', 'test/reliability/failover.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'json', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...POSTGRES_ONLY, 'test/dashboard/**'] } },
      // The persistence suites once more on the journaled store (test/support.ts reads the variable).
      {
        extends: true,
        test: {
          name: 'journal',
          include: ['test/persistence.test.ts', 'test/lifecycle.test.ts', 'test/concurrency.test.ts'],
          env: { LEASEHOLD_TEST_STORE: 'journal' },
        },
      },
      // The PostgreSQL store's own tests and the persistence suites once more on it, against one
      // real server for the run (test/postgres/server.ts).
      {
        extends: true,
        test: {
          name: 'postgres',
          // schedules.test.ts runs only its PostgreSQL schedules here, task-model.test.ts a sample of
          // its task paths on PostgreSQL (both read the variable too).
          // The kill -9 trials (the library's and the daemon's) run on PostgreSQL here (they read the variable too).
          include: [
            ...POSTGRES_ONLY,
            'test/persistence.test.ts',
            'test/lifecycle.test.ts',
            'test/concurrency.test.ts',
            'test/model/schedules.test.ts',
            'test/model/task-model.test.ts',
            'test/reliability/kill.test.ts',
            'test/reliability/daemon-kill.test.ts',
          ],
          globalSetup: ['test/postgres/server.ts'],
          env: { LEASEHOLD_TEST_STORE: 'postgres' },
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
