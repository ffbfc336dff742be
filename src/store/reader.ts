// The read-only reader of a JSON store: every task as of one moment, read from the snapshot and
// its journal without the lock, while a supervisor may be committing and compacting. It never
// writes a byte, creates no file or directory, and fires no timer (what a deadline that passed
// means is for the caller to say, see src/cli/reading.ts). Used by the CLI's reading commands
// and the archive (`leasehold show`).
//
// A reader sees the files the writer is changing, so it has to take a consistent picture of
// them. What the writer does, and why each step is safe to read beside:
// - the snapshot is only ever replaced whole (steno's temp file renamed over it): read through
//   one open handle it is never torn, whichever version that is;
// - commits append lines to the journal; a last line without its newline (being written, or
//   cut back after a failed append) is not part of the reading;
// - a compaction renames a new snapshot in (journalSeq S) and only then drops the journal's
//   head: it cuts the journal to nothing (every line was ≤ S) or renames its tail (the lines
//   > S) over it. A reader holding the old journal open still reads the old file whole.
// So: open the snapshot, read it (journalSeq S), read the journal and replay its lines above
// S. A journal whose first line is above S + 1 (the snapshot read is older than a compaction
// that has already dropped the lines between), a snapshot whose path no longer names the file
// read (a compaction ran meanwhile: the reading would be older than the store was when the
// read began), or a journal that fails to validate while it changed under the read (a cut
// journal refilled while it was read) is read again, at most `attempts` times.

import { constants, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { InvalidInputError, LeaseholdError, StoreCorruptError } from '../errors.js';
import { parseSnapshot } from './document.js';
import { describe, errorCode } from './files.js';
import { JournalGapError, journalPathOf, replayJournalBytes } from './journal.js';
import { realStorePath } from './real-path.js';
import type { StoreMeta, TaskRecord } from './types.js';

/** The store as of one moment, as its files hold it (no deadline acted on). */
export interface StoreReading {
  /** The path as given, for messages. */
  location: string;
  /** Every task, in the store's order (the snapshot's, then tasks the journal added). */
  tasks: Map<string, TaskRecord>;
  meta: StoreMeta;
  /** The newest journal entry the reading holds (0 for a store that never had a journal). */
  seq: number;
}

export interface ReadStoreOptions {
  /** Whole reads tried before giving up while compactions keep replacing the files (default 5). */
  attempts?: number;
}

export const DEFAULT_READ_ATTEMPTS = 5;

/** Why one read was not a consistent picture, to be tried again. */
interface Retry {
  retry: Error;
}

/**
 * Reads the JSON store at `path` (a `jsonFileStore`'s file, journaled or not) without its lock.
 * Rejects with INVALID_INPUT when there is no store at `path` (nothing is created), with
 * STORE_CORRUPT (naming the file) when a file does not parse or validate, and with
 * STORE_LOCKED when the files kept changing under every attempt.
 */
export async function readStore(path: string, options: ReadStoreOptions = {}): Promise<StoreReading> {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidInputError('store path', ['must be a non-empty string']);
  const attempts = options.attempts ?? DEFAULT_READ_ATTEMPTS;
  if (!Number.isInteger(attempts) || attempts < 1) throw new InvalidInputError('read options', ['attempts must be a whole number, 1 or more']);
  const file = realStorePath(path);
  let last: Error | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const read = await readOnce(path, file);
    if (!('retry' in read)) return read;
    last = read.retry;
  }
  // A real gap or damage found on every attempt is the store's error; anything else means the
  // writer kept replacing the files faster than they could be read.
  if (last instanceof StoreCorruptError) throw last;
  throw new LeaseholdError('STORE_LOCKED', `store file ${path} changed under each of ${attempts} reads (${last?.message ?? 'compactions'}); try again`);
}

