// The append-only journal beside a JSON snapshot (`store.json.journal`): one NDJSON line per
// commit, `{"seq":n,"changes":{"<id>":record|null}}` (with `"epochFloor":f` after the seq
// when the commit raises it). Owns the line format, replaying the lines
// newer than the snapshot (a torn last line is not part of it; from the file, or from bytes a
// reader without the lock read itself), the handle that appends, and dropping the lines a
// snapshot has taken in.

import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { StoreCorruptError } from '../errors.js';
import { epochFloorShape, recordsOf, type ByteRange } from './document.js';
import { describe, errorCode, syncDirectoryOf } from './files.js';
import type { TaskRecord } from './types.js';

export const journalPathOf = (snapshotPath: string): string => `${snapshotPath}.journal`;

/** Where a task's entry text lies in the journal, in bytes (`journalAt`, to tell it from a place in the snapshot). */
export interface JournalRange {
  readonly journalAt: number;
  readonly length: number;
}

/**
 * The line for one commit, from its entry texts (see entryText), or null for a deletion: the
 * record texts are pasted in, not serialised again. `places` says where each text lies in it.
 */
export function journalLine(
  seq: number,
  changes: ReadonlyMap<string, string | null>,
  epochFloor?: number,
): { bytes: Buffer; places: Map<string, ByteRange> } {
  const head = `{"seq":${seq},${epochFloor === undefined ? '' : `"epochFloor":${epochFloor},`}"changes":{`;
  const tail = '}}\n';
  const parts: [string, string, number][] = [];
  let size = head.length + tail.length + Math.max(0, changes.size - 1);
  for (const [id, entry] of changes) {
    const text = entry ?? `${JSON.stringify(id)}:null`;
    const length = Buffer.byteLength(text);
    parts.push([id, text, length]);
    size += length;
  }
  const bytes = Buffer.allocUnsafe(size);
  const places = new Map<string, ByteRange>();
  let offset = bytes.write(head, 0, 'latin1');
  parts.forEach(([id, text, length], index) => {
    if (index > 0) offset += bytes.write(',', offset, 'latin1');
    if (changes.get(id) !== null) places.set(id, { at: offset, length });
    offset += bytes.write(text, offset, length, 'utf8');
  });
  bytes.write(tail, offset, 'latin1');
  return { bytes, places };
}

const lineShape = z.strictObject({
  seq: z.number().int().positive(),
  epochFloor: epochFloorShape.optional(),
  changes: z.record(z.string(), z.unknown(), { error: 'must be an object mapping task ids to records or null' }),
});

export interface Replayed {
  /** The newest seq now reflected in the tasks: the last line's, or the snapshot's when that is newer. */
  seq: number;
  /** Bytes of complete lines; anything after them is a torn last line (written, never acknowledged). */
  complete: number;
  /** Bytes of the lines the snapshot already holds (seq ≤ its journalSeq), which lead the journal. */
  covered: number;
  /** The journal's size on disk, 0 when it does not exist. */
  size: number;
  exists: boolean;
  /** The last epoch floor the replayed lines set, if any did. */
  epochFloor: number | undefined;
}

/**
 * Hands `apply` every change of every line whose seq is above `after` (the snapshot's
 * journalSeq), in order. Every complete line must parse, validate and follow its predecessor's
 * seq, or the whole journal is refused: a hole in the middle is lost data, not a crash. Only a
 * last line without its newline is a crash artefact, and it is skipped. Reads only; the caller
 * decides what to cut.
 */
export async function replayJournal(path: string, after: number, apply: (id: string, record: TaskRecord | null) => void): Promise<Replayed> {
  const corrupt = (problem: string, cause?: unknown) => new StoreCorruptError(path, problem, cause);
  let bytes: Buffer;
  try {
    if (!(await stat(path)).isFile()) throw corrupt('it is not a regular file');
    bytes = await readFile(path);
  } catch (error) {
    if (error instanceof StoreCorruptError) throw error;
    if (errorCode(error) === 'ENOENT') return { seq: after, complete: 0, covered: 0, size: 0, exists: false, epochFloor: undefined };
    throw corrupt(`it could not be read (${describe(error)})`, error);
  }
  return replayJournalBytes(path, bytes, after, apply);
}

/**
 * The journal does not reach back to the snapshot: its first line is newer than the entry after
 * the snapshot's journalSeq. For the store that opened both files it is lost data; for a reader
 * without the lock it is also what a compaction that ran between reading the snapshot and
 * reading the journal looks like (the store's error, told apart so that the reader can retry).
 */
export class JournalGapError extends StoreCorruptError {
  constructor(path: string, problem: string) {
    super(path, problem);
    this.name = 'StoreCorruptError';
  }
}

