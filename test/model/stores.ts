// Where a model replay keeps its one task: the single JSON file in a temp folder, or a fresh
// schema on the test PostgreSQL server (vitest project `postgres`). Both give the replay a new
// store per (re)start, the stored task as a reopening store reads it, and the stored bytes for
// the "a refusal wrote nothing" check.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonFileStore, type Store } from '../../src/index.js';
import { freshSchema, storeIn } from '../postgres/database.js';
import { dropPostgresStore, postgresBytes, postgresDocument, storeOf } from '../support.js';

export type ModelStoreKind = 'json' | 'postgres';

export interface ModelStore {
  /** A new store object on the same place (every restart opens one). */
  store(): Store;
  /** The stored record of task `id` ({ state, context }). */
  stored(id: string): unknown;
  /** The stored bytes: the file, or every column of the schema's tables but the ownership. */
  bytes(): string;
  dispose(): void;
}

export function modelStore(kind: ModelStoreKind): ModelStore {
  if (kind === 'postgres') {
    const location = storeIn(freshSchema('model')).location;
    return {
      store: () => storeOf(location, 'postgres'),
      stored: (id) => postgresDocument(location).tasks[id],
      bytes: () => postgresBytes(location),
      dispose: () => dropPostgresStore(location),
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-model-'));
  const file = join(dir, 'store.json');
  return {
    // The single-file store: the checks compare the one file's bytes.
    store: () => jsonFileStore(file, { journal: false }),
    stored: (id) => (JSON.parse(readFileSync(file, 'utf8')) as { tasks: Record<string, unknown> }).tasks[id],
    bytes: () => readFileSync(file, 'utf8'),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
