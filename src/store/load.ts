// Reading a JSON file store at open: its snapshot, through lowdb (`db.read()` over the
// snapshot adapter: validated, kept open for the places of the tasks in it), then the journal
// lines the snapshot does not hold yet, replayed into the document. Reads only; the store
// decides what to write (a missing snapshot, the cut of a torn last line).

import type { Low } from 'lowdb';
import type { StoreCorruptError } from '../errors.js';
import { replayJournal, type Replayed } from './journal.js';
import { emptyDocument, type SnapshotAdapter, type StoreDocument } from './snapshot-adapter.js';
import type { TaskRecord } from './types.js';

export interface Loaded {
  /** Every task, parsed for the caller alone. */
  records: Map<string, TaskRecord>;
  /** What the snapshot on disk is, or undefined when there is none yet. */
  snapshot: { journaled: boolean; seq: number } | undefined;
  replayed: Replayed;
}

interface StoreFiles {
  journalPath: string;
  corrupt: (problem: string, cause?: unknown) => StoreCorruptError;
}

/**
 * Reads the store into `db.data` (a fresh document; its seq and epoch floor as of the journal's
 * last complete line). Everything is validated before the store writes anything.
 */
export async function loadStore(files: StoreFiles, db: Low<StoreDocument>, adapter: SnapshotAdapter): Promise<Loaded> {
  const empty = emptyDocument();
  db.data = empty;
  await db.read();
  const document = db.data;
  const snapshot = document === empty ? undefined : { journaled: document.journaled, seq: document.seq };
  const records = adapter.takeRecords();
  const replayed = await replayJournal(files.journalPath, document.seq, (id, record) => {
    if (record === null) records.delete(id);
    else records.set(id, record);
    // Its text is made once the journal is read, and only for the last version.
    document.places.replayed(id, record !== null);
  });
  document.places.settleReplay(records);
  if (snapshot === undefined && replayed.size > 0) throw files.corrupt(`it is missing, but its journal ${files.journalPath} is not empty`);
  document.seq = replayed.seq;
  document.epochFloor = replayed.epochFloor ?? document.epochFloor;
  return { records, snapshot, replayed };
}