/** replayJournal on the journal's bytes, read by the caller (`path` names it in errors). */
export function replayJournalBytes(path: string, bytes: Buffer, after: number, apply: (id: string, record: TaskRecord | null) => void): Replayed {
  const corrupt = (problem: string, cause?: unknown) => new StoreCorruptError(path, problem, cause);
  const complete = bytes.lastIndexOf(0x0a) + 1;
  let previous: number | undefined;
  let covered = 0;
  let epochFloor: number | undefined;
  // Split on the bytes, not the decoded text: offsets must be byte offsets even where the file
  // holds invalid UTF-8.
  for (let start = 0, index = 0; start < complete; index++) {
    const end = bytes.indexOf(0x0a, start);
    const text = bytes.toString('utf8', start, end);
    start = end + 1;
    const where = `line ${index + 1}`;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw corrupt(`${where} is not valid JSON (${describe(error)})`, error);
    }
    const shape = lineShape.safeParse(raw);
    if (!shape.success) {
      throw corrupt(shape.error.issues.map((issue) => `${where}${issue.path.map((key) => `.${String(key)}`).join('')}: ${issue.message}`).join('; '));
    }
    const { seq } = shape.data;
    if (previous === undefined ? seq > after + 1 : seq !== previous + 1) {
      const expected = previous === undefined ? `at most ${after + 1} (the snapshot holds entries up to ${after})` : `${previous + 1}`;
      const problem = `${where} has seq ${seq}, expected ${expected}: entries are missing`;
      throw previous === undefined ? new JournalGapError(path, problem) : corrupt(problem);
    }
    previous = seq;
    // Read from the parsed JSON itself: zod's record output leaves out a "__proto__" key.
    const changes = recordsOf((raw as { changes: { [id: string]: unknown } }).changes, (id) => `${where}: changes[${JSON.stringify(id)}]`, true);
    if (typeof changes === 'string') throw corrupt(changes);
    // Lines the snapshot already holds (a compaction that stopped before dropping them) are skipped.
    if (seq <= after) {
      covered = start;
      continue;
    }
    for (const [id, record] of changes) apply(id, record);
    if (shape.data.epochFloor !== undefined) epochFloor = shape.data.epochFloor;
  }
  return { seq: Math.max(after, previous ?? 0), complete, covered, size: bytes.length, exists: true, epochFloor };
}

export interface JournalWriter {
  /** Bytes in the journal. */
  readonly size: number;
  /** True once a failed append could not be cut back: appending more would bury a torn line. */
  readonly broken: boolean;
  /** Appends `bytes`, resolving once they are on disk (fdatasync) to where they start. On failure the journal is cut back. */
  append(bytes: Buffer): Promise<number>;
  /** Cuts the journal to `length` bytes, durably. */
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** Opens (creating) the journal for appending; kept open for the store's lifetime to spare an open per commit. */
export async function openJournal(path: string, size: number): Promise<JournalWriter> {
  const handle = await open(path, 'a');
  try {
    await syncDirectoryOf(path);
  } catch (error) {
    await handle.close();
    throw error;
  }
  let current = size;
  let broken = false;
  return {
    get size() {
      return current;
    },
    get broken() {
      return broken;
    },
    async append(bytes) {
      const at = current;
      try {
        for (let offset = 0; offset < bytes.length; ) offset += (await handle.write(bytes, offset)).bytesWritten;
        await handle.datasync();
        current += bytes.length;
        return at;
      } catch (error) {
        // A partial line left behind would end up in the middle once the next commit is appended,
        // and the journal would then be refused as corrupt.
        try {
          await handle.truncate(current);
          await handle.datasync();
        } catch {
          broken = true;
        }
        throw error;
      }
    },
    async truncate(length) {
      await handle.truncate(length);
      // Appends land at the new end from now on, whether or not the sync below succeeds.
      current = length;
      await handle.datasync();
    },
    close: () => handle.close(),
  };
}

/**
 * Replaces the journal by its bytes from `from` to `to` (the lines a new snapshot does not
 * hold): they are written to a temp file and fsynced, the temp file is renamed over the
 * journal, and the directory fsynced. A crash at any point leaves either the whole journal or
 * exactly that tail. `renamed` is told as soon as the journal is the new file, even should
 * the directory fsync then fail. No handle may be appending to the journal meanwhile.
 */
export async function keepJournalTail(path: string, from: number, to: number, renamed: () => void): Promise<void> {
  const tail = Buffer.alloc(to - from);
  const reader = await open(path, 'r');
  try {
    for (let offset = 0; offset < tail.length; ) {
      const { bytesRead } = await reader.read(tail, offset, tail.length - offset, from + offset);
      if (bytesRead === 0) throw new Error(`the journal ended at byte ${from + offset}, before byte ${to}`);
      offset += bytesRead;
    }
  } finally {
    await reader.close();
  }
  const temp = join(dirname(path), `.${basename(path)}.tmp`);
  try {
    const writer = await open(temp, 'w');
    try {
      for (let offset = 0; offset < tail.length; ) offset += (await writer.write(tail, offset)).bytesWritten;
      await writer.datasync();
    } finally {
      await writer.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  renamed();
  await syncDirectoryOf(path);
}
