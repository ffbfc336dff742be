// The snapshot file as the store uses it: read once at open and then kept open, so that a task
// unchanged since the snapshot was written is kept as the place of its text in the file (a
// byte range) instead of the text itself; and writing the next snapshot from those ranges and
// the texts of the tasks changed since, in pieces, through steno's atomic temp-file-and-rename.
// The store's memory then grows with the tasks that changed since the last snapshot, not with
// every task it holds.

import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import type { Writer } from 'steno';
import { ENTRY_SEPARATOR, snapshotFooter, snapshotHeader, type ByteRange } from './document.js';
import { syncDirectoryOf } from './files.js';

/** A task's entry text, or where it lies in the current snapshot file. */
export type Kept = string | ByteRange;

export interface Written {
  /** The new snapshot, open for reading: the ranges below are in it. */
  file: FileHandle;
  /** Where each entry written lies in it, by index of the entries given. */
  ranges: ByteRange[];
  size: number;
}

/** Bytes per piece handed to the file writer: each is assembled in well under a millisecond. */
const PIECE_BYTES = 64 * 1024;
const SEPARATOR = Buffer.from(ENTRY_SEPARATOR);
const QUOTE = 0x22;

/**
 * Writes the snapshot of `entries` to `path` durably (steno's temp file and rename, then the
 * file and its directory fsynced) and opens it for reading. Ranges are read from `source`, the
 * snapshot they were taken from (a handle, so it stays readable after the rename replaces it).
 * The pieces are assembled only as Node's writeFile asks for the next one, so a large snapshot
 * never holds the event loop longer than one piece takes, nor sits in memory whole.
 */
export async function writeSnapshot(
  writer: Writer,
  path: string,
  entries: readonly Kept[],
  journalSeq: number | null,
  source: FileHandle | undefined,
): Promise<Written> {
  const ranges: ByteRange[] = new Array<ByteRange>(entries.length);
  await writer.write(pieces(entries, journalSeq, source, ranges));
  const file = await open(path, 'r');
  try {
    // steno renames a temp file into place but never fsyncs, so until both the file and the
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

async function* pieces(entries: readonly Kept[], journalSeq: number | null, source: FileHandle | undefined, ranges: ByteRange[]): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let size = 0;
  let position = 0;
  const add = (bytes: Buffer) => {
    parts.push(bytes);
    size += bytes.length;
    position += bytes.length;
  };
  const take = () => {
    const piece = Buffer.concat(parts, size);
    parts = [];
    size = 0;
    return piece;
  };
  add(Buffer.from(snapshotHeader(journalSeq)));
  for (let index = 0; index < entries.length; ) {
    if (index > 0) add(SEPARATOR);
    const entry = entries[index]!;
    if (typeof entry === 'string') {
      const bytes = Buffer.from(entry);
      ranges[index++] = { at: position, length: bytes.length };
      add(bytes);
    } else {
      // Entries next to each other in the source (only a separator between) are copied in one read.
      let end = index + 1;
      let stop = entry.at + entry.length;
      while (end < entries.length) {
        const next = entries[end]!;
        if (typeof next === 'string' || next.at !== stop + SEPARATOR.length || next.at + next.length - entry.at > PIECE_BYTES) break;
        stop = next.at + next.length;
        end++;
      }
      const bytes = await read(source, entry.at, stop - entry.at);
      for (let k = index; k < end; k++) {
        const kept = entries[k] as ByteRange;
        ranges[k] = { at: position + kept.at - entry.at, length: kept.length };
      }
      add(bytes);
      index = end;
    }
    if (size >= PIECE_BYTES) yield take();
  }
  add(Buffer.from(snapshotFooter(entries.length)));
  yield take();
}

async function read(source: FileHandle | undefined, at: number, length: number): Promise<Buffer> {
  if (source === undefined) throw new Error('a task kept as a place in the snapshot file has no file to be read from');
  const bytes = Buffer.allocUnsafe(length);
  for (let offset = 0; offset < length; ) {
    const { bytesRead } = await source.read(bytes, offset, length - offset, at + offset);
    if (bytesRead === 0) throw new Error(`the snapshot file ended at byte ${at + offset}, before the task text that reaches byte ${at + length}`);
    offset += bytesRead;
  }
  // Every entry text starts with its id's quote: anything else means the file changed under the store.
  if (bytes[0] !== QUOTE) throw new Error(`the snapshot file no longer holds a task text at byte ${at}`);
  return bytes;
}
