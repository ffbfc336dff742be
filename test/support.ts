// Shared test fixtures: a supervisor on a real JSON file in a temp folder, driven by the
// test clock, plus helpers to compare the stored bytes and to restart on the same file.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { createSupervisor, jsonFileStore, type Supervisor, type SupervisorOptions } from '../src/index.js';
import { createTestClock, type TestClock } from '../src/testing.js';

export const T0 = Date.UTC(2026, 0, 1);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

export interface Harness {
  sup: Supervisor;
  clock: TestClock;
  file: string;
  dir: string;
  /** The store file's bytes right now. */
  bytes(): string;
  /** Closes the supervisor and opens a new one on the same file and clock. */
  restart(options?: Partial<SupervisorOptions>): Promise<Supervisor>;
}

export async function harness(options: Partial<SupervisorOptions> = {}, clock = createTestClock(T0)): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-test-'));
  const file = join(dir, 'store.json');
  const open = (extra: Partial<SupervisorOptions> = {}) =>
    createSupervisor({ store: jsonFileStore(file), clock, ...options, ...extra });
  const h: Harness = {
    sup: await open(),
    clock,
    file,
    dir,
    bytes: () => readFileSync(file, 'utf8'),
    async restart(extra) {
      await h.sup.close();
      h.sup = await open(extra);
      return h.sup;
    },
  };
  cleanups.push(async () => {
    await h.sup.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return h;
}

/** The rejection of `promise`, or a failure if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code: string; reason?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code: string; reason?: string };
  }
  throw new Error('expected the call to be rejected');
}
