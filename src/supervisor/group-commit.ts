// Group commit: changes made while a write is in flight are batched into the next write,
// so many concurrent calls share one durable store commit. Lifecycle events ride with the
// batch that holds their change and are published only once it is durable. It also knows
// what is on disk, so when a write fails the tasks it held can be put back as they were:
// memory is never ahead of disk.
import type { LifecycleEvent } from '../../machines/task.types.js';
import { LeaseholdError, StoreWriteError } from '../errors.js';
import type { Clock } from '../clock/clock.js';
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
  /** Writes what is pending now, even while backing off after a failed write. */
  urge(): void;
  /** True when nothing is waiting to be written, or what waits is backing off after a failed write. */
  readonly idle: boolean;
  /** True while pending writes wait out the backoff after a failed write. */
  readonly backingOff: boolean;
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

/** After a failed write the next one waits, doubling from 100 ms up to 5 s, so a dead disk is not hammered. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;

export function createGroupCommit(
  store: Store,
  clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>,
  recordOf: (id: string) => TaskRecord | null,
  deliver: (events: LifecycleEvent[]) => void,
  rollback: Rollback,
): GroupCommit {
  let next: Batch | null = null;
  let inflight: Batch | null = null;
  const onDisk = new Map<string, TaskRecord>();
  let failures = 0;
  let holding = false;

  let held: number | undefined;
  /** Starts the next write now, or after the backoff that follows a failed one. */
  const schedule = () => {
    if (holding) return;
    if (failures === 0) return queueMicrotask(() => void pump());
    holding = true;
    held = clock.setTimeout(() => {
      holding = false;
      void pump();
    }, Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (failures - 1)));
  };

  const pump = async () => {
    if (inflight || !next || holding) return;
    const batch = next;
    next = null;
    inflight = batch;
    try {
      const changes = new Map<string, TaskRecord | null>();
      for (const id of batch.ids) changes.set(id, recordOf(id));
      await store.commit(changes);
      failures = 0;
      // The disk is back: whatever was held for the backoff goes out now.
      if (holding) {
        holding = false;
        if (held !== undefined) clock.clearTimeout(held);
      }
      for (const [id, record] of changes) {
        if (record) onDisk.set(id, record);
        else onDisk.delete(id);
      }
      deliver(batch.events);
      batch.resolve();
    } catch (error) {
      // Changes queued behind the failed write build on it: they fail with it, and every task
      // either batch touched goes back to what the disk holds. Their events never happened.
      failures++;
      const failed = [batch, ...(next ? [next] : [])];
      next = null;
      const ids = new Set(failed.flatMap((b) => [...b.ids]));
      rollback(new Map([...ids].map((id) => [id, onDisk.get(id)])));
      const reason = error instanceof LeaseholdError ? error : new StoreWriteError(`writing ${store.location} failed`, error);
      for (const b of failed) b.reject(reason);
    } finally {
      inflight = null;
      if (next) schedule();
    }
  };

  const pending = () => {
    if (!next) {
      next = newBatch();
      schedule();
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
    urge() {
      // A caller is waiting: try the disk now rather than after the backoff (a failure still
      // answers that caller at once, and the backoff only paces writes nobody waits for).
      if (!holding) return;
      holding = false;
      if (held !== undefined) clock.clearTimeout(held);
      void pump();
    },
    get idle() {
      return (!next || holding) && !inflight;
    },
    get backingOff() {
      return holding;
    },
    remember(id, record) {
      onDisk.set(id, record);
    },
  };
}
