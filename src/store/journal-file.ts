// The journal of one open store as files: the writer commits append to (opened at the first
// append and kept open), the reader a compaction copies texts through, how many bytes of
// complete lines it holds, and how many at its head a snapshot already covers. Owns appending,
// cutting a torn last line, and dropping the covered head; what the lines mean is journal.ts's.

import { open as openFile, rm, type FileHandle } from 'node:fs/promises';
import { keepJournalTail, openJournal, type JournalWriter, type Replayed } from './journal.js';

const ignore = () => undefined;

export class JournalFile {
  readonly path: string;
  /** Opened at the first append (or cut) and kept open until close. */
  #writer: JournalWriter | undefined;
  /** The journal open for reading, while a compaction copies texts from it. */
  #reader: FileHandle | undefined;
  /** Bytes of complete lines in the journal, and whether its file exists. */
  #size = 0;
  #exists = false;
  /** Bytes at the head of the journal whose lines the snapshot holds: dropped at the end of a compaction. */
  covered = 0;

  constructor(path: string) {
    this.path = path;
  }

  get size(): number {
    return this.#size;
  }

  get reader(): FileHandle | undefined {
    return this.#reader;
  }

  /** True once a failed append could not be cut back (see JournalWriter.broken). */
  get broken(): boolean {
    return this.#writer?.broken ?? false;
  }

  /** Takes up the journal as the replay at open found it. */
  reset(replayed: Replayed): void {
    this.#size = replayed.complete;
    this.#exists = replayed.exists;
    this.covered = replayed.covered;
  }

  /** Appends one line and resolves to the offset it starts at; a failed first append leaves no journal behind. */
  async append(line: Buffer): Promise<number> {
    const creating = !this.#exists;
    let at: number;
    try {
      const writer = await this.#openWriter();
      at = await writer.append(line);
      this.#size = writer.size;
    } catch (error) {
      // A failed commit leaves the files as they were, and that includes not creating the journal.
      if (creating) {
        await this.#dropWriter();
        await rm(this.path, { force: true }).catch(ignore);
      }
      throw error;
    }
    this.#exists = true;
    return at;
  }

  /** Cuts what follows the complete lines (a torn last line), so the next append starts a line of its own. */
  async cutTornLine(): Promise<void> {
    await (await this.#openWriter()).truncate(this.#size);
  }

  /** Opens the reader a compaction copies texts through, if there is a journal. */
  async openReader(): Promise<void> {
    if (this.#exists) this.#reader ??= await openFile(this.path, 'r');
  }

  /**
   * Drops the journal's head that the snapshot holds (`covered`), keeping the lines appended
   * since; `cut` hears how many bytes left the head when the file is replaced by its tail.
   */
  async dropCovered(cut: (covered: number) => void): Promise<void> {
    const covered = this.covered;
    if (covered === 0) return;
    if (covered === this.#size) {
      const writer = await this.#openWriter();
      try {
        await writer.truncate(0);
      } finally {
        this.#size = writer.size;
        if (writer.size === 0) this.covered = 0;
      }
      return;
    }
    // The handle would be left on the file about to be replaced; the next append opens the new
    // one (and fsyncs the directory first, in case the fsync after the rename failed).
    await this.#dropWriter();
    await keepJournalTail(this.path, covered, this.#size, () => {
      this.#size -= covered;
      this.covered = 0;
      cut(covered);
      void this.dropReader();
    });
  }

  async dropReader(): Promise<void> {
    const reader = this.#reader;
    this.#reader = undefined;
    await reader?.close().catch(ignore);
  }

  /** Closes the writer and the reader. */
  async close(): Promise<void> {
    await this.#dropWriter();
    await this.dropReader();
  }

  async #openWriter(): Promise<JournalWriter> {
    this.#writer ??= await openJournal(this.path, this.#size);
    return this.#writer;
  }

  async #dropWriter(): Promise<void> {
    const writer = this.#writer;
    this.#writer = undefined;
    await writer?.close().catch(ignore);
  }
}
