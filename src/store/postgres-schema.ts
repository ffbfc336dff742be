// The PostgreSQL store's tables and their versioned migrations: which format version a schema
// is at, refusing one newer than this code, and bringing an older one up to date. Runs inside
// the opener's transaction, under an advisory lock, so two openers never migrate at once.

import type { ClientBase, PoolClient } from 'pg';
import { StoreCorruptError } from '../errors.js';

/** The format version this code writes; a schema at a higher one is refused. */
export const SCHEMA_VERSION = 2;

/**
 * Migration n (index n − 1) takes a schema from version n − 1 to n. Never edit a released one:
 * add the next. `s` is the schema name, already checked to be a plain identifier.
 *
 * Version 1. `store`: one row with the format version, the epoch floor (StoreMeta) and the
 * ownership lease: holder, the URL it advertises, its generation (the fencing token every
 * commit checks) and when it last renewed, on the database clock, with the TTL it renews
 * within. `tasks`: one row per task; `seq`, the order tasks were first stored in, which open()
 * hands them back in (as the JSON file keeps them: the supervisor's creation-order tie-break
 * after a restart relies on it); the record as `json` (not `jsonb`: jsonb reorders keys,
 * drops duplicates and refuses "\u0000" and lone surrogates, so a record would not read back
 * as committed), its top-level state, and the deadlines a timer waits for, in epoch ms on the
 * supervisor's clock (not the database's), indexed for sweeps and lazy loading.
 *
 * Version 2. `tokens`: the agent and viewer tokens every daemon on the store shares (so one
 * minted on one host works on all, and a revocation applies everywhere): only the SHA-256 of
 * each (hex), its owner and role, and when it was minted and revoked (epoch ms, database
 * clock). At most one live token per owner and role. Additive only (a new table), so it may
 * be applied beside a supervisor that owns the store (src/server/postgres-tokens.ts does).
 */
const MIGRATIONS: readonly ((s: string) => string)[] = [
  (s) => `
    CREATE SCHEMA IF NOT EXISTS ${s};
    CREATE TABLE ${s}.store (
      id smallint PRIMARY KEY CHECK (id = 1),
      format_version integer NOT NULL,
      epoch_floor bigint NOT NULL DEFAULT 0 CHECK (epoch_floor >= 0),
      holder text,
      holder_url text,
      generation bigint NOT NULL DEFAULT 0,
      renewed_at timestamptz,
      ttl_ms integer
    );
    INSERT INTO ${s}.store (id, format_version) VALUES (1, 0);
    CREATE TABLE ${s}.tasks (
      id text PRIMARY KEY,
      seq bigint GENERATED ALWAYS AS IDENTITY,
      state text NOT NULL,
      record json NOT NULL,
      lease_expires_at bigint,
      grace_ends_at bigint,
      not_before bigint,
      compensation_retry_at bigint
    );
    CREATE UNIQUE INDEX tasks_seq ON ${s}.tasks (seq);
    CREATE INDEX tasks_state ON ${s}.tasks (state);
    CREATE INDEX tasks_lease_expires_at ON ${s}.tasks (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
    CREATE INDEX tasks_grace_ends_at ON ${s}.tasks (grace_ends_at) WHERE grace_ends_at IS NOT NULL;
    CREATE INDEX tasks_not_before ON ${s}.tasks (not_before) WHERE not_before IS NOT NULL;
    CREATE INDEX tasks_compensation_retry_at ON ${s}.tasks (compensation_retry_at) WHERE compensation_retry_at IS NOT NULL;
  `,
  (s) => `
    CREATE TABLE ${s}.tokens (
      hash text PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{64}$'),
      owner text NOT NULL CHECK (owner <> ''),
      role text NOT NULL CHECK (role IN ('agent', 'viewer')),
      created_at bigint NOT NULL,
      revoked_at bigint
    );
    CREATE UNIQUE INDEX tokens_live ON ${s}.tokens (owner, role) WHERE revoked_at IS NULL;
  `,
];

/** An advisory-lock class of our own, so the lock on a schema name collides with no other application's. */
const LOCK_CLASS = 0x4c48; // "LH"

/** Waits, inside the caller's transaction, until no other opener of `schema` is migrating or taking ownership. */
export async function lockSchema(client: PoolClient, schema: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, schema]);
}

/**
 * The format version `schema` is at (0: no store there yet). STORE_CORRUPT for a schema newer
 * than this code, or for tables that are not a leasehold store's.
 */
export async function schemaVersion(client: ClientBase, schema: string, location: string): Promise<number> {
  const exists = await client.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [`${schema}.store`]);
  if (!exists.rows[0]?.found) return 0;
  let version: unknown;
  try {
    const result = await client.query<{ format_version: unknown }>(`SELECT format_version FROM ${schema}.store WHERE id = 1`);
    version = result.rows[0]?.format_version;
  } catch (error) {
    throw new StoreCorruptError(location, `${schema}.store is not a leasehold store table (${(error as Error).message})`, error);
  }
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new StoreCorruptError(location, `${schema}.store holds no valid format version (found ${JSON.stringify(version ?? null)})`);
  }
  if (version > SCHEMA_VERSION) {
    throw new StoreCorruptError(
      location,
      `its schema is at format version ${version}, newer than the ${SCHEMA_VERSION} this leasehold understands: open it with a newer leasehold`,
    );
  }
  return version;
}

/** Applies the migrations from `from` up to `to` (inclusive), recording the version reached. */
export async function migrate(client: PoolClient, schema: string, from: number, to = SCHEMA_VERSION): Promise<void> {
  if (from >= to) return;
  for (let version = from + 1; version <= to; version++) await client.query(MIGRATIONS[version - 1]!(schema));
  await client.query(`UPDATE ${schema}.store SET format_version = $1 WHERE id = 1`, [to]);
}
