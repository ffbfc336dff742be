// The places index of a JSON file store: for every task, its entry text or where that text
// lies (in the snapshot file, which it keeps open for reading, or in the journal), in the order
// the tasks were first stored. Owns the bookkeeping of those places as commits set texts, lines
// reach the journal, the journal's head is cut, and a new snapshot gives tasks places in it.

import { open as openFile, type FileHandle } from 'node:fs/promises';
import { entryText, type ByteRange } from './document.js';
import type { Kept, Written } from './snapshot-file.js';
import type { TaskRecord } from './types.js';

/** How one task is kept right now; replaced by a commit, by a rollback, or by the place a new snapshot gives it. */
interface Slot {
  kept: Kept;
}

/** Every task at one moment: its slot, and what the slot held then. */
export interface Picture {
  slots: Slot[];
  entries: Kept[];
}

const ignore = () => undefined;

export class Places {
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
  /** The snapshot's size in bytes. */
  #snapshotBytes = 0;
  /** A snapshot written (see stage) and not made the snapshot file yet. */
  #staged: { picture: Picture; written: Written } | undefined;

  get snapshotFile(): FileHandle | undefined {
    return this.#snapshotFile;
  }

  get snapshotBytes(): number {
    return this.#snapshotBytes;
  }

  /** Opens the snapshot at `path`, keeps it open as the file places point into, and reads it whole. */
  async readSnapshot(path: string): Promise<Buffer> {
    this.#snapshotFile = await openFile(path, 'r');
    return this.#snapshotFile.readFile();
  }

  /** Starts over from the places the snapshot read gives its tasks (`bytes` long), before the journal replays. */
  restart(entries: Iterable<[string, Kept]>, bytes: number): void {
    this.#entries = new Map();
    for (const [id, kept] of entries) this.#entries.set(id, { kept });
    this.#snapshotBytes = bytes;
  }

  /** A task the journal replay set (`present`) or deleted; its text is made by `settleReplay`. */
  replayed(id: string, present: boolean): void {
    if (!present) {
      this.#entries.delete(id);
      return;
    }
    const slot = this.#entries.get(id);
    if (slot) slot.kept = '';
    else this.#entries.set(id, { kept: '' });
  }

  /** Makes the text of every task the replay set, once, from its last version in `records`. */
  settleReplay(records: Map<string, TaskRecord>): void {
    for (const [id, slot] of this.#entries) {
      if (slot.kept === '') slot.kept = entryText(id, JSON.stringify(records.get(id)));
    }
  }

  /**
   * Sets each task's entry text (null deletes it) and returns what puts them back. The same
   * slot goes back, so that a compaction that pictured it before still finds it.
   */
  set(changes: Map<string, string | null>): () => void {
    const undo: [string, Slot | undefined, Kept | undefined][] = [];
    for (const [id, entry] of changes) {
      const slot = this.#entries.get(id);
      undo.push([id, slot, slot?.kept]);
      if (entry === null) this.#entries.delete(id);
      else if (slot) slot.kept = entry;
      else this.#entries.set(id, { kept: entry });
    }
    return () => {
      for (const [id, slot, kept] of undo) {
        if (slot === undefined) {
          this.#entries.delete(id);
        } else {
          slot.kept = kept!;
          this.#entries.set(id, slot);
        }
      }
    };
  }

  /** The texts of `changes` are on disk in a journal line at `at`: keeps where they lie instead. */
  placeInJournal(changes: Map<string, string | null>, places: Map<string, ByteRange>, at: number): void {
    for (const [id, place] of places) {
      const slot = this.#entries.get(id);
      if (slot !== undefined && slot.kept === changes.get(id)) slot.kept = { journalAt: at + place.at, length: place.length };
    }
  }

  /** The journal's first `covered` bytes were cut: every place in it moves back by as much. */
  journalCut(covered: number): void {
    for (const slot of this.#entries.values()) {
      const kept = slot.kept;
      if (typeof kept !== 'string' && 'journalAt' in kept) slot.kept = { journalAt: kept.journalAt - covered, length: kept.length };
    }
  }

  picture(): Picture {
    const slots = new Array<Slot>(this.#entries.size);
    const entries = new Array<Kept>(this.#entries.size);
    let index = 0;
    for (const slot of this.#entries.values()) {
      slots[index] = slot;
      entries[index++] = slot.kept;
    }
    return { slots, entries };
  }

  /** A snapshot just written from `picture`, kept until adoptStaged makes it the snapshot file. */
  stage(picture: Picture, written: Written): void {
    const replaced = this.#staged;
    this.#staged = { picture, written };
    void replaced?.written.file.close().catch(ignore);
  }

  /**
   * Makes the snapshot staged last the snapshot file: each task still as pictured becomes its
   * place in the new file, a task changed since keeps its text. The caller runs it in its
   * commit queue, so that no commit is under way that a failure could roll back to a place in
   * the file replaced here.
   */
  async adoptStaged(): Promise<void> {
    const staged = this.#staged;
    if (staged === undefined) throw new Error('no snapshot was written to adopt');
    this.#staged = undefined;
    const { picture, written } = staged;
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

  /** Forgets every task and closes the snapshot file (and one written but not adopted). */
  async clear(): Promise<void> {
    this.#entries = new Map();
    const files = [this.#snapshotFile, this.#staged?.written.file];
    this.#snapshotFile = undefined;
    this.#staged = undefined;
    await Promise.all(files.map((file) => file?.close().catch(ignore)));
  }
}
