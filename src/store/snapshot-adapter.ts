// The JSON file store's document as lowdb holds it: `Low<StoreDocument>` over this adapter.
// The document (`db.data`) is the places of every task's text (places.ts) plus the head the
// next snapshot writes; there is no second copy of the tasks and no whole-document stringify.
// Owns reading the snapshot file into a document (`db.read()`) and streaming a document out to
// the snapshot file (`db.write()`, through snapshot-file.ts: temp file, fsyncs, rename).

import type { Stats } from 'node:fs';
import { stat, type FileHandle } from 'node:fs/promises';
import type { Adapter } from 'lowdb';
import { Writer } from 'steno';
import type { StoreCorruptError } from '../errors.js';
import { parseSnapshot, type ParsedSnapshot } from './document.js';
import { describe, errorCode } from './files.js';
import { Places } from './places.js';
import { writeSnapshot } from './snapshot-file.js';
import type { TaskRecord } from './types.js';

export interface StoreDocument {
  /** Every task's entry text, or where it lies in the snapshot file or the journal. */
  readonly places: Places;
  /** The newest journal entry the places reflect (0: none). */
  seq: number;
  /** StoreMeta's epochFloor as of `seq`. */
  epochFloor: number;
  /**
   * The snapshot says how many journal entries it holds (formatVersion 2), as it must once a
   * journal exists beside it; false writes formatVersion 1, the store of one file.
   */
  journaled: boolean;
}

export function emptyDocument(): StoreDocument {
  return { places: new Places(), seq: 0, epochFloor: 0, journaled: false };
}

interface SnapshotFiles {
  /** The snapshot's real path. */
  file: string;
  /** What errors call it (the path the caller gave). */
  corrupt: (problem: string, cause?: unknown) => StoreCorruptError;
  /** The journal open for reading, for tasks kept as places in it (undefined while it is not). */
  journal: () => FileHandle | undefined;
}

export class SnapshotAdapter implements Adapter<StoreDocument> {
  readonly #files: SnapshotFiles;
  /** Writes a temp file beside the snapshot and renames it into place (it does not fsync). */
  readonly #writer: Writer;
  /** The records the last read parsed, until the store takes them. */
  #parsed: Map<string, TaskRecord> | undefined;

  constructor(files: SnapshotFiles) {
    this.#files = files;
    this.#writer = new Writer(files.file);
  }

  /**
   * The snapshot as a document whose places point into it (the file stays open for them), or
   * null when there is no snapshot yet. Refuses a malformed one with STORE_CORRUPT.
   */
  async read(): Promise<StoreDocument | null> {
    const places = new Places();
    const snapshot = await readSnapshot(this.#files.file, places, this.#files.corrupt).catch(async (error: unknown) => {
      await places.clear();
      throw error;
    });
    if (snapshot === undefined) return null;
    places.restart(snapshot.entries, snapshot.bytes);
    this.#parsed = snapshot.records;
    return { places, seq: snapshot.journalSeq ?? 0, epochFloor: snapshot.epochFloor, journaled: snapshot.journalSeq !== null };
  }

  /** The records the last read parsed (fresh objects, the caller's to keep), handed out once. */
  takeRecords(): Map<string, TaskRecord> {
    const records = this.#parsed ?? new Map<string, TaskRecord>();
    this.#parsed = undefined;
    return records;
  }

  /**
   * Writes the document as it is at this call durably, and stages the new file in its places
   * (Places.adoptStaged makes it current). The tasks are pictured before anything is awaited,
   * and lowdb's `write()` calls this at once: `db.write()` writes the document as it was when
   * it was called, while later commits go on changing it.
   */
  write(document: StoreDocument): Promise<void> {
    const { places } = document;
    const picture = places.picture();
    const head = { journalSeq: document.journaled ? document.seq : null, epochFloor: document.epochFloor };
    const sources = { snapshot: places.snapshotFile, journal: this.#files.journal() };
    return writeSnapshot(this.#writer, this.#files.file, picture.entries, head, sources).then((written) => places.stage(picture, written));
  }
}

/** The parsed snapshot and its size, or undefined when there is none yet; keeps the file open in `places`. */
async function readSnapshot(
  file: string,
  places: Places,
  corrupt: (problem: string, cause?: unknown) => StoreCorruptError,
): Promise<(ParsedSnapshot & { bytes: number }) | undefined> {
  let info: Stats;
  try {
    info = await stat(file);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw corrupt(`it could not be read (${describe(error)})`, error);
  }
  if (!info.isFile()) throw corrupt('it is not a regular file');
  if (info.size === 0) throw corrupt('the file is empty (0 bytes)');
  let bytes: Buffer;
  try {
    bytes = await places.readSnapshot(file);
  } catch (error) {
    throw corrupt(`it could not be read (${describe(error)})`, error);
  }
  // A file that parses to a falsy value (`null`, `0`) is refused too: it must not pass for an empty store.
  const parsed = parseSnapshot(bytes);
  if (typeof parsed === 'string') throw corrupt(parsed);
  return { ...parsed, bytes: bytes.length };
}
