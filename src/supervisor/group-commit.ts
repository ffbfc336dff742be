// Group commit: changes made while a write is in flight are batched into the next write,
// so many concurrent calls share one durable store commit. Lifecycle events ride with the
// batch that holds their change and are published only once it is durable. It also knows
// what is on disk, so when a write fails the tasks it held can be put back as they were:
// memory is never ahead of disk. A record the store refuses as unwritable fails only its own
// task: that task is put back, the calls that changed it are refused, and the rest of the
// batch is written without it. Once a write lands, the table hears which task states it holds
// (the durable reads answer from those).
import type { LifecycleEvent } from '../../machines/task.types.js';
import { InvalidInputError, LeaseholdError, StoreWriteError } from '../errors.js';
import type { Clock } from '../clock/clock.js';
import type { Store, StoreMeta, TaskRecord } from '../store/types.js';

interface Batch {
  ids: Set<string>;
  events: LifecycleEvent[];
  /** Tasks whose record the store refused, and why: calls that depend on them are refused. */
  refused: Map<string, unknown> | null;
  done: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface GroupCommit {
  /** Records that task `id` changed (or was deleted) and must reach the store. */
  touch(id: string): void;
  /** Queues a lifecycle event to publish once the current changes are durable. */
  publish(event: LifecycleEvent): void;
  /**
   * Resolves when every change touched so far is durable (with `ids`: every change to those
   * tasks; at once when none is pending); rejects if that write failed or one of `ids` was
   * refused as unwritable.
   */
  durable(ids?: ReadonlySet<string> | readonly string[]): Promise<void>;
  /** Writes what is pending now, even while backing off after a failed write. */
  urge(): void;
  /** True when nothing is waiting to be written, or what waits is backing off after a failed write. */
  readonly idle: boolean;
  /** True while pending writes wait out the backoff after a failed write. */
  readonly backingOff: boolean;
  /** Records what the store held for a task when it was opened. */
  remember(id: string, record: TaskRecord): void;
  /** Records the store meta it held when it was opened. */
  rememberMeta(meta: StoreMeta): void;
}

/**
 * Puts tasks back to their last durable record (undefined: the task never reached disk).
 * `refused`: the store refused these records themselves (not the disk), so the same step would
 * be refused again at once; the tasks must not be resumed straight away.
 */
type Rollback = (tasks: Map<string, TaskRecord | undefined>, refused: boolean) => void;

/**
 * What the store is to hold for a task now (`record` null: delete it), taken when the write
 * starts; handed back to `landed` once the store holds it.
 */
export interface Written {
  readonly record: TaskRecord | null;
}

/** The tasks whose records a store refused as unwritable (see recordTexts), if that is the error. */
function unwritableTasks(error: unknown): readonly string[] | undefined {
  return error instanceof InvalidInputError ? error.taskIds : undefined;
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
  return { ids: new Set(), events: [], refused: null, done, resolve, reject };
}

/** After a failed write the next one waits, doubling from 100 ms up to 5 s, so a dead disk is not hammered. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;

export function createGroupCommit<W extends Written>(
  store: Store,
  clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>,
  take: (id: string) => W,
  /** The writes the store now holds, as taken: called before the batch's events are delivered. */
  landed: (written: readonly W[]) => void,
  deliver: (events: LifecycleEvent[]) => void,
  rollback: Rollback,
  /** The store meta as memory has it now: written with the next commit whenever it differs from the disk's. */
  meta: () => StoreMeta,
): GroupCommit {
  let next: Batch | null = null;
  let inflight: Batch | null = null;
  const onDisk = new Map<string, TaskRecord>();
  let failures = 0;
  let holding = false;
  let metaOnDisk: StoreMeta | undefined;

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

  /**
   * Takes tasks whose records the store refused out of the batches: they go back to what the
   * disk holds, their events never happened, and calls that changed them are refused. True
   * when the rest of the batch can be written without them.
   */
  const refuse = (batch: Batch, error: unknown): boolean => {
    const ids = unwritableTasks(error)?.filter((id) => batch.ids.has(id));
    if (!ids || ids.length === 0) return false;
    const refused = new Set(ids);
    for (const b of [batch, ...(next ? [next] : [])]) {
      for (const id of ids) {
        // A later batch that changed the task again built on the refused change.
        if (b !== batch && !b.ids.has(id)) continue;
        b.ids.delete(id);
        (b.refused ??= new Map()).set(id, error);
      }
      b.events = b.events.filter((event) => !refused.has(event.taskId));
    }
    rollback(new Map(ids.map((id) => [id, onDisk.get(id)])), true);
    return true;
  };

  const pump = async () => {
    if (inflight || !next || holding) return;
    const batch = next;
    next = null;
    inflight = batch;
    try {
      let changes: Map<string, TaskRecord | null>;
      let written: W[];
      const wanted = meta();
      let newMeta = metaOnDisk?.epochFloor === wanted.epochFloor ? undefined : wanted;
      for (;;) {
        changes = new Map();
        written = [];
        for (const id of batch.ids) {
          const taken = take(id);
          written.push(taken);
          changes.set(id, taken.record);
        }
        if (changes.size === 0 && newMeta === undefined) break;
        try {
          await store.commit(changes, newMeta);
          if (newMeta) metaOnDisk = newMeta;
          newMeta = undefined;
          break;
        } catch (error) {
          if (!refuse(batch, error)) throw error;
        }
      }
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
      landed(written);
      deliver(batch.events);
      batch.resolve();
    } catch (error) {
      // Changes queued behind the failed write build on it: they fail with it, and every task
      // either batch touched goes back to what the disk holds. Their events never happened.
      failures++;
      const failed = [batch, ...(next ? [next] : [])];
      next = null;
      const ids = new Set(failed.flatMap((b) => [...b.ids]));
      rollback(new Map([...ids].map((id) => [id, onDisk.get(id)])), false);
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
    durable(ids) {
      if (ids === undefined) return (next ?? inflight)?.done ?? Promise.resolve();
      const holds = (b: Batch | null): b is Batch => {
        if (b === null) return false;
        for (const id of ids) if (b.ids.has(id) || b.refused?.has(id)) return true;
        return false;
      };
      // The latest batch holding any of them: a failed write also fails the batch queued behind it.
      const batch = holds(next) ? next : holds(inflight) ? inflight : null;
      if (batch === null) return Promise.resolve();
      // Refusals are known only once the store answered.
      return batch.done.then(() => {
        for (const id of ids) if (batch.refused?.has(id)) throw batch.refused.get(id);
      });
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
    rememberMeta(stored) {
      metaOnDisk = stored;
    },
  };
}
