// The default store: every task in one JSON snapshot written through lowdb, optionally with a
// journal that commits append to and compaction folds back; guarded by a lock directory
// (proper-lockfile) plus an owner sidecar naming its process. Owns locking, durability, compaction.

import type { Stats } from 'node:fs';
import { mkdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import lockfile from 'proper-lockfile';
import { z } from 'zod';
import { InvalidInputError, StoreCorruptError, StoreLockedError, StoreWriteError } from '../errors.js';
import { parseDocument, toDocument, type StoreDocument } from './document.js';
import { describe, errorCode, readOptional, syncDirectoryOf, syncPath } from './files.js';
import { journalLine, journalPathOf, openJournal, replayJournal, type JournalWriter } from './journal.js';
import { assertValidChanges, copyRecords } from './records.js';
import type { Store, StoreChanges, StoreContents, TaskRecord } from './types.js';

export interface JsonFileStoreOptions {
  /**
   * How long an un-refreshed lock counts as held (default 10 000 ms). proper-lockfile refreshes
   * a held lock every staleLockMs / 2 and will not go below 2 000 ms.
   */
  staleLockMs?: number;
  /**
   * Append each commit as one line to `<path>.journal` (one fsync of a small write) instead of
   * rewriting the whole snapshot, and fold the journal into the snapshot now and then
   * (compaction). Default false: every commit rewrites the snapshot.
   */
  journal?: boolean;
  /** With `journal`: compact once the journal grows past this many bytes (default 8 MiB). */
  compactBytes?: number;
}

/** A store with a journal: `compact()` folds the journal into the snapshot and empties it. */
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
  if (issues.length > 0) throw new InvalidInputError('store options', issues);
  return new JsonFileStore(resolve(path), Math.max(stale, MIN_STALE_MS), options.journal === true ? compactBytes : null);
}

type Phase = 'closed' | 'opening' | 'open' | 'closing';

type HolderVerdict = { kind: 'removed' } | { kind: 'held'; holder: string | undefined };

class JsonFileStore implements Store {
  readonly location: string;
  /** Only with a journal: a store without one has nothing to fold (and gets no `compact` sweep). */
  declare readonly compact?: () => Promise<void>;
  readonly #lockPath: string;
  readonly #ownerPath: string;
  readonly #staleMs: number;
  readonly #db: Low<StoreDocument>;
  readonly #journalPath: string;
  /** The journal size that triggers compaction, or null when commits rewrite the snapshot. */
  readonly #compactBytes: number | null;

  #phase: Phase = 'closed';
  #opening: Promise<unknown> | undefined;
  #closing: Promise<void> | undefined;
  #tasks = new Map<string, TaskRecord>();
  #queue: Promise<void> = Promise.resolve();
  #unlock: (() => Promise<void>) | undefined;
  #ownerText: string | undefined;
  #compromised: Error | undefined;
  #lockGeneration = 0;
  /** The newest journal entry #tasks reflects. */
  #seq = 0;
  /** What the snapshot on disk is: formatVersion 1 predates any journal; `seq` is its journalSeq. */
  #snapshot: { journaled: boolean; seq: number } = { journaled: false, seq: 0 };
  /** Bytes of complete lines in the journal, and whether its file exists. */
  #journalSize = 0;
  #journalExists = false;
  /** Opened at the first append (or cut) and kept open until close. */
  #writer: JournalWriter | undefined;
  #compactQueued = false;

