// Reading a JSON file store at open: its snapshot, validated and kept open for the places of
// the tasks in it, then the journal lines the snapshot does not hold yet, replayed. Reads
// only; the store decides what to write (a missing snapshot, the cut of a torn last line).

import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { StoreCorruptError } from '../errors.js';
import { parseSnapshot, type ParsedSnapshot } from './document.js';
import { describe, errorCode } from './files.js';
import { replayJournal, type Replayed } from './journal.js';
import type { Places } from './places.js';
import type { TaskRecord } from './types.js';

export interface Loaded {
  /** Every task, parsed for the caller alone. */
  records: Map<string, TaskRecord>;
  /** What the snapshot's head says, or undefined when there is no snapshot yet. */
  snapshot: Pick<ParsedSnapshot, 'journalSeq' | 'epochFloor'> | undefined;
  replayed: Replayed;
}

/** Where the store's files are; `location` is the path the caller gave, for messages. */
interface StoreFiles {
  file: string;
  location: string;
  journalPath: string;
}

/** Reads the store at `files` and restarts `places` from it; everything is validated before the store writes. */
export async function loadStore(files: StoreFiles, places: Places): Promise<Loaded> {
  const corrupt = (problem: string, cause?: unknown) => new StoreCorruptError(files.location, problem, cause);
  const snapshot = await readSnapshot(files.file, places, corrupt);
  const records = snapshot?.records ?? new Map<string, TaskRecord>();
  places.restart(snapshot?.entries ?? [], snapshot?.bytes ?? 0);
  const replayed = await replayJournal(files.journalPath, snapshot?.journalSeq ?? 0, (id, record) => {
    if (record === null) records.delete(id);
    else records.set(id, record);
    // Its text is made once the journal is read, and only for the last version.
    places.replayed(id, record !== null);
  });
  places.settleReplay(records);
  if (snapshot === undefined && replayed.size > 0) throw corrupt(`it is missing, but its journal ${files.journalPath} is not empty`);
  return { records, snapshot, replayed };
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
