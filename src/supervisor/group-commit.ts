// Group commit: changes made while a write is in flight are batched into the next write,
// so many concurrent calls share one durable store commit. Lifecycle events ride with the
// batch that holds their change and are published only once it is durable.
import type { LifecycleEvent } from '../../machines/task.types.js';
import { LeaseholdError, StoreWriteError } from '../errors.js';
import type { Store, TaskRecord } from '../store/types.js';

interface Batch {
  ids: Set<string>;
  events: LifecycleEvent[];
  done: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface GroupCommit {
  /** Records that task `id` changed (or was deleted) and must reach the store. */
  touch(id: string): void;
  /** Queues a lifecycle event to publish once the current changes are durable. */
  publish(event: LifecycleEvent): void;
  /** Resolves when every change touched so far is durable; rejects if its write failed. */
  durable(): Promise<void>;
  /** True when nothing is waiting to be written. */
  readonly idle: boolean;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A batch nobody awaits must not become an unhandled rejection.
  done.catch(() => {});
  return { ids: new Set(), events: [], done, resolve, reject };
}

export function createGroupCommit(
  store: Store,
  recordOf: (id: string) => TaskRecord | null,
  deliver: (events: LifecycleEvent[]) => void,
): GroupCommit {
  let next: Batch | null = null;
  let inflight: Batch | null = null;
  const unwritten = { ids: new Set<string>(), events: [] as LifecycleEvent[] };

  const pump = async () => {
    if (inflight || !next) return;
    const batch = next;
    next = null;
    inflight = batch;
    try {
      const changes = new Map<string, TaskRecord | null>();
      for (const id of batch.ids) changes.set(id, recordOf(id));
      await store.commit(changes);
      deliver(batch.events);
      batch.resolve();
    } catch (error) {
      // The changes are carried into the next write (not retried in a tight loop here).
      for (const id of batch.ids) unwritten.ids.add(id);
      unwritten.events.push(...batch.events);
      batch.reject(error instanceof LeaseholdError ? error : new StoreWriteError(`writing ${store.location} failed`, error));
    } finally {
      inflight = null;
      if (next) queueMicrotask(() => void pump());
    }
  };

  const pending = () => {
    if (!next) {
      next = newBatch();
      for (const id of unwritten.ids) next.ids.add(id);
      next.events.push(...unwritten.events.splice(0));
      unwritten.ids.clear();
      queueMicrotask(() => void pump());
    }
    return next;
  };

  return {
    touch(id) {
      pending().ids.add(id);
    },
    publish(event) {
      pending().events.push(event);
    },
    durable() {
      return (next ?? inflight)?.done ?? Promise.resolve();
    },
    get idle() {
      return !next && !inflight;
    },
  };
}
