// An in-process store for tests and demos: records live in a Map that outlives close(), so
// close() then open() behaves like a supervisor restart without touching the disk. Records are
// kept as JSON text, as the file store keeps them: the same check decides what both accept,
// and open() hands out fresh objects that share nothing with the store or earlier callers.

import { StoreLockedError, StoreWriteError } from '../errors.js';
import { checkedMeta, recordTexts } from './records.js';
import type { Store, StoreChanges, StoreContents, StoreMeta, TaskRecord } from './types.js';

export function memoryStore(): Store {
  const texts = new Map<string, string>();
  let meta: StoreMeta = { epochFloor: 0 };
  let isOpen = false;

  return {
    location: 'memory',

    open(): Promise<StoreContents> {
      if (isOpen) return Promise.reject(new StoreLockedError('memory', 'already open'));
      isOpen = true;
      const tasks = new Map<string, TaskRecord>();
      for (const [id, text] of texts) tasks.set(id, JSON.parse(text) as TaskRecord);
      return Promise.resolve({ tasks, meta: { ...meta } });
    },

    commit(changes: StoreChanges, nextMeta?: StoreMeta): Promise<void> {
      if (!isOpen) return Promise.reject(new StoreWriteError('store memory is not open'));
      let batch: Map<string, string | null>;
      try {
        // The whole batch is checked and serialised before any of it is applied.
        batch = recordTexts(changes);
        if (nextMeta) nextMeta = checkedMeta(nextMeta);
      } catch (error) {
        return Promise.reject(error);
      }
      for (const [id, text] of batch) {
        if (text === null) texts.delete(id);
        else texts.set(id, text);
      }
      if (nextMeta) meta = { epochFloor: nextMeta.epochFloor };
      return Promise.resolve();
    },

    close(): Promise<void> {
      isOpen = false;
      return Promise.resolve();
    },
  };
}