  constructor(file: string, staleMs: number, compactBytes: number | null) {
    this.location = file;
    this.#lockPath = `${file}.lock`;
    this.#ownerPath = `${file}.lock.owner`;
    this.#journalPath = journalPathOf(file);
    this.#staleMs = staleMs;
    this.#compactBytes = compactBytes;
    // Not JSONFilePreset: it silently swaps in a memory adapter when NODE_ENV is 'test'.
    this.#db = new Low<StoreDocument>(new JSONFile<StoreDocument>(file), toDocument(new Map(), null));
    if (compactBytes !== null) {
      this.compact = () =>
        this.#phase === 'open'
          ? this.#enqueue(() => this.#compact())
          : Promise.reject(new StoreWriteError(`store file ${this.location} is not open`));
    }
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
      this.#tasks = await this.#load();
      this.#phase = 'open';
      return { tasks: copyRecords(this.#tasks) };
    } catch (error) {
      await this.#dropWriter();
      await this.#release();
      this.#phase = 'closed';
      throw error;
    }
  }

  commit(changes: StoreChanges): Promise<void> {
    if (this.#phase !== 'open') {
      return Promise.reject(new StoreWriteError(`store file ${this.location} is not open`));
    }
    let copies: Map<string, TaskRecord | null>;
    try {
      assertValidChanges(changes);
      // Copied now, not when the queue reaches this batch: the caller may reuse its objects.
      copies = new Map([...changes].map(([id, record]) => [id, record === null ? null : structuredClone(record)]));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue(() => this.#apply(copies));
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
        this.#closing = this.#enqueue(async () => {
          // A closed store is one readable file. Should this fail, the journal still holds every commit.
          if (this.#compactBytes !== null) await this.#compact().catch(() => undefined);
          await this.#dropWriter();
          await this.#release();
          this.#phase = 'closed';
        });
        return this.#closing;
    }
  }

  /**
   * Serialised so that each write starts from the state the previous one left, and a failed
   * write can be undone without disturbing a later batch.
   */
  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(work);
    this.#queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  async #apply(changes: Map<string, TaskRecord | null>): Promise<void> {
    this.#assertWritable();
    if (changes.size === 0) return;
    const undo = new Map<string, TaskRecord | undefined>();
    for (const [id, record] of changes) {
      undo.set(id, this.#tasks.get(id));
      if (record === null) this.#tasks.delete(id);
      else this.#tasks.set(id, record);
    }
    // A formatVersion 1 snapshot is rewritten once before any line goes to the journal, so that
    // a file with a journal beside it always says so.
    const append = this.#compactBytes !== null && this.#snapshot.journaled;
    try {
      if (append) await this.#append(changes);
      else await this.#writeSnapshot();
    } catch (error) {
      // Memory must not run ahead of the disk: the next write would otherwise persist a batch
      // whose commit the caller saw fail.
      for (const [id, previous] of undo) {
        if (previous === undefined) this.#tasks.delete(id);
        else this.#tasks.set(id, previous);
      }
      throw new StoreWriteError(`could not write store file ${append ? this.#journalPath : this.location}: ${describe(error)}`, error);
    }
    if (this.#compactBytes !== null && this.#journalSize > this.#compactBytes && !this.#compactQueued) {
      this.#compactQueued = true;
      // Queued, not awaited: this commit is durable already. A failure is left for the next
      // trigger, the compact sweep or close to retry; the journal keeps everything meanwhile.
      this.#enqueue(async () => {
        this.#compactQueued = false;
        if (this.#phase === 'open') await this.#compact();
      }).catch(() => undefined);
    }
  }

  async #append(changes: StoreChanges): Promise<void> {
    const creating = !this.#journalExists;
    const seq = this.#seq + 1;
    try {
      const writer = await this.#openWriter();
      await writer.append(journalLine(seq, changes));
      this.#journalSize = writer.size;
    } catch (error) {
      // A failed commit leaves the files as they were, and that includes not creating the journal.
      if (creating) {
        await this.#dropWriter();
        await rm(this.#journalPath, { force: true }).catch(() => undefined);
      }
      throw error;
    }
    this.#seq = seq;
    this.#journalExists = true;
  }

  /**
   * Folds the journal into the snapshot: snapshot first (temp file, rename, fsync), journal
   * truncated only after. A crash in between leaves lines the snapshot's journalSeq already
   * covers, which the next open skips.
   */
  async #compact(): Promise<void> {
    this.#assertWritable();
    try {
      if (this.#snapshot.seq !== this.#seq) await this.#writeSnapshot();
      if (this.#journalSize > 0) {
        await (await this.#openWriter()).truncate(0);
        this.#journalSize = 0;
      }
    } catch (error) {
      throw new StoreWriteError(`could not compact the journal ${this.#journalPath} into store file ${this.location}: ${describe(error)}`, error);
    }
  }

  #assertWritable(): void {
    if (this.#compromised) {
      throw new StoreWriteError(
        `the lock on store file ${this.location} was lost (${this.#compromised.message}); another supervisor may own it now`,
        this.#compromised,
      );
    }
    if (this.#writer?.broken) {
      throw new StoreWriteError(`the journal ${this.#journalPath} could not be cut back after a failed append; reopen the store to recover it`);
    }
  }

