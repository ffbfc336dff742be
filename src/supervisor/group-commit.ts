// Group commit: changes made while a write is in flight are batched into the next write,
// so many concurrent calls share one durable store commit. Lifecycle events ride with the
// batch that holds their change and are published only once it is durable. It also knows
// what is on disk, so when a write fails the tasks it held can be put back as they were:
// memory is never ahead of disk.
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
  /** Records what the store held for a task when it was opened. */
  remember(id: string, record: TaskRecord): void;
}

/** Puts tasks back to their last durable record (undefined: the task never reached disk). */
export type Rollback = (tasks: Map<string, TaskRecord | undefined>) => void;

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
  rollback: Rollback,
): GroupCommit {
  let next: Batch | null = null;
  let inflight: Batch | null = null;
  const onDisk = new Map<string, TaskRecord>();

  const pump = async () => {
    if (inflight || !next) return;
    const batch = next;
    next = null;
    inflight = batch;
    try {
      const changes = new Map<string, TaskRecord | null>();
      for (const id of batch.ids) changes.set(id, recordOf(id));
      await store.commit(changes);
      for (const [id, record] of changes) {
        if (record) onDisk.set(id, record);
        else onDisk.delete(id);
      }
      deliver(batch.events);
      batch.resolve();
    } catch (error) {
      // Changes queued behind the failed write build on it: they fail with it, and every task
      // either batch touched goes back to what the disk holds. Their events never happened.
      const failed = [batch, ...(next ? [next] : [])];
      next = null;
      const ids = new Set(failed.flatMap((b) => [...b.ids]));
      rollback(new Map([...ids].map((id) => [id, onDisk.get(id)])));
      const reason = error instanceof LeaseholdError ? error : new StoreWriteError(`writing ${store.location} failed`, error);
      for (const b of failed) b.reject(reason);
    } finally {
      inflight = null;
      if (next) queueMicrotask(() => void pump());
    }
  };

  const pending = () => {
    if (!next) {
      next = newBatch();
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
    remember(id, record) {
      onDisk.set(id, record);
    },
  };
}
