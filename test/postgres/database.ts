// What tests on PostgreSQL share: the server's connection string (test/postgres/server.ts
// starts it), a fresh schema per test, and SQL run behind a store's back (to age or steal its
// ownership, or to look at what it wrote).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, inject } from 'vitest';
import { postgresStore, type PostgresStore, type PostgresStoreOptions } from '../../src/index.js';

export function postgresUrl(): string {
  const url = inject('postgresUrl');
  if (!url) throw new Error('no PostgreSQL server: run this file in the vitest project "postgres"');
  return url;
}

let pool: pg.Pool | undefined;
afterAll(async () => {
  await pool?.end();
  pool = undefined;
});

/** Runs `query` on its own connection (not any store's). */
export async function sql<Row extends pg.QueryResultRow = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<Row[]> {
  pool ??= new pg.Pool({ connectionString: postgresUrl(), max: 2 });
  return (await pool.query<Row>(query, params)).rows;
}

/** A schema name no other test uses (the schema itself is created by the store that opens it). */
export function freshSchema(prefix = 't'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

export async function dropSchema(schema: string): Promise<void> {
  await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

/** A store on the test server in `schema`. */
export function storeIn(schema: string, options: Partial<PostgresStoreOptions> = {}): PostgresStore {
  return postgresStore({ connectionString: postgresUrl(), schema, ...options });
}
