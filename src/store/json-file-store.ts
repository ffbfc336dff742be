// The default store: every task in one JSON snapshot, a lowdb document read and written through
// the snapshot adapter (snapshot-adapter.ts: streamed, atomic, fsynced), with a journal that
// commits append to and compaction folds back (or, with `journal: false`, a snapshot rewritten
// by every commit); guarded by a lock directory plus an owner sidecar naming its process
// (store-lock.ts). Owns the store's life (open, close), commits and their durability, and
// compaction, which runs beside the commits instead of in front of them. Beside it: the options
// (store-options.ts), reading at open (load.ts), the places of the task texts (places.ts), the
// journal's files (journal-file.ts).
//
// Each task's entry text (`"<id>":<record JSON>`) is made once, when it is committed: the
// journal line of a commit is those texts pasted together, and from then on the store keeps
// only where the text lies, in the journal or, once a snapshot holds it, in the snapshot file.
// The next snapshot is pasted together from those places, so neither a commit nor a compaction
// serialises a task again, and the store holds neither a second object graph nor the texts.

import { Low } from 'lowdb';
import { StoreCorruptError, StoreLockedError, StoreWriteError } from '../errors.js';
import { entryText } from './document.js';
import { describe } from './files.js';
import { JournalFile } from './journal-file.js';
import { journalLine, journalPathOf } from './journal.js';
import { loadStore } from './load.js';
import type { LockWaitTime } from './lock-wait.js';
import type { Places } from './places.js';
import { realStorePath } from './real-path.js';
import { checkedMeta, recordTexts } from './records.js';
import { emptyDocument, SnapshotAdapter, type StoreDocument } from './snapshot-adapter.js';
import { StoreLock } from './store-lock.js';
import { storeSettings, type JsonFileStoreOptions } from './store-options.js';
import type { Store, StoreChanges, StoreContents, StoreMeta, TaskRecord } from './types.js';

export { DEFAULT_COMPACT_BYTES, type JsonFileStoreOptions } from './store-options.js';

/**
 * A store with a journal: `compact()` folds the journal into the snapshot and drops the lines
 * the snapshot took in (lines appended meanwhile stay); it resolves once that is durable.
 */
export type JournaledStore = Store & { compact(): Promise<void> };

export function jsonFileStore(path: string, options: JsonFileStoreOptions & { journal: false }): Store;
export function jsonFileStore(path: string, options?: JsonFileStoreOptions & { journal?: true }): JournaledStore;
export function jsonFileStore(path: string, options?: JsonFileStoreOptions): Store;
export function jsonFileStore(path: string, options: JsonFileStoreOptions = {}): Store {
  const settings = storeSettings(path, options);
  return new JsonFileStore(settings.path, settings.staleMs, settings.compactBytes, settings.lockWaitMs);
}

/**
 * Makes `store` (a jsonFileStore) wait for its lock on `time` instead of the wall clock. Not
 * part of the public API: for tests, which must not sleep through a real wait.
 */
export function useLockWaitTime(store: Store, time: LockWaitTime): void {
  if (store instanceof JsonFileStore) JsonFileStore.useLockWaitTime(store, time);
}

/**
 * Resolves once no compaction of `store` (a jsonFileStore) is running or waiting to run, and
 * at once for any other store. Not part of the public API: for tests that look at the files
 * of a store at rest.
 */
export function compactionsSettled(store: Store): Promise<void> {
  return store instanceof JsonFileStore ? JsonFileStore.settled(store) : Promise.resolve();
}

type Phase = 'closed' | 'opening' | 'open' | 'closing';

/** What a compaction writes: the tasks as of journal entry `seq`, when the journal held `journalBytes`. */
interface CompactionPlan {
  seq: number;
  journalBytes: number;
  /** The snapshot being written; undefined when the snapshot holds `seq` already and only the journal is cut. */
  writing: Promise<void> | undefined;
}

const ignore = () => undefined;