async function readOnce(location: string, file: string): Promise<StoreReading | Retry> {
  const corrupt = (problem: string, cause?: unknown) => new StoreCorruptError(location, problem, cause);
  const journalPath = journalPathOf(file);
  const snapshot = await openForReading(file, corrupt);
  if (snapshot === undefined) {
    // A store writes its snapshot before any journal line, and never removes it.
    const journal = await openForReading(journalPath, (problem, cause) => new StoreCorruptError(journalPath, problem, cause));
    if (journal !== undefined) {
      const size = journal.info.size;
      await journal.handle.close();
      if (size > 0) throw corrupt(`it is missing, but its journal ${journalPath} is not empty`);
    }
    throw new InvalidInputError('store path', [`no store at ${location} (nothing was created)`]);
  }
  let parsed: ReturnType<typeof parseSnapshot>;
  try {
    if (snapshot.info.size === 0) throw corrupt('the file is empty (0 bytes)');
    parsed = parseSnapshot(await readAll(snapshot.handle, snapshot.info.size, corrupt));
  } finally {
    await snapshot.handle.close();
  }
  if (typeof parsed === 'string') throw corrupt(parsed);
  const { records } = parsed;
  const after = parsed.journalSeq ?? 0;

  const journalCorrupt = (problem: string, cause?: unknown) => new StoreCorruptError(journalPath, problem, cause);
  const journal = await openForReading(journalPath, journalCorrupt);
  let seq = after;
  let epochFloor = parsed.epochFloor;
  if (journal !== undefined) {
    let bytes: Buffer;
    let changed: boolean;
    try {
      bytes = await readAll(journal.handle, journal.info.size, journalCorrupt);
      changed = identity(await journal.handle.stat()) !== identity(journal.info) || (await sameFile(journalPath, journal.info)) !== true;
    } finally {
      await journal.handle.close();
    }
    try {
      const replayed = replayJournalBytes(journalPath, bytes, after, (id, record) => {
        if (record === null) records.delete(id);
        else records.set(id, record);
      });
      seq = replayed.seq;
      epochFloor = replayed.epochFloor ?? epochFloor;
    } catch (error) {
      if (error instanceof JournalGapError || (changed && error instanceof StoreCorruptError)) return { retry: error };
      throw error;
    }
  }
  // Checked last: the snapshot replaced since it was opened means a compaction ran during this
  // read, and the journal read may hold fewer lines than the store had when the read began (it
  // was cut). Without a journal the snapshot read is the whole store as of its opening (a store
  // without one replaces its snapshot on every commit: each version is complete).
  if (journal !== undefined && (await sameFile(file, snapshot.info)) !== true) {
    return { retry: new Error('a compaction replaced the snapshot during the read') };
  }
  return { location, tasks: records, meta: { epochFloor }, seq };
}

/** `path` opened for reading with its stats, or undefined when it does not exist. */
async function openForReading(
  path: string,
  corrupt: (problem: string, cause?: unknown) => Error,
): Promise<{ handle: FileHandle; info: Stats } | undefined> {
  let handle: FileHandle;
  try {
    // Non-blocking: a FIFO put where the store should be must not hang the reader.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw corrupt(`it could not be read (${describe(error)})`, error);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw corrupt('it is not a regular file');
    return { handle, info };
  } catch (error) {
    await handle.close();
    throw error instanceof LeaseholdError ? error : corrupt(`it could not be read (${describe(error)})`, error);
  }
}

/**
 * The file's bytes from its start up to `size` (what it held when opened), or fewer should it
 * have been cut meanwhile. Appends after the open are left for the next read.
 */
async function readAll(handle: FileHandle, size: number, corrupt: (problem: string, cause?: unknown) => Error): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(size);
  let done = 0;
  try {
    while (done < size) {
      const { bytesRead } = await handle.read(bytes, done, size - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
  } catch (error) {
    throw corrupt(`it could not be read (${describe(error)})`, error);
  }
  return bytes.subarray(0, done);
}

/** Whether `path` still names the file `info` describes, unchanged; undefined when it is gone. */
async function sameFile(path: string, info: Stats): Promise<boolean | undefined> {
  try {
    return identity(await stat(path)) === identity(info);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/** Which file, and which version of it: a rename changes the inode, a write the size or times. */
function identity(info: Stats): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
}
