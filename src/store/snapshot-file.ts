// The snapshot file as the store uses it: read once at open and then kept open, so that a task
// the snapshot holds is kept as the place of its text in the file (a byte range) instead of the
// text itself, as a task committed since is kept as the place of its text in the journal; and
// writing the next snapshot from those places (and the few texts not on disk yet), in pieces,
// through steno's atomic temp-file-and-rename. The store's memory then does not grow with the
// size of what it holds, only with the number of tasks.

import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writer } from 'steno';
import { ENTRY_SEPARATOR, snapshotFooter, snapshotHeader, type ByteRange, type SnapshotHead } from './document.js';
import { syncDirectoryOf } from './files.js';
import type { JournalRange } from './journal.js';

/** A task's entry text, or where it lies in the current snapshot file or in the journal. */
export type Kept = string | ByteRange | JournalRange;

/** The files the places are in. */
interface Sources {
  snapshot: FileHandle | undefined;
  journal: FileHandle | undefined;
}

export interface Written {
  /** The new snapshot, open for reading: the ranges below are in it. */
  file: FileHandle;
  /** Where each entry written lies in it, by index of the entries given. */
  ranges: ByteRange[];
  size: number;
}

/** Bytes per piece handed to the file writer: each is assembled in well under a millisecond. */
const PIECE_BYTES = 256 * 1024;
/** Bytes written between two fsyncs of the snapshot being written. */
const SYNC_BYTES = 4 * 1024 * 1024;
const QUOTE = 0x22;

/**
 * Writes the snapshot of `entries` to `path` durably (steno's temp file, fsynced as it grows
 * and before the rename; then the file and its directory fsynced) and opens it for reading.
 * Places are read from `sources`: the snapshot they were taken from (a handle, so it stays
 * readable after the rename replaces it) and the journal. The pieces are assembled only as Node's writeFile
 * asks for the next one, so a large snapshot never holds the event loop longer than one piece
 * takes, nor sits in memory whole.
 */
