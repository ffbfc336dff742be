// How a command that changes tasks reaches the store: through a supervisor of its own, which
// takes the store's lock (waiting up to --wait for it) and closes it once the command is done.
// The CLI registers no compensators: compensations of a task failed here stay pending, their
// attempt recorded as started, for the next supervisor that has them.
import { createSupervisor, type Compensator, type Supervisor } from '../index.js';
import { isPostgresUrl, storeFor } from './store-target.js';

/**
 * Compensators that never settle: the compensation's attempt is recorded as running, and
 * when this process closes the store the next supervisor (one with real compensators)
 * continues that same attempt. Without this the CLI, which can run no handler, would
 * quarantine every failed task for a missing compensator.
 */
const deferred: Record<string, Compensator> = new Proxy(
  {},
  {
    getOwnPropertyDescriptor: () => ({ value: () => new Promise<void>(() => {}), writable: false, enumerable: false, configurable: true }),
    get: () => () => new Promise<void>(() => {}),
  },
);

/**
 * A supervisor on `store` (a file, or a postgres:// URL) as the CLI runs one: no compensators
 * of its own. `serve` on a PostgreSQL store runs it as a standby (`advertisedUrl` given): it
 * leads at once when the store is free, else waits to take it over.
 */
export function openSupervisor(store: string, lockWaitMs: number, serving?: { advertisedUrl: string; ownershipTtlMs?: number }): Promise<Supervisor> {
  const standby = serving !== undefined && isPostgresUrl(store);
  // closeTimeoutMs 0: close does not wait for the deferred compensators, which never finish.
  return createSupervisor({ store: storeFor(store, { lockWaitMs, ...serving }), compensators: deferred, closeTimeoutMs: 0, standby });
}

export async function withSupervisor<T>(file: string, lockWaitMs: number, use: (sup: Supervisor) => T | Promise<T>): Promise<T> {
  const sup = await openSupervisor(file, lockWaitMs);
  try {
    return await use(sup);
  } finally {
    await sup.close();
  }
}
