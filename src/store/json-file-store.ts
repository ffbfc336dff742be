// The default store: every task in one JSON snapshot written atomically through steno (lowdb's
// writer), optionally with a journal that commits append to and compaction folds back; guarded
// by a lock directory (proper-lockfile) plus an owner sidecar naming its process. Owns locking,
// durability, and compaction, which runs beside the commits instead of in front of them.
//
// Each task's entry text (`"<id>":<record JSON>`) is made once, when it is committed: the
// journal line of a commit is those texts pasted together, and from then on the store keeps
// only where the text lies, in the journal or, once a snapshot holds it, in the snapshot file.
// The next snapshot is pasted together from those places, so neither a commit nor a compaction
// serialises a task again, and the store holds neither a second object graph nor the texts.

import type { Stats } from 'node:fs';
import { mkdir, open as openFile, rm, rmdir, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import lockfile from 'proper-lockfile';
import { Writer } from 'steno';
import { z } from 'zod';
import { InvalidInputError, StoreCorruptError, StoreLockedError, StoreWriteError } from '../errors.js';
import { entryText, parseSnapshot, type ParsedSnapshot } from './document.js';
import { describe, errorCode, readOptional } from './files.js';
import { lockWaitIssue, systemLockWaitTime, waitForLock, type LockWaitTime } from './lock-wait.js';
import { journalLine, journalPathOf, keepJournalTail, openJournal, replayJournal, type JournalWriter } from './journal.js';
import { realStorePath } from './real-path.js';
import { checkedMeta, recordTexts } from './records.js';
import { writeSnapshot, type Kept, type Written } from './snapshot-file.js';
import type { Store, StoreChanges, StoreContents, StoreMeta, TaskRecord } from './types.js';

export interface JsonFileStoreOptions {
  /**
   * How long an un-refreshed lock counts as held (default 10 000 ms). proper-lockfile refreshes
   * a held lock every staleLockMs / 2 and will not go below 2 000 ms.
   */
  staleLockMs?: number;
  /**
   * Append each commit as one line to `<path>.journal` (one fsync of a small write) instead of
   * rewriting the whole snapshot, and fold the journal into the snapshot now and then
   * (compaction, which runs beside later commits: they are appended and acknowledged
   * meanwhile). Default false: every commit rewrites the snapshot.
   */
  journal?: boolean;
  /**
   * With `journal`: compact once the journal is larger than both this many bytes (default
   * 8 MiB) and the snapshot, so that rewriting the snapshot costs O(1) bytes per byte committed
   * however many tasks it holds. 0 compacts as soon as the journal outgrows the snapshot.
   */
  compactBytes?: number;
  /**
   * How long `open()` waits for a lock held by a live supervisor before it rejects with
   * `STORE_LOCKED`, trying again every 10 ms at first and every 250 ms at most (default 0:
   * refused at once, so an orchestrator learns straight away that another one holds the store).
   * At most one hour.
   */
  lockWaitMs?: number;
}

/**
 * A store with a journal: `compact()` folds the journal into the snapshot and drops the lines
 * the snapshot took in (lines appended meanwhile stay); it resolves once that is durable.
 */
export type JournaledStore = Store & { compact(): Promise<void> };

const MIN_STALE_MS = 2_000;
/** What proper-lockfile is told: its own mtime check never fires (see #inspectHolder). */
const NEVER_STALE_MS = Number.MAX_SAFE_INTEGER;
export const DEFAULT_COMPACT_BYTES = 8 * 1024 * 1024;

const ownerShape = z.object({
  pid: z.number().int().positive(),
  hostname: z.string(),
  startedAt: z.string(),
  // Identifies the lock directory the owner created; a sidecar written for an earlier lock
  // must not be taken as describing the current one. Absent in hand-written sidecars.
  lockId: z.string().optional(),
});

/**
 * Lock paths held by stores in this process, so a sidecar naming our own pid can be told apart
 * from one left by an earlier process that had the same pid (common in containers).
 */
const heldHere = new Map<string, JsonFileStore>();

export function jsonFileStore(path: string, options: JsonFileStoreOptions & { journal: true }): JournaledStore;
export function jsonFileStore(path: string, options?: JsonFileStoreOptions): Store;
export function jsonFileStore(path: string, options: JsonFileStoreOptions = {}): Store {
  if (typeof path !== 'string' || path.length === 0) {
    throw new InvalidInputError('store path', ['must be a non-empty string']);
  }
  const stale = options.staleLockMs ?? 10_000;
  const issues: string[] = [];
  if (!Number.isFinite(stale) || stale <= 0) issues.push('staleLockMs must be a positive number of milliseconds');
  if (options.journal !== undefined && typeof options.journal !== 'boolean') issues.push('journal must be true or false');
  const compactBytes = options.compactBytes ?? DEFAULT_COMPACT_BYTES;
  if (typeof compactBytes !== 'number' || !(compactBytes >= 0) || compactBytes === Infinity) {
    issues.push('compactBytes must be a number of bytes (0 or more)');
  }
  const lockWaitMs = options.lockWaitMs ?? 0;
  const lockWaitProblem = lockWaitIssue(lockWaitMs);
  if (lockWaitProblem !== undefined) issues.push(lockWaitProblem);
  if (issues.length > 0) throw new InvalidInputError('store options', issues);
  return new JsonFileStore(resolve(path), Math.max(stale, MIN_STALE_MS), options.journal === true ? compactBytes : null, lockWaitMs);
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

type HolderVerdict = { kind: 'removed' } | { kind: 'held'; holder: string | undefined };

/** How one task is kept right now; replaced by a commit, by a rollback, or by the place a new snapshot gives it. */
interface Slot {
  kept: Kept;
}

/** Every task at one moment: its slot, and what the slot held then. */
interface Picture {
  slots: Slot[];
  entries: Kept[];
}

/** What a compaction writes: the tasks as of journal entry `seq`, when the journal held `journalBytes`. */
interface CompactionPlan {
  seq: number;
  epochFloor: number;
  journalBytes: number;
  /** Undefined when the snapshot holds `seq` already and only the journal is cut. */
  tasks: Picture | undefined;
}

const ignore = () => undefined;

class JsonFileStore implements Store {
  readonly location: string;
  /** The file itself, symlinks resolved: every file the store reads, writes or locks is named from it. */
  readonly #file: string;
  /** Only with a journal: a store without one has nothing to fold (and gets no `compact` sweep). */
  declare readonly compact?: () => Promise<void>;
  readonly #lockPath: string;
  readonly #ownerPath: string;
  readonly #staleMs: number;
  readonly #lockWaitMs: number;
  #lockWaitTime: LockWaitTime | undefined;
  /** Writes a temp file beside the snapshot and renames it into place (it does not fsync). */
  readonly #snapshotWriter: Writer;
  readonly #journalPath: string;
  /** The journal size that triggers compaction, or null when commits rewrite the snapshot. */
  readonly #compactBytes: number | null;

  #phase: Phase = 'closed';
  #opening: Promise<unknown> | undefined;
  #closing: Promise<void> | undefined;
  /**
   * Every task's entry text, or where it lies in #snapshotFile or in the journal, in the order
   * they were first stored (the order of the snapshot). Texts and places are immutable, so
   * copying what the slots hold is a consistent picture of every task at that moment. A text
   * is kept only from the moment it is committed until its line is on disk, and for the tasks
   * a reopened store replayed from its journal until the next snapshot.
   */
  #entries = new Map<string, Slot>();
  /** The snapshot on disk, open for reading the texts of the tasks kept as places in it. */
  #snapshotFile: FileHandle | undefined;
  /** The journal open for reading, while a compaction copies texts from it. */
  #journalReader: FileHandle | undefined;
  /** Commits, and the short steps of a compaction that must not overlap one: one at a time, in order. */
  #queue: Promise<void> = Promise.resolve();
  /** Compactions, one at a time; each takes its turn in #queue only to start and to finish. */
  #compactions: Promise<void> = Promise.resolve();
  #unlock: (() => Promise<void>) | undefined;
  #ownerText: string | undefined;
  #compromised: Error | undefined;
  #lockGeneration = 0;
  /** The newest journal entry #entries reflects. */
  #seq = 0;
  /** StoreMeta's epochFloor as of #seq. */
  #epochFloor = 0;
  /** What the snapshot on disk is: formatVersion 1 predates any journal; `seq` is its journalSeq. */
  #snapshot: { journaled: boolean; seq: number } = { journaled: false, seq: 0 };
  /** The snapshot's size in bytes: the journal may grow to it before a compaction pays off. */
  #snapshotBytes = 0;
  /** Bytes of complete lines in the journal, and whether its file exists. */
  #journalSize = 0;
  #journalExists = false;
  /** Bytes at the head of the journal whose lines the snapshot holds: dropped at the end of a compaction. */
  #covered = 0;
  /** Opened at the first append (or cut) and kept open until close. */
  #journal: JournalWriter | undefined;
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
    this.#lockPath = `${this.#file}.lock`;
    this.#ownerPath = `${this.#file}.lock.owner`;
    this.#journalPath = journalPathOf(this.#file);
    this.#staleMs = staleMs;
    this.#lockWaitMs = lockWaitMs;
    this.#compactBytes = compactBytes;
    this.#snapshotWriter = new Writer(this.#file);
    if (compactBytes !== null) {
      this.compact = () =>
        this.#phase === 'open' ? this.#compact() : Promise.reject(new StoreWriteError(`store file ${this.location} is not open`));
    }
  }

  static settled(store: JsonFileStore): Promise<void> {
    return store.#compactions;
  }

  static useLockWaitTime(store: JsonFileStore, time: LockWaitTime): void {
    store.#lockWaitTime = time;
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
      await this.#acquire();
    } catch (error) {
      this.#phase = 'closed';
      throw error;
    }
    try {
      const tasks = await this.#load();
      this.#phase = 'open';
      // Parsed for this call alone: the store keeps texts, so the caller owns these objects.
      return { tasks, meta: { epochFloor: this.#epochFloor } };
    } catch (error) {
      this.#entries = new Map();
      await this.#dropSnapshotFile();
      await this.#dropJournalReader();
      await this.#dropJournal();
      await this.#release();
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
            await this.#dropJournal();
            await this.#dropJournalReader();
            await this.#dropSnapshotFile();
            await this.#release();
            this.#entries = new Map();
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
    const floor = epochFloor === undefined || epochFloor === this.#epochFloor ? undefined : epochFloor;
    if (changes.size === 0 && floor === undefined) return;
    const floorBefore = this.#epochFloor;
    const undo: [string, Slot | undefined, Kept | undefined][] = [];
    for (const [id, entry] of changes) {
      const slot = this.#entries.get(id);
      undo.push([id, slot, slot?.kept]);
      if (entry === null) this.#entries.delete(id);
      else if (slot) slot.kept = entry;
      else this.#entries.set(id, { kept: entry });
    }
    // A formatVersion 1 snapshot is rewritten once before any line goes to the journal, so that
    // a file with a journal beside it always says so.
    const append = this.#compactBytes !== null && this.#snapshot.journaled;
    try {
      if (append) await this.#append(changes, floor);
      else {
        if (floor !== undefined) this.#epochFloor = floor;
        await this.#writeSnapshotNow();
      }
      this.#written = true;
    } catch (error) {
      this.#epochFloor = floorBefore;
      // Memory must not run ahead of the disk: the next write would otherwise persist a batch
      // whose commit the caller saw fail. The same slot goes back, so that a compaction that
      // pictured it before still finds it.
      for (const [id, slot, kept] of undo) {
        if (slot === undefined) {
          this.#entries.delete(id);
        } else {
          slot.kept = kept!;
          this.#entries.set(id, slot);
        }
      }
      throw new StoreWriteError(`could not write store file ${append ? this.#journalPath : this.location}: ${describe(error)}`, error);
    }
    if (append && !this.#compactionDue && this.#journalSize > this.#compactAt) {
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
    const creating = !this.#journalExists;
    const seq = this.#seq + 1;
    const line = journalLine(seq, changes, epochFloor);
    let at: number;
    try {
      const journal = await this.#openJournal();
      at = await journal.append(line.bytes);
      this.#journalSize = journal.size;
    } catch (error) {
      // A failed commit leaves the files as they were, and that includes not creating the journal.
      if (creating) {
        await this.#dropJournal();
        await rm(this.#journalPath, { force: true }).catch(ignore);
      }
      throw error;
    }
    this.#seq = seq;
    if (epochFloor !== undefined) this.#epochFloor = epochFloor;
    this.#journalExists = true;
    // The texts are on disk now: the store keeps where they lie instead.
    for (const [id, place] of line.places) {
      const slot = this.#entries.get(id);
      if (slot !== undefined && slot.kept === changes.get(id)) slot.kept = { journalAt: at + place.at, length: place.length };
    }
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
      let written: Written | undefined;
      if (plan.tasks !== undefined) {
        this.#assertWritable();
        written = await writeSnapshot(this.#snapshotWriter, this.#file, plan.tasks.entries, { journalSeq: plan.seq, epochFloor: plan.epochFloor }, {
          snapshot: this.#snapshotFile,
          journal: this.#journalReader,
        });
        this.#snapshot = { journaled: true, seq: plan.seq };
        this.#covered = plan.journalBytes;
      }
      await this.#enqueue(async () => {
        if (written !== undefined) await this.#adopt(plan.tasks!, written);
        await this.#dropCoveredLines();
      });
      failed = false;
    } catch (error) {
      throw new StoreWriteError(`could not compact the journal ${this.#journalPath} into store file ${this.location}: ${describe(error)}`, error);
    } finally {
      this.#compactAt = this.#nextCompactAt(failed);
    }
  }

  async #planCompaction(): Promise<CompactionPlan | undefined> {
    this.#assertWritable();
    if (this.#snapshot.seq === this.#seq) {
      return this.#covered > 0 ? { seq: this.#seq, epochFloor: this.#epochFloor, journalBytes: this.#covered, tasks: undefined } : undefined;
    }
    // In the queue, where the journal is never being replaced.
    if (this.#journalExists) this.#journalReader ??= await openFile(this.#journalPath, 'r');
    return { seq: this.#seq, epochFloor: this.#epochFloor, journalBytes: this.#journalSize, tasks: this.#picture() };
  }

  /** Drops the journal's head that the snapshot holds, keeping the lines appended since. */
  async #dropCoveredLines(): Promise<void> {
    this.#assertWritable();
    const covered = this.#covered;
    if (covered === 0) return;
    if (covered === this.#journalSize) {
      const journal = await this.#openJournal();
      try {
        await journal.truncate(0);
      } finally {
        this.#journalSize = journal.size;
        if (journal.size === 0) this.#covered = 0;
      }
      return;
    }
    // The handle would be left on the file about to be replaced; the next append opens the new
    // one (and fsyncs the directory first, in case the fsync after the rename failed).
    await this.#dropJournal();
    await keepJournalTail(this.#journalPath, covered, this.#journalSize, () => {
      this.#journalSize -= covered;
      this.#covered = 0;
      // Every task still kept as a place in the journal was committed after the snapshot's
      // picture (the others took places in the snapshot just before): its text is in the tail.
      for (const slot of this.#entries.values()) {
        const kept = slot.kept;
        if (typeof kept !== 'string' && 'journalAt' in kept) slot.kept = { journalAt: kept.journalAt - covered, length: kept.length };
      }
      void this.#dropJournalReader();
    });
  }

  /**
   * Past the larger of compactBytes and the snapshot: each compaction rewrites at most as many
   * bytes as were appended since the last one. After a failed one the journal must grow as
   * much again before the size trigger tries once more (the compact sweep and close still do).
   */
  #nextCompactAt(failed: boolean): number {
    return (failed ? this.#journalSize : 0) + Math.max(this.#compactBytes ?? 0, this.#snapshotBytes);
  }

  #assertWritable(): void {
    if (this.#compromised) {
      throw new StoreWriteError(
        `the lock on store file ${this.location} was lost (${this.#compromised.message}); another supervisor may own it now`,
        this.#compromised,
      );
    }
    if (this.#journal?.broken) {
      throw new StoreWriteError(`the journal ${this.#journalPath} could not be cut back after a failed append; reopen the store to recover it`);
    }
  }

  async #openJournal(): Promise<JournalWriter> {
    this.#journal ??= await openJournal(this.#journalPath, this.#journalSize);
    return this.#journal;
  }

  async #dropJournal(): Promise<void> {
    const journal = this.#journal;
    this.#journal = undefined;
    await journal?.close().catch(ignore);
  }

  /** The snapshot of every task now, as the write of a store without a journal (or its first write). */
  async #writeSnapshotNow(): Promise<void> {
    // Once any journal entry exists the snapshot must say how many it holds, or a store that
    // reopens would replay them twice; a store that never had a journal keeps formatVersion 1.
    const journaled = this.#compactBytes !== null || this.#seq > 0;
    const picture = this.#picture();
    // Only texts and places in the snapshot: a store writes its snapshot here only before its
    // first append (to the journal it opened, or without a journal at all).
    const sources = { snapshot: this.#snapshotFile, journal: undefined };
    const head = { journalSeq: journaled ? this.#seq : null, epochFloor: this.#epochFloor };
    await this.#adopt(picture, await writeSnapshot(this.#snapshotWriter, this.#file, picture.entries, head, sources));
    this.#snapshot = { journaled, seq: this.#seq };
  }

  #picture(): Picture {
    const slots = new Array<Slot>(this.#entries.size);
    const entries = new Array<Kept>(this.#entries.size);
    let index = 0;
    for (const slot of this.#entries.values()) {
      slots[index] = slot;
      entries[index++] = slot.kept;
    }
    return { slots, entries };
  }

  /**
   * Makes a snapshot just written the store's snapshot file: each task still as pictured
   * becomes its place in the new file, a task changed since keeps its text. Run in the commit
   * queue, so that no commit is under way that a failure could roll back to a place in the
   * file replaced here; snapshot writes never overlap (a store without a journal writes in
   * the queue only, one with a journal writes there only while its snapshot is formatVersion
   * 1, when it has nothing to compact).
   */
  async #adopt(picture: Picture, written: Written): Promise<void> {
    for (let index = 0; index < picture.slots.length; index++) {
      const slot = picture.slots[index]!;
      if (slot.kept === picture.entries[index]) slot.kept = written.ranges[index]!;
    }
    const previous = this.#snapshotFile;
    this.#snapshotFile = written.file;
    this.#snapshotBytes = written.size;
    // Awaited: until it is closed the replaced file still takes its space on disk (a write that
    // follows must not succeed only because this close happened to land first).
    await previous?.close().catch(ignore);
  }

  async #dropJournalReader(): Promise<void> {
    const reader = this.#journalReader;
    this.#journalReader = undefined;
    await reader?.close().catch(ignore);
  }

  async #dropSnapshotFile(): Promise<void> {
    const file = this.#snapshotFile;
    this.#snapshotFile = undefined;
    await file?.close().catch(ignore);
  }

  /**
   * Reads the snapshot, then replays the journal lines it does not hold yet. Everything is
   * validated before anything is written; the only writes are creating a missing store and,
   * with a journal, cutting a torn last line so that the next append starts a line of its own.
   */
  async #load(): Promise<Map<string, TaskRecord>> {
    const snapshot = await this.#readSnapshot();
    const records = snapshot?.records ?? new Map<string, TaskRecord>();
    const entries = new Map<string, Slot>();
    for (const [id, kept] of snapshot?.entries ?? []) entries.set(id, { kept });
    const after = snapshot?.journalSeq ?? 0;
    const replayed = await replayJournal(this.#journalPath, after, (id, record) => {
      if (record === null) {
        records.delete(id);
        entries.delete(id);
      } else {
        records.set(id, record);
        // Its text is made once the journal is read, and only for the last version.
        const slot = entries.get(id);
        if (slot) slot.kept = '';
        else entries.set(id, { kept: '' });
      }
    });
    for (const [id, slot] of entries) {
      if (slot.kept === '') slot.kept = entryText(id, JSON.stringify(records.get(id)));
    }
    this.#entries = entries;
    this.#seq = replayed.seq;
    this.#epochFloor = replayed.epochFloor ?? snapshot?.epochFloor ?? 0;
    this.#snapshot = { journaled: snapshot !== undefined && snapshot.journalSeq !== null, seq: after };
    this.#snapshotBytes = snapshot?.bytes ?? 0;
    this.#journalSize = replayed.complete;
    this.#journalExists = replayed.exists;
    this.#covered = replayed.covered;
    this.#compactionDue = false;
    this.#written = false;
    if (snapshot === undefined) {
      if (replayed.size > 0) throw this.#corrupt(`it is missing, but its journal ${this.#journalPath} is not empty`);
      try {
        await this.#writeSnapshotNow();
      } catch (writeError) {
        throw new StoreWriteError(`could not create store file ${this.location}: ${describe(writeError)}`, writeError);
      }
    }
    if (this.#compactBytes !== null && replayed.complete < replayed.size) {
      try {
        await (await this.#openJournal()).truncate(replayed.complete);
      } catch (error) {
        throw new StoreWriteError(`could not cut the torn last line of the journal ${this.#journalPath}: ${describe(error)}`, error);
      }
    }
    this.#compactAt = this.#nextCompactAt(false);
    return records;
  }

  /** The parsed snapshot and its size, or undefined when there is none yet; keeps the file open as #snapshotFile. */
  async #readSnapshot(): Promise<(ParsedSnapshot & { bytes: number }) | undefined> {
    let info: Stats;
    try {
      info = await stat(this.#file);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw this.#corrupt(`it could not be read (${describe(error)})`, error);
    }
    if (!info.isFile()) throw this.#corrupt('it is not a regular file');
    if (info.size === 0) throw this.#corrupt('the file is empty (0 bytes)');
    let bytes: Buffer;
    try {
      this.#snapshotFile = await openFile(this.#file, 'r');
      bytes = await this.#snapshotFile.readFile();
    } catch (error) {
      throw this.#corrupt(`it could not be read (${describe(error)})`, error);
    }
    // A file that parses to a falsy value (`null`, `0`) is refused too: it must not pass for an empty store.
    const parsed = parseSnapshot(bytes);
    if (typeof parsed === 'string') throw this.#corrupt(parsed);
    return { ...parsed, bytes: bytes.length };
  }

  #corrupt(problem: string, cause?: unknown): StoreCorruptError {
    return new StoreCorruptError(this.location, problem, cause);
  }

  async #acquire(): Promise<void> {
    try {
      await mkdir(dirname(this.#file), { recursive: true });
    } catch (error) {
      throw new StoreWriteError(`could not create the directory of store file ${this.location}: ${describe(error)}`, error);
    }
    let holder: string | undefined;
    const lockOnce = async () => {
      const unlock = await this.#tryLock();
      if (unlock !== undefined) return unlock;
      const verdict = await this.#inspectHolder();
      holder = verdict.kind === 'held' ? verdict.holder : undefined;
      return verdict.kind === 'removed' ? this.#tryLock() : undefined;
    };
    // Each try judges the holder afresh, so a holder that dies during the wait is taken over.
    const unlock = await waitForLock(lockOnce, this.#lockWaitMs, (this.#lockWaitTime ??= systemLockWaitTime()));
    if (unlock === undefined) throw new StoreLockedError(this.location, holder, this.#lockWaitMs);
    this.#unlock = unlock;
    this.#compromised = undefined;
    heldHere.set(this.#lockPath, this);
    try {
      const lockInfo = await stat(this.#lockPath);
      this.#ownerText = JSON.stringify({
        pid: process.pid,
        hostname: hostname(),
        startedAt: new Date().toISOString(),
        lockId: lockIdentity(lockInfo),
      });
      await writeFile(this.#ownerPath, this.#ownerText, 'utf8');
    } catch (error) {
      await this.#release();
      throw new StoreWriteError(`could not record the owner of store file ${this.location}: ${describe(error)}`, error);
    }
  }

  /** Resolves to the release function, or undefined when someone else holds the lock. */
  async #tryLock(): Promise<(() => Promise<void>) | undefined> {
    const generation = ++this.#lockGeneration;
    try {
      return await lockfile.lock(this.#file, {
        lockfilePath: this.#lockPath,
        // realpath would fail with ENOENT before the store file's first write.
        realpath: false,
        // Staleness is decided in #inspectHolder, where a live holder's pid outranks the lock's
        // mtime (a forward wall-clock jump must not hand a live store to a second supervisor).
        stale: NEVER_STALE_MS,
        update: this.#staleMs / 2,
        retries: 0,
        // proper-lockfile's default throws from a timer, which would crash the process.
        onCompromised: (error: Error) => {
          // Only the lock currently held counts, not one from an earlier open().
          if (generation !== this.#lockGeneration || this.#unlock === undefined) return;
          this.#compromised = error;
          if (heldHere.get(this.#lockPath) === this) heldHere.delete(this.#lockPath);
        },
      });
    } catch (error) {
      if (errorCode(error) === 'ELOCKED') return undefined;
      throw new StoreWriteError(`could not lock store file ${this.location}: ${describe(error)}`, error);
    }
  }

  /**
   * Decides whether the current lock belongs to a process that is gone; if so removes it (and
   * its sidecar) so the caller can try once more. A holder on this host is judged by its pid
   * alone; only a holder we cannot ask (no sidecar yet, or another host) is judged by how long
   * its lock has gone without a refresh.
   */
  async #inspectHolder(): Promise<HolderVerdict> {
    let info: Stats;
    try {
      info = await stat(this.#lockPath);
    } catch (error) {
      // Released between our attempt and now: worth one more try.
      if (errorCode(error) === 'ENOENT') return { kind: 'removed' };
      return { kind: 'held', holder: undefined };
    }
    const before = lockIdentity(info);
    const text = await readOptional(this.#ownerPath);
    const owner = text === undefined ? undefined : parseOwner(text);
    const known = owner !== undefined && (owner.lockId === undefined || owner.lockId === before);
    const holder = known ? `pid ${owner.pid} on ${owner.hostname} since ${owner.startedAt}` : undefined;
    if (known && owner.hostname === hostname()) {
      const alive = owner.pid === process.pid ? heldHere.has(this.#lockPath) : processExists(owner.pid);
      if (alive) return { kind: 'held', holder };
    } else {
      // File mtimes are wall-clock instants, so this one comparison is against the wall clock.
      const silentMs = new Date().getTime() - info.mtimeMs;
      if (silentMs <= this.#staleMs) return { kind: 'held', holder };
    }
    return this.#removeIfUnchanged(before, text, holder);
  }

  /** Removes the lock we judged dead, unless another opener replaced it meanwhile. */
  async #removeIfUnchanged(before: string, text: string | undefined, holder: string | undefined): Promise<HolderVerdict> {
    let after: string;
    try {
      after = lockIdentity(await stat(this.#lockPath));
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return { kind: 'removed' };
      return { kind: 'held', holder };
    }
    if (after !== before || (await readOptional(this.#ownerPath)) !== text) return { kind: 'held', holder: undefined };
    try {
      await rmdir(this.#lockPath);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') return { kind: 'held', holder };
    }
    await rm(this.#ownerPath, { force: true }).catch(() => undefined);
    return { kind: 'removed' };
  }

  async #release(): Promise<void> {
    // Sidecar first: once the lock directory is gone a successor may write its own sidecar,
    // and we must not delete that one.
    if (this.#ownerText !== undefined && (await readOptional(this.#ownerPath)) === this.#ownerText) {
      await rm(this.#ownerPath, { force: true }).catch(() => undefined);
    }
    this.#ownerText = undefined;
    if (heldHere.get(this.#lockPath) === this) heldHere.delete(this.#lockPath);
    const unlock = this.#unlock;
    this.#unlock = undefined;
    if (unlock !== undefined && this.#compromised === undefined) {
      // A failed release leaves a lock that goes stale on its own; nothing better to do here.
      await unlock().catch(() => undefined);
    }
  }
}

function parseOwner(text: string): z.infer<typeof ownerShape> | undefined {
  try {
    const parsed = ownerShape.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return errorCode(error) !== 'ESRCH';
  }
}

/** Distinguishes one lock directory from a later one created at the same path. */
function lockIdentity(info: Stats): string {
  return `${info.ino}:${info.birthtimeMs}`;
}