export async function writeSnapshot(
  writer: Writer,
  path: string,
  entries: readonly Kept[],
  head: SnapshotHead,
  sources: Sources,
): Promise<Written> {
  const ranges: ByteRange[] = new Array<ByteRange>(entries.length);
  await writer.write(synced(pieces(entries, head, sources, ranges), path));
  const file = await open(path, 'r');
  try {
    // steno renames a temp file into place but never fsyncs: until both the file and the
    // directory entry are synced a crash could lose an acknowledged write.
    await file.sync();
    const { size } = await file.stat();
    await syncDirectoryOf(path);
    return { file, ranges, size };
  } catch (error) {
    await file.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Passes the pieces on, fsyncing steno's temp file (`.<name>.tmp` beside `path`, where steno 4
 * writes) every SYNC_BYTES and once more after the last piece, before steno renames it. fsync
 * flushes a file whichever handle wrote it, so a handle of our own will do. The disk then takes
 * a large snapshot a few MiB at a time instead of in one flush that every journal append would
 * queue behind, and the file renamed into place is on disk already. Best effort: should the
 * temp file not be there, the fsync after the rename still makes the snapshot durable.
 */
async function* synced(pieces: AsyncGenerator<Buffer>, path: string): AsyncGenerator<Buffer> {
  const temp = join(dirname(path), `.${basename(path)}.tmp`);
  let handle: FileHandle | null | undefined;
  let unsynced = 0;
  const sync = async () => {
    // Opened only once writeFile asks for a piece after the first: steno's temp file exists by then.
    handle ??= await open(temp, 'r').catch(() => null);
    await handle?.datasync();
    unsynced = 0;
  };
  try {
    for await (const piece of pieces) {
      yield piece;
      unsynced += piece.length;
      if (unsynced >= SYNC_BYTES) await sync();
    }
    await sync();
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * The snapshot in pieces of about PIECE_BYTES, each a buffer of its own (never reused: the
 * writer may still hold the last one) that texts are encoded into and places are read into
 * directly, without a buffer per task.
 */
async function* pieces(entries: readonly Kept[], head: SnapshotHead, sources: Sources, ranges: ByteRange[]): AsyncGenerator<Buffer> {
  let piece = Buffer.allocUnsafeSlow(PIECE_BYTES);
  let used = 0;
  /** Bytes of the snapshot in the pieces before this one. */
  let before = 0;
  const take = () => {
    const full = piece.subarray(0, used);
    before += used;
    piece = Buffer.allocUnsafeSlow(PIECE_BYTES);
    used = 0;
    return full;
  };
  /** Makes room for `bytes` more, in this piece or the next (a larger one when a task needs it). */
  const roomFor = (bytes: number) => {
    if (used + bytes <= piece.length) return undefined;
    const full = used > 0 ? take() : undefined;
    if (bytes > piece.length) piece = Buffer.allocUnsafeSlow(bytes);
    return full;
  };
  const write = (text: string, bytes: number) => {
    piece.write(text, used, bytes, 'utf8');
    used += bytes;
  };
  const separate = (index: number) => {
    if (index > 0) write(ENTRY_SEPARATOR, ENTRY_SEPARATOR.length);
  };

  const header = snapshotHeader(head);
  write(header, Buffer.byteLength(header));
  for (let index = 0; index < entries.length; ) {
    const separator = index > 0 ? ENTRY_SEPARATOR.length : 0;
    const entry = entries[index]!;
    if (typeof entry === 'string') {
      const length = Buffer.byteLength(entry);
      const full = roomFor(separator + length);
      if (full) yield full;
      separate(index);
      ranges[index++] = { at: before + used, length };
      write(entry, length);
    } else if ('journalAt' in entry) {
      // Tasks whose texts lie close together in the journal (in order, within a piece's
      // length) are read in one go, then copied one by one with separators between them.
      let end = index + 1;
      let stop = entry.journalAt + entry.length;
      let output = separator + entry.length;
      while (end < entries.length) {
        const next = entries[end]!;
        if (typeof next === 'string' || !('journalAt' in next) || next.journalAt < stop) break;
        if (next.journalAt + next.length - entry.journalAt > PIECE_BYTES || output + ENTRY_SEPARATOR.length + next.length > PIECE_BYTES) break;
        stop = next.journalAt + next.length;
        output += ENTRY_SEPARATOR.length + next.length;
        end++;
      }
      const window = Buffer.allocUnsafeSlow(stop - entry.journalAt);
      await read(sources.journal, 'journal', entry.journalAt, window.length, window, 0);
      const full = roomFor(output);
      if (full) yield full;
      for (let k = index; k < end; k++) {
        const kept = entries[k] as JournalRange;
        const from = kept.journalAt - entry.journalAt;
        if (window[from] !== QUOTE) throw new Error(`the journal no longer holds a task text at byte ${kept.journalAt}`);
        separate(k);
        ranges[k] = { at: before + used, length: kept.length };
        used += window.copy(piece, used, from, from + kept.length);
      }
      index = end;
    } else {
      // Tasks next to each other in the snapshot (only a separator between) are copied in one read.
      let end = index + 1;
      let stop = entry.at + entry.length;
      while (end < entries.length) {
        const next = entries[end]!;
        if (typeof next === 'string' || 'journalAt' in next || next.at !== stop + ENTRY_SEPARATOR.length) break;
        if (separator + next.at + next.length - entry.at > PIECE_BYTES) break;
        stop = next.at + next.length;
        end++;
      }
      const full = roomFor(separator + stop - entry.at);
      if (full) yield full;
      separate(index);
      const at = before + used;
      await read(sources.snapshot, 'snapshot file', entry.at, stop - entry.at, piece, used);
      used += stop - entry.at;
      for (let k = index; k < end; k++) {
        const kept = entries[k] as ByteRange;
        ranges[k] = { at: at + kept.at - entry.at, length: kept.length };
      }
      index = end;
    }
  }
  const footer = snapshotFooter(entries.length);
  const full = roomFor(footer.length);
  if (full) yield full;
  write(footer, footer.length);
  yield take();
}

/** Reads `length` bytes of `source` (named `name` in errors) from `at` into `target` at `offset`. */
async function read(source: FileHandle | undefined, name: string, at: number, length: number, target: Buffer, offset: number): Promise<void> {
  if (source === undefined) throw new Error(`a task kept as a place in the ${name} has no file to be read from`);
  for (let done = 0; done < length; ) {
    const { bytesRead } = await source.read(target, offset + done, length - done, at + done);
    if (bytesRead === 0) throw new Error(`the ${name} ended at byte ${at + done}, before the task text that reaches byte ${at + length}`);
    done += bytesRead;
  }
  // Every entry text starts with its id's quote: anything else means the file changed under the store.
  if (target[offset] !== QUOTE) throw new Error(`the ${name} no longer holds a task text at byte ${at}`);
}
