// The archive of retired tasks: terminal tasks the `retain` sweep moved out of the store, kept
// beside it (`store.json` → `store.archive.json`). The archive is itself a JSON-file store, so
// it has the store's format, lock, validation and fsync; this module owns its location and
// the two things done with it: add records (under its lock), read them back (`leasehold show`,
// through the reader: no lock, no write, so a show never waits for or disturbs the sweep).
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { jsonFileStore } from '../store/json-file-store.js';
import { readStore } from '../store/reader.js';
import { realStorePath } from '../store/real-path.js';
import type { TaskRecord } from '../store/types.js';
import { snapshotOf } from '../task/record.js';
import { taskView, type TaskView } from '../task/view.js';

export interface Archive {
  /** The archive file's absolute path. */
  readonly location: string;
  /** Adds (or replaces) records; resolves once they are durable. */
  put(records: Iterable<readonly [string, TaskRecord]>): Promise<void>;
  /** Every archived record by task id, read without the lock; empty when the file does not exist yet. */
  read(): Promise<Map<string, TaskRecord>>;
}

/**
 * Where the archive of a JSON store file lives: `x.json` → `x.archive.json`, else `x.archive.json`
 * appended; beside the real file, so that every path reaching a store names the same archive.
 */
export function archivePathOf(storePath: string): string {
  const absolute = realStorePath(storePath);
  return absolute.endsWith('.json') ? `${absolute.slice(0, -'.json'.length)}.archive.json` : `${absolute}.archive.json`;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
}

export function jsonArchive(path: string): Archive {
  const location = resolve(path);
  /** Opens the archive store for one operation, always releasing its lock. */
  const using = async <T>(work: (store: ReturnType<typeof jsonFileStore>, tasks: Map<string, TaskRecord>) => Promise<T>) => {
    const store = jsonFileStore(location, { journal: false });
    const { tasks } = await store.open();
    try {
      return await work(store, tasks);
    } finally {
      await store.close();
    }
  };
  return {
    location,
    async read() {
      return (await exists(location)) ? (await readStore(location)).tasks : new Map();
    },
    put(records) {
      const batch = new Map(records);
      return using((store) => store.commit(batch));
    },
  };
}

/** An archived task as a task view (what `leasehold show` prints), or undefined. */
export async function archivedTask(archivePath: string, id: string): Promise<TaskView | undefined> {
  const archive = jsonArchive(archivePath);
  const record = (await archive.read()).get(id);
  return record === undefined ? undefined : taskView(snapshotOf(archive.location, id, record));
}
