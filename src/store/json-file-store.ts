// The default store: every task in one versioned JSON file written through lowdb, guarded by
// an exclusive lock directory (proper-lockfile) plus an owner sidecar that lets a successor
// recognise a lock left by a dead process. Owns the file's format, its locking and durability.

import type { Stats } from 'node:fs';
import { mkdir, open as openFile, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import lockfile from 'proper-lockfile';
import { z } from 'zod';
import { InvalidInputError, StoreCorruptError, StoreLockedError, StoreWriteError } from '../errors.js';
import { assertValidChanges, copyRecords, summarise, taskRecordIssues } from './records.js';
import { FORMAT_VERSION } from './types.js';
import type { Store, StoreChanges, StoreContents, TaskRecord } from './types.js';

export interface JsonFileStoreOptions {
  /**
   * How long an un-refreshed lock counts as held (default 10 000 ms). proper-lockfile refreshes
   * a held lock every staleLockMs / 2 and will not go below 2 000 ms.
   */
  staleLockMs?: number;
}

interface StoreDocument {
  formatVersion: number;
  tasks: { [id: string]: TaskRecord };
}

const MIN_STALE_MS = 2_000;

const documentShape = z.strictObject({
  formatVersion: z.literal(FORMAT_VERSION),
  tasks: z.record(z.string(), z.unknown(), { error: 'must be an object mapping task ids to records' }),
});

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

export function jsonFileStore(path: string, options: JsonFileStoreOptions = {}): Store {
  if (typeof path !== 'string' || path.length === 0) {
    throw new InvalidInputError('store path', ['must be a non-empty string']);
  }
  const stale = options.staleLockMs ?? 10_000;
  if (!Number.isFinite(stale) || stale <= 0) {
    throw new InvalidInputError('store options', ['staleLockMs must be a positive number of milliseconds']);
  }
  return new JsonFileStore(resolve(path), Math.max(stale, MIN_STALE_MS));
}

type Phase = 'closed' | 'opening' | 'open' | 'closing';

type HolderVerdict = { kind: 'removed' } | { kind: 'held'; holder: string | undefined };

class JsonFileStore implements Store {
  readonly location: string;
  readonly #lockPath: string;
  readonly #ownerPath: string;
  readonly #staleMs: number;
  readonly #db: Low<StoreDocument>;

  #phase: Phase = 'closed';
  #opening: Promise<unknown> | undefined;
  #closing: Promise<void> | undefined;
  #tasks = new Map<string, TaskRecord>();
  #queue: Promise<void> = Promise.resolve();
  #unlock: (() => Promise<void>) | undefined;
  #ownerText: string | undefined;
  #compromised: Error | undefined;
  #lockGeneration = 0;

  constructor(file: string, staleMs: number) {
    this.location = file;
    this.#lockPath = `${file}.lock`;
    this.#ownerPath = `${file}.lock.owner`;
    this.#staleMs = staleMs;
    // Not JSONFilePreset: it silently swaps in a memory adapter when NODE_ENV is 'test'.
    this.#db = new Low<StoreDocument>(new JSONFile<StoreDocument>(file), toDocument(new Map()));
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
    // Serialised so that each write starts from the state the previous one left, and a
    // failed write can be undone without disturbing a later batch.
    const result = this.#queue.then(() => this.#apply(copies));
    this.#queue = result.catch(() => undefined);
    return result;
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
        this.#closing = this.#queue.then(async () => {
          await this.#release();
          this.#phase = 'closed';
        });
        return this.#closing;
    }
  }

  async #apply(changes: Map<string, TaskRecord | null>): Promise<void> {
    if (this.#compromised) {
      throw new StoreWriteError(
        `the lock on store file ${this.location} was lost (${this.#compromised.message}); another supervisor may own it now`,
        this.#compromised,
      );
    }
    if (changes.size === 0) return;
    const undo = new Map<string, TaskRecord | undefined>();
    for (const [id, record] of changes) {
      undo.set(id, this.#tasks.get(id));
      if (record === null) this.#tasks.delete(id);
      else this.#tasks.set(id, record);
    }
    try {
      await this.#writeDurably();
    } catch (error) {
      // Memory must not run ahead of the disk: the next write would otherwise persist a batch
      // whose commit the caller saw fail.
      for (const [id, previous] of undo) {
        if (previous === undefined) this.#tasks.delete(id);
        else this.#tasks.set(id, previous);
      }
      throw new StoreWriteError(`could not write store file ${this.location}: ${describe(error)}`, error);
    }
  }

  async #writeDurably(): Promise<void> {
    this.#db.data = toDocument(this.#tasks);
    await this.#db.write();
    // steno (lowdb's writer) renames a temp file into place but never fsyncs, so until both
    // the file and the directory entry are synced a crash could lose an acknowledged write.
    await syncPath(this.location);
    if (process.platform !== 'win32') await syncPath(dirname(this.location));
  }

  async #load(): Promise<Map<string, TaskRecord>> {
    let info: Stats;
    try {
      info = await stat(this.location);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw this.#corrupt(`it could not be read (${describe(error)})`, error);
      try {
        await this.#writeDurably();
      } catch (writeError) {
        throw new StoreWriteError(`could not create store file ${this.location}: ${describe(writeError)}`, writeError);
      }
      return new Map();
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
        stale: this.#staleMs,
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
   * its sidecar) so the caller can try once more. Anything uncertain counts as held: mtime
   * staleness inside proper-lockfile is the fallback that keeps a lock from blocking forever.
   */
  async #inspectHolder(): Promise<HolderVerdict> {
    let before: string;
    try {
      before = lockIdentity(await stat(this.#lockPath));
    } catch (error) {
      // Released between our attempt and now: worth one more try.
      if (errorCode(error) === 'ENOENT') return { kind: 'removed' };
      return { kind: 'held', holder: undefined };
    }
    const text = await readOptional(this.#ownerPath);
    const owner = text === undefined ? undefined : parseOwner(text);
    if (owner === undefined || (owner.lockId !== undefined && owner.lockId !== before)) {
      // No sidecar yet, or one written for an earlier lock: the holder is unknown.
      return { kind: 'held', holder: undefined };
    }
    const holder = `pid ${owner.pid} on ${owner.hostname} since ${owner.startedAt}`;
    if (owner.hostname !== hostname()) return { kind: 'held', holder };
    const alive = owner.pid === process.pid ? heldHere.has(this.#lockPath) : processExists(owner.pid);
    if (alive) return { kind: 'held', holder };
    // Another opener may have replaced the dead lock meanwhile; only remove the one we judged.
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

/**
 * Builds the on-disk document from the in-memory map. The tasks object has no prototype and
 * gets its keys by defineProperty so that an id such as "__proto__" is stored as data.
 */
function toDocument(tasks: Map<string, TaskRecord>): StoreDocument {
  const byId = Object.create(null) as { [id: string]: TaskRecord };
  for (const [id, record] of tasks) {
    Object.defineProperty(byId, id, { value: record, enumerable: true, writable: true, configurable: true });
  }
  return { formatVersion: FORMAT_VERSION, tasks: byId };
}

/** The tasks of a parsed file, or a description of what is wrong with it. */
function parseDocument(raw: unknown): Map<string, TaskRecord> | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'the top level is not a JSON object';
  const document = raw as { [key: string]: unknown };
  // The version is checked first: a newer format may differ in every other respect.
  if (!Object.hasOwn(document, 'formatVersion')) {
    return `formatVersion is missing (this version supports formatVersion ${FORMAT_VERSION})`;
  }
  if (document.formatVersion !== FORMAT_VERSION) {
    return `it has formatVersion ${JSON.stringify(document.formatVersion)}, but this version supports only formatVersion ${FORMAT_VERSION}`;
  }
  const shape = documentShape.safeParse(raw);
  if (!shape.success) {
    return summarise(
      shape.error.issues.map((issue) => `${issue.path.length === 0 ? 'document' : issue.path.map(String).join('.')}: ${issue.message}`),
    ).join('; ');
  }
  // Read from the parsed JSON itself: zod's record output leaves out a "__proto__" key.
  const tasks = document.tasks as { [id: string]: unknown };
  const result = new Map<string, TaskRecord>();
  const issues: string[] = [];
  for (const [id, value] of Object.entries(tasks)) {
    const problems = taskRecordIssues(id, value, `tasks[${JSON.stringify(id)}]`);
    if (problems.length > 0) issues.push(...problems);
    else result.set(id, value as TaskRecord);
  }
  return issues.length > 0 ? summarise(issues).join('; ') : result;
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

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function syncPath(path: string): Promise<void> {
  const handle = await openFile(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const { code } = error as { code: unknown };
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
