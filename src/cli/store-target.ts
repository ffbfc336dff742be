// What `--store` names: a JSON store file, or a PostgreSQL store given as a URL
// (`postgres://user:password@host:port/database#schema`, schema default `leasehold`). Owns
// building the store for a supervisor, reading it without a lock (reading commands), and where
// the files beside a store live: beside a store file, or in `--state-dir` for a database.
import { join } from 'node:path';
import { jsonFileStore, postgresStore, type Store } from '../index.js';
import { readPostgresStore } from '../store/postgres-reader.js';
import { readStore, type StoreReading } from '../store/reader.js';

/** Where the files beside a PostgreSQL store live by default (the daemon file; its tokens are in the database). */
export const DEFAULT_STATE_DIR = '.leasehold';

export const isPostgresUrl = (store: string) => /^postgres(ql)?:\/\//i.test(store);

/** The connection string (without its `#schema`) and the schema of a PostgreSQL `--store`. */
export function postgresTarget(store: string): { connectionString: string; schema?: string } {
  const hash = store.indexOf('#');
  if (hash < 0) return { connectionString: store };
  return { connectionString: store.slice(0, hash), schema: decodeURIComponent(store.slice(hash + 1)) };
}

/**
 * The path the files beside a store are named after (`<stem>.tokens.json`,
 * `<stem>.daemon.json`): the store file itself, or for a database a name in `stateDir` made of
 * its host, port, database and schema (never its user or password).
 */
export function sideStem(store: string, stateDir = DEFAULT_STATE_DIR): string {
  if (!isPostgresUrl(store)) return store;
  const { connectionString, schema = 'leasehold' } = postgresTarget(store);
  let where = 'postgres';
  if (URL.canParse(connectionString)) {
    const url = new URL(connectionString);
    where = [url.hostname || 'local', url.port || '5432', url.pathname.slice(1) || 'postgres'].join('-');
  }
  return join(stateDir, `postgres-${where}-${schema}`.replace(/[^A-Za-z0-9._-]/g, '_'));
}

export interface StoreFor {
  lockWaitMs: number;
  /** PostgreSQL only: the URL clients can reach this process's daemon at. */
  advertisedUrl?: string;
  /** PostgreSQL only: how long ownership outlives its last renewal (default the store's, 10 s). */
  ownershipTtlMs?: number;
}

/** The store `--store` names, as a supervisor opens it. */
export function storeFor(store: string, { lockWaitMs, advertisedUrl, ownershipTtlMs }: StoreFor): Store {
  if (!isPostgresUrl(store)) return jsonFileStore(store, { lockWaitMs });
  return postgresStore({ ...postgresTarget(store), lockWaitMs, ...(advertisedUrl && { advertisedUrl }), ...(ownershipTtlMs !== undefined && { ownershipTtlMs }) });
}

/** The store's tasks as they are now, without a lock and without its ownership. */
export function readStoreAt(store: string): Promise<StoreReading> {
  return isPostgresUrl(store) ? readPostgresStore(postgresTarget(store)) : readStore(store);
}
