// An in-process store for tests and demos: a lowdb document over lowdb's own in-memory
// adapter, which keeps the last document written, so close() then open() behaves like a
// supervisor restart without touching the disk. Records are kept as JSON text, as the file
// store keeps them: the same check decides what both accept, and open() hands out fresh
// objects that share nothing with the store or earlier callers.

import { Low, Memory } from 'lowdb';
import { StoreLockedError, StoreWriteError } from '../errors.js';
import { checkedMeta, recordTexts } from './records.js';
import type { Store, StoreChanges, StoreContents, StoreMeta, TaskRecord } from './types.js';

/** The memory store's document: every task's record as JSON text, and the store's meta. */
interface MemoryDocument {
  texts: Map<string, string>;
  meta: StoreMeta;
}

export function memoryStore(): Store {
  const db = new Low<MemoryDocument>(new Memory(), { texts: new Map(), meta: { epochFloor: 0 } });
  let isOpen = false;

  return {
    location: 'memory',

    async open(): Promise<StoreContents> {
      if (isOpen) throw new StoreLockedError('memory', 'already open');
      isOpen = true;
      // The document last written (none before the first commit: the empty one stays).
      await db.read();
      const tasks = new Map<string, TaskRecord>();
      for (const [id, text] of db.data.texts) tasks.set(id, JSON.parse(text) as TaskRecord);
      return { tasks, meta: { ...db.data.meta } };
    },

    async commit(changes: StoreChanges, nextMeta?: StoreMeta): Promise<void> {
      if (!isOpen) throw new StoreWriteError('store memory is not open');
      // The whole batch is checked and serialised before any of it is applied.
      const batch = recordTexts(changes);
      const meta = nextMeta === undefined ? undefined : checkedMeta(nextMeta);
      const { texts } = db.data;
      for (const [id, text] of batch) {
        if (text === null) texts.delete(id);
        else texts.set(id, text);
      }
      if (meta) db.data.meta = { epochFloor: meta.epochFloor };
      await db.write();
    },

    close(): Promise<void> {
      isOpen = false;
      return Promise.resolve();
    },
  };
}