class JsonFileStore implements Store {
  readonly location: string;
  /** The file itself, symlinks resolved: every file the store reads, writes or locks is named from it. */
  readonly #file: string;
  /** Only with a journal: a store without one has nothing to fold (and gets no `compact` sweep). */
  declare readonly compact?: () => Promise<void>;
  readonly #lock: StoreLock;
  /** The document (see snapshot-adapter.ts): lowdb reads it from the snapshot file and writes it back. */
  readonly #db: Low<StoreDocument>;
  readonly #adapter: SnapshotAdapter;
  /** STORE_CORRUPT naming the store as the caller did. */
  readonly #corrupt: (problem: string, cause?: unknown) => StoreCorruptError;
  readonly #journal: JournalFile;
  /** The journal size that triggers compaction, or null when commits rewrite the snapshot. */
  readonly #compactBytes: number | null;

  #phase: Phase = 'closed';
  #opening: Promise<unknown> | undefined;
  #closing: Promise<void> | undefined;
  /** Commits, and the short steps of a compaction that must not overlap one: one at a time, in order. */
  #queue: Promise<void> = Promise.resolve();
  /** Compactions, one at a time; each takes its turn in #queue only to start and to finish. */
  #compactions: Promise<void> = Promise.resolve();
  /** What the snapshot on disk is: formatVersion 1 predates any journal; `seq` is its journalSeq. */
  #snapshot: { journaled: boolean; seq: number } = { journaled: false, seq: 0 };
  /** A size-triggered compaction is waiting or running: commits do not ask for another. */
  #compactionDue = false;
  /** A commit was written since open: only then does close fold the journal (a store only read is left as read). */
  #written = false;
  /** The journal size past which the next size-triggered compaction starts. */
  #compactAt = 0;

  constructor(file: string, staleMs: number, compactBytes: number | null, lockWaitMs: number) {
    // Messages name the path the caller gave; the files are the real ones (see real-path.ts).
    this.location = file;
    this.#file = realStorePath(file);
    this.#lock = new StoreLock(this.#file, file, staleMs, lockWaitMs);
    this.#journal = new JournalFile(journalPathOf(this.#file));
    this.#compactBytes = compactBytes;
    this.#corrupt = (problem, cause) => new StoreCorruptError(file, problem, cause);
    this.#adapter = new SnapshotAdapter({ file: this.#file, corrupt: this.#corrupt, journal: () => this.#journal.reader });
    this.#db = new Low(this.#adapter, emptyDocument());
    if (compactBytes !== null) {
      this.compact = () =>
        this.#phase === 'open' ? this.#compact() : Promise.reject(new StoreWriteError(`store file ${this.location} is not open`));
    }
  }

