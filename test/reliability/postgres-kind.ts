// The PostgreSQL store as a store kind of the reliability trials: a store per schema on the
// test server, whose connection string reaches child processes through the environment
// (POSTGRES_URL_ENV, set by the test file from vitest's inject), a short ownership TTL so that
// a killed owner's store is free again within a second, and a consistent copy of a schema set
// aside for reading, as the JSON kinds copy their files. No vitest here: workers import it.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { postgresStore, type Store } from '../../src/index.js';

/** Where a trial's processes find the test server's connection string. */
export const POSTGRES_URL_ENV = 'LEASEHOLD_TEST_POSTGRES_URL';

/**
 * The ownership TTL of the trials' stores: a killed owner's store is taken over this long after
 * its last renewal (the next generation's open waits for it, on the database clock).
 */
export const TRIAL_OWNERSHIP_TTL_MS = 500;

export function postgresUrlFromEnv(): string {
  const url = process.env[POSTGRES_URL_ENV];
  if (!url) throw new Error(`${POSTGRES_URL_ENV} is not set: the trial's test file sets it from the postgres project's server`);
  return url;
}

/** A schema name no other trial uses (the store creates the schema when it first opens). */
export function freshStoreSchema(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** A store on `schema`, as a fresh process would open it: waiting out a killed owner's TTL. */
export function postgresTrialStore(schema: string, options: { ownershipTtlMs?: number; lockWaitMs?: number } = {}): Store {
  return postgresStore({
    connectionString: postgresUrlFromEnv(),
    schema,
    ownershipTtlMs: options.ownershipTtlMs ?? TRIAL_OWNERSHIP_TTL_MS,
    lockWaitMs: options.lockWaitMs ?? 15_000,
  });
}

async function withClient<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresUrlFromEnv() });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/**
 * Copies the store in `schema` to `copy`, ownership cleared. The copy is taken under FOR UPDATE
 * on the ownership row, which waits for any commit in flight (it holds that row FOR SHARE from
 * its first statement): a killed owner's last transaction is committed or rolled back by the
 * server before the copy reads, so the copy is what any later opener will find.
 */
export async function copyStoreSchema(schema: string, copy: string): Promise<void> {
  await withClient(async (client) => {
    await client.query('BEGIN');
    try {
      await client.query(`SELECT 1 FROM ${schema}.store WHERE id = 1 FOR UPDATE`);
      await client.query(`CREATE SCHEMA ${copy}`);
      for (const table of ['store', 'tasks']) {
        await client.query(`CREATE TABLE ${copy}.${table} (LIKE ${schema}.${table} INCLUDING ALL)`);
        await client.query(`INSERT INTO ${copy}.${table} OVERRIDING SYSTEM VALUE SELECT * FROM ${schema}.${table}`);
      }
      await client.query(`UPDATE ${copy}.store SET holder = NULL, holder_url = NULL, renewed_at = NULL`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  });
}

export async function dropStoreSchema(schema: string): Promise<void> {
  await withClient((client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
}

/**
 * Watches the store in `schema` for commits in flight: a commit holds the ownership row FOR
 * SHARE (a RowShareLock on its table) from its first statement to its end, so a process stopped
 * while one is counted here was stopped inside a commit.
 */
export async function commitWatcher(schema: string): Promise<{ inFlight(): Promise<number>; close(): Promise<void> }> {
  const client = new pg.Client({ connectionString: postgresUrlFromEnv() });
  await client.connect();
  return {
    async inFlight() {
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace s ON s.oid = c.relnamespace
          WHERE s.nspname = $1 AND c.relname = 'store' AND l.mode = 'RowShareLock' AND l.granted`,
        [schema],
      );
      return Number(rows[0]?.n ?? 0);
    },
    close: () => client.end(),
  };
}