  async #openWriter(): Promise<JournalWriter> {
    this.#writer ??= await openJournal(this.#journalPath, this.#journalSize);
    return this.#writer;
  }

  async #dropWriter(): Promise<void> {
    const writer = this.#writer;
    this.#writer = undefined;
    await writer?.close().catch(() => undefined);
  }

  async #writeSnapshot(): Promise<void> {
    // Once any journal entry exists the snapshot must say how many it holds, or a store that
    // reopens would replay them twice; a store that never had a journal keeps formatVersion 1.
    const journaled = this.#compactBytes !== null || this.#seq > 0;
    this.#db.data = toDocument(this.#tasks, journaled ? this.#seq : null);
    await this.#db.write();
    // steno (lowdb's writer) renames a temp file into place but never fsyncs, so until both
    // the file and the directory entry are synced a crash could lose an acknowledged write.
    await syncPath(this.location);
    await syncDirectoryOf(this.location);
    this.#snapshot = { journaled, seq: this.#seq };
  }

  /**
   * Reads the snapshot, then replays the journal lines it does not hold yet. Everything is
   * validated before anything is written; the only writes are creating a missing store and,
   * with a journal, cutting a torn last line so that the next append starts a line of its own.
   */
  async #load(): Promise<Map<string, TaskRecord>> {
    const snapshot = await this.#readSnapshot();
    const tasks = snapshot?.tasks ?? new Map<string, TaskRecord>();
    const after = snapshot?.journalSeq ?? 0;
    const replayed = await replayJournal(this.#journalPath, after, tasks);
    this.#tasks = tasks;
    this.#seq = replayed.seq;
    this.#snapshot = { journaled: snapshot !== undefined && snapshot.journalSeq !== null, seq: after };
    this.#journalSize = replayed.complete;
    this.#journalExists = replayed.exists;
    this.#compactQueued = false;
    if (snapshot === undefined) {
      if (replayed.size > 0) throw this.#corrupt(`it is missing, but its journal ${this.#journalPath} is not empty`);
      try {
        await this.#writeSnapshot();
      } catch (writeError) {
        throw new StoreWriteError(`could not create store file ${this.location}: ${describe(writeError)}`, writeError);
      }
    }
    if (this.#compactBytes !== null && replayed.complete < replayed.size) {
      try {
        await (await this.#openWriter()).truncate(replayed.complete);
      } catch (error) {
        throw new StoreWriteError(`could not cut the torn last line of the journal ${this.#journalPath}: ${describe(error)}`, error);
      }
    }
    return tasks;
  }

  /** The parsed snapshot, or undefined when there is none yet. */
  async #readSnapshot() {
    let info: Stats;
    try {
      info = await stat(this.location);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw this.#corrupt(`it could not be read (${describe(error)})`, error);
    }
    if (!info.isFile()) throw this.#corrupt('it is not a regular file');
    if (info.size === 0) throw this.#corrupt('the file is empty (0 bytes)');
    let raw: unknown;
    try {
      // Low#read() is not used: it keeps the defaults when the file parses to a falsy value
      // (`null`, `0`, `false`), which would make a damaged file look like an empty store.
      raw = await this.#db.adapter.read();
    } catch (error) {
      if (error instanceof SyntaxError) throw this.#corrupt(`it is not valid JSON (${error.message})`, error);
      throw this.#corrupt(`it could not be read (${describe(error)})`, error);
    }
    const parsed = parseDocument(raw);
    if (typeof parsed === 'string') throw this.#corrupt(parsed);
    return parsed;
  }

  #corrupt(problem: string, cause?: unknown): StoreCorruptError {
    return new StoreCorruptError(this.location, problem, cause);
  }

  async #acquire(): Promise<void> {
    try {
      await mkdir(dirname(this.location), { recursive: true });
    } catch (error) {
      throw new StoreWriteError(`could not create the directory of store file ${this.location}: ${describe(error)}`, error);
    }
    let unlock = await this.#tryLock();
    if (unlock === undefined) {
      const verdict = await this.#inspectHolder();
      if (verdict.kind === 'removed') unlock = await this.#tryLock();
      if (unlock === undefined) {
        throw new StoreLockedError(this.location, verdict.kind === 'held' ? verdict.holder : undefined);
      }
    }
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
      return await lockfile.lock(this.location, {
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
