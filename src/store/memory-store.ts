// An in-process store for tests and demos: records live in a Map that outlives close(), so
// close() then open() behaves like a supervisor restart without touching the disk.

import { StoreLockedError, StoreWriteError } from '../errors.js';
import { assertValidChanges, copyRecords } from './records.js';
import type { Store, StoreChanges, StoreContents, TaskRecord } from './types.js';

export function memoryStore(): Store {
  const records = new Map<string, TaskRecord>();
  let isOpen = false;

  return {
    location: 'memory',

    open(): Promise<StoreContents> {
      if (isOpen) return Promise.reject(new StoreLockedError('memory', 'already open'));
      isOpen = true;
      return Promise.resolve({ tasks: copyRecords(records) });
    },

    commit(changes: StoreChanges): Promise<void> {
      if (!isOpen) return Promise.reject(new StoreWriteError('store memory is not open'));
      try {
        assertValidChanges(changes);
      } catch (error) {
        return Promise.reject(error);
      }
      // Copy the whole batch before applying any of it: a record that cannot be cloned must
      // not leave the batch half-applied.
      const copies = new Map<string, TaskRecord | null>();
      for (const [id, record] of changes) copies.set(id, record === null ? null : structuredClone(record));
      for (const [id, record] of copies) {
        if (record === null) records.delete(id);
        else records.set(id, record);
      }
      return Promise.resolve();
    },

    close(): Promise<void> {
      isOpen = false;
      return Promise.resolve();
    },
  };
}
