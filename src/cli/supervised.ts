// How a command that changes tasks reaches the store: through a supervisor of its own, which
// takes the store's lock (waiting up to --wait for it) and closes it once the command is done.
// The CLI registers no compensators: compensations of a task failed here stay pending, their
// attempt recorded as started, for the next supervisor that has them.
import { createSupervisor, jsonFileStore, type Compensator, type Supervisor } from '../index.js';

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

/** A supervisor on `file` as the CLI runs one (also `leasehold serve`): no compensators of its own. */
export function openSupervisor(file: string, lockWaitMs: number): Promise<Supervisor> {
  // closeTimeoutMs 0: close does not wait for the deferred compensators, which never finish.
  return createSupervisor({ store: jsonFileStore(file, { lockWaitMs }), compensators: deferred, closeTimeoutMs: 0 });
}

export async function withSupervisor<T>(file: string, lockWaitMs: number, use: (sup: Supervisor) => T | Promise<T>): Promise<T> {
  const sup = await openSupervisor(file, lockWaitMs);
  try {
    return await use(sup);
  } finally {
    await sup.close();
  }
}