  /** Every task's entry text or its place, and the snapshot file open for reading (see places.ts). */
  get #places(): Places {
    return this.#db.data.places;
  }

  static settled(store: JsonFileStore): Promise<void> {
    return store.#compactions;
  }

  static useLockWaitTime(store: JsonFileStore, time: LockWaitTime): void {
    store.#lock.useWaitTime(time);
  }

  open(): Promise<StoreContents> {
    if (this.#phase !== 'closed') {
      return Promise.reject(new StoreLockedError(this.location, 'already open through this store object'));
    }
    this.#phase = 'opening';
    const opening = this.#open();
    this.#opening = opening;
    return opening;
  }

  async #open(): Promise<StoreContents> {
    try {
      await this.#lock.acquire();
    } catch (error) {
      this.#phase = 'closed';
      throw error;
    }
    try {
      const tasks = await this.#load();
      this.#phase = 'open';
      // Parsed for this call alone: the store keeps texts, so the caller owns these objects.
      return { tasks, meta: { epochFloor: this.#db.data.epochFloor } };
    } catch (error) {
      await this.#places.clear();
      await this.#journal.close();
      await this.#lock.release();
      this.#phase = 'closed';
      throw error;
    }
  }

  commit(changes: StoreChanges, meta?: StoreMeta): Promise<void> {
    if (this.#phase !== 'open') {
      return Promise.reject(new StoreWriteError(`store file ${this.location} is not open`));
    }
    const entries = new Map<string, string | null>();
    let epochFloor: number | undefined;
    try {
      // Serialised now, not when the queue reaches this batch: the caller may reuse its objects.
      for (const [id, text] of recordTexts(changes)) entries.set(id, text === null ? null : entryText(id, text));
      epochFloor = meta === undefined ? undefined : checkedMeta(meta).epochFloor;
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue(() => this.#apply(entries, epochFloor));
  }

  close(): Promise<void> {
    switch (this.#phase) {
      case 'closed':
        return Promise.resolve();
      case 'closing':
        return this.#closing ?? Promise.resolve();
      case 'opening':
        return (this.#opening ?? Promise.resolve()).then(
          () => this.close(),
          () => undefined,
        );
      case 'open':
        this.#phase = 'closing';
        this.#closing = (async () => {
          // A closed store is one readable file. Should this fail, the journal still holds every
          // commit. It waits for a compaction under way, and takes in the commits asked for before close.
          // A store nothing was written to is left byte-for-byte as it was opened: a supervisor
          // that refused its records (STORE_CORRUPT) must not fold them into the snapshot.
          await this.#queue;
          if (this.#compactBytes !== null && this.#written) await this.#compact().catch(ignore);
          await this.#enqueue(async () => {
            await this.#journal.close();
            await this.#places.clear();
            await this.#lock.release();
            this.#phase = 'closed';
          });
        })();
        return this.#closing;
    }
  }

  /**
   * Serialised so that each write starts from the state the previous one left, and a failed
   * write can be undone without disturbing a later batch.
   */
  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(work);
    this.#queue = result.then(ignore, ignore);
    return result;
  }

  async #apply(changes: Map<string, string | null>, epochFloor: number | undefined): Promise<void> {
    this.#assertWritable();
    const document = this.#db.data;
    const floor = epochFloor === undefined || epochFloor === document.epochFloor ? undefined : epochFloor;
    if (changes.size === 0 && floor === undefined) return;
    const floorBefore = document.epochFloor;
    const undo = this.#places.set(changes);
    // A formatVersion 1 snapshot is rewritten once before any line goes to the journal, so that
    // a file with a journal beside it always says so.
    const append = this.#compactBytes !== null && this.#snapshot.journaled;
    try {
      if (append) await this.#append(changes, floor);
      else {
        if (floor !== undefined) document.epochFloor = floor;
        await this.#writeSnapshotNow();
      }
      this.#written = true;
    } catch (error) {
      document.epochFloor = floorBefore;
      // Memory must not run ahead of the disk: the next write would otherwise persist a batch
      // whose commit the caller saw fail.
      undo();
      throw new StoreWriteError(`could not write store file ${append ? this.#journal.path : this.location}: ${describe(error)}`, error);
    }
    if (append && !this.#compactionDue && this.#journal.size > this.#compactAt) {
      this.#compactionDue = true;
      // Not awaited: this commit is durable already. A failure is left for the next trigger,
      // the compact sweep or close to retry; the journal keeps everything meanwhile.
      void this.#compact()
        .catch(ignore)
        .then(() => {
          this.#compactionDue = false;
        });
    }
  }

  async #append(changes: Map<string, string | null>, epochFloor: number | undefined): Promise<void> {
    const document = this.#db.data;
    const seq = document.seq + 1;
    const line = journalLine(seq, changes, epochFloor);
    const at = await this.#journal.append(line.bytes);
    document.seq = seq;
    if (epochFloor !== undefined) document.epochFloor = epochFloor;
    // The texts are on disk now: the store keeps where they lie instead.
    this.#places.placeInJournal(changes, line.places, at);
  }

  /** Runs a compaction after any under way (the journal may have grown since it started). */
  #compact(): Promise<void> {
    const run = this.#compactions.then(() => this.#compactOnce());
    this.#compactions = run.then(ignore, ignore);
    return run;
  }

  /**
   * Folds the journal into the snapshot without holding up commits: the tasks as of the newest
   * entry are pictured in one synchronous step (immutable texts and places), the snapshot is
   * written from them while later commits keep appending to the journal, and only once it is
   * durable (file, then directory, fsynced) does the store switch to it and drop the lines it
   * holds from the journal. A crash before that leaves lines the snapshot's journalSeq already
   * covers, which the next open skips; the lines appended meanwhile are kept.
   */
  async #compactOnce(): Promise<void> {
    let failed = true;
    try {
      const plan = await this.#enqueue(() => this.#planCompaction());
      if (plan === undefined) {
        failed = false;
        return;
      }
      if (plan.writing !== undefined) {
        await plan.writing;
        this.#snapshot = { journaled: true, seq: plan.seq };
        this.#journal.covered = plan.journalBytes;
      }
      await this.#enqueue(async () => {
        if (plan.writing !== undefined) await this.#places.adoptStaged();
        await this.#dropCoveredLines();
      });
      failed = false;
    } catch (error) {
      throw new StoreWriteError(`could not compact the journal ${this.#journal.path} into store file ${this.location}: ${describe(error)}`, error);
    } finally {
      this.#compactAt = this.#nextCompactAt(failed);
    }
  }

  async #planCompaction(): Promise<CompactionPlan | undefined> {
    this.#assertWritable();
    const { seq } = this.#db.data;
    if (this.#snapshot.seq === seq) {
      const covered = this.#journal.covered;
      return covered > 0 ? { seq, journalBytes: covered, writing: undefined } : undefined;
    }
    // In the queue, where the journal is never being replaced.
    await this.#journal.openReader();
    // lowdb hands the document to the adapter at once, which pictures it here, in the queue:
    // the tasks as of entry `seq`. The write itself goes on beside later commits.
    return { seq, journalBytes: this.#journal.size, writing: this.#db.write() };
  }

  /** Drops the journal's head that the snapshot holds, keeping the lines appended since. */
  async #dropCoveredLines(): Promise<void> {
    this.#assertWritable();
    // Every task still kept as a place in the journal was committed after the snapshot's
    // picture (the others took places in the snapshot just before): its text is in the tail.
    await this.#journal.dropCovered((covered) => this.#places.journalCut(covered));
  }

  /**
   * Past the larger of compactBytes and the snapshot: each compaction rewrites at most as many
   * bytes as were appended since the last one. After a failed one the journal must grow as
   * much again before the size trigger tries once more (the compact sweep and close still do).
   */
  #nextCompactAt(failed: boolean): number {
    return (failed ? this.#journal.size : 0) + Math.max(this.#compactBytes ?? 0, this.#places.snapshotBytes);
  }

  #assertWritable(): void {
    const lost = this.#lock.compromised;
    if (lost) {
      throw new StoreWriteError(`the lock on store file ${this.location} was lost (${lost.message}); another supervisor may own it now`, lost);
    }
    if (this.#journal.broken) {
      throw new StoreWriteError(`the journal ${this.#journal.path} could not be cut back after a failed append; reopen the store to recover it`);
    }
  }

  /** The snapshot of every task now, as the write of a store without a journal (or its first write). */
  async #writeSnapshotNow(): Promise<void> {
    const document = this.#db.data;
    await this.#db.write();
    await document.places.adoptStaged();
    this.#snapshot = { journaled: document.journaled, seq: document.seq };
  }

  /**
   * Reads the snapshot, then replays the journal lines it does not hold yet (load.ts). Everything
   * is validated before anything is written; the only writes are creating a missing store and,
   * with a journal, cutting a torn last line so that the next append starts a line of its own.
   */
  async #load(): Promise<Map<string, TaskRecord>> {
    const { records, snapshot, replayed } = await loadStore({ journalPath: this.#journal.path, corrupt: this.#corrupt }, this.#db, this.#adapter);
    // Once any journal entry exists the snapshot must say how many it holds, or a store that
    // reopens would replay them twice; a store that never had a journal keeps formatVersion 1.
    this.#db.data.journaled = this.#compactBytes !== null || this.#db.data.seq > 0;
    this.#snapshot = snapshot ?? { journaled: false, seq: 0 };
    this.#journal.reset(replayed);
    this.#compactionDue = false;
    this.#written = false;
    if (snapshot === undefined) {
      try {
        await this.#writeSnapshotNow();
      } catch (writeError) {
        throw new StoreWriteError(`could not create store file ${this.location}: ${describe(writeError)}`, writeError);
      }
    }
    if (this.#compactBytes !== null && replayed.complete < replayed.size) {
      try {
        await this.#journal.cutTornLine();
      } catch (error) {
        throw new StoreWriteError(`could not cut the torn last line of the journal ${this.#journal.path}: ${describe(error)}`, error);
      }
    }
    this.#compactAt = this.#nextCompactAt(false);
    return records;
  }
}
