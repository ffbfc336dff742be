// The options of postgresStore: what each one means, its default, the checks a value must pass,
// and the store's location as messages name it (the connection string without its password).

import { hostname } from 'node:os';
import { systemClock, type Clock } from '../clock/clock.js';
import { InvalidInputError } from '../errors.js';
import { lockWaitIssue } from './lock-wait.js';

export interface PostgresStoreOptions {
  /** Where the database is: `postgres://user:password@host:port/database` (any form `pg` accepts). */
  connectionString: string;
  /** The schema holding the store's tables (default `leasehold`); one store per schema. */
  schema?: string;
  /**
   * How long ownership of the store outlives its last renewal, on the database's clock (default
   * 10 000 ms). The owner renews every third of it; a supervisor opening the store takes it over
   * once the owner has not renewed for this long (a crashed or paused owner).
   */
  ownershipTtlMs?: number;
  /**
   * How long `open()` waits for a store another supervisor owns to become free (released, or
   * not renewed within its TTL) before it rejects with `STORE_LOCKED`, trying again every 10 ms
   * at first and every 250 ms at most, on `clock` (default 0: refused at once). At most one hour.
   */
  lockWaitMs?: number;
  /** Who owns the store while open, for messages and operators (default `hostname:pid`). */
  holder?: string;
  /** The URL clients can reach this supervisor's daemon at, kept with the ownership (default none). */
  advertisedUrl?: string;
  /**
   * The clock the ownership renewal is timed on (default systemClock()). Deliberately not the
   * supervisor's: ownership is a lease on the database's clock, which runs in real time even
   * while a supervisor's test clock stands still, so a store renewing on a test clock would
   * lose its ownership between two `advance()` calls. Tests pass a test clock here to drive
   * renewals themselves.
   */
  clock?: Clock;
}

/** A schema name used unquoted in SQL: lower case, so psql users can type it as it is. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const MIN_TTL_MS = 50;
const MAX_TTL_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_OWNERSHIP_TTL_MS = 10_000;

export interface PostgresSettings {
  connectionString: string;
  schema: string;
  ttlMs: number;
  lockWaitMs: number;
  holder: string;
  advertisedUrl: string | null;
  clock: Clock;
  location: string;
}

/** Checks `options`, throwing InvalidInputError with every problem found. */
export function postgresSettings(options: PostgresStoreOptions): PostgresSettings {
  const issues: string[] = [];
  const { connectionString, schema = 'leasehold', ownershipTtlMs = DEFAULT_OWNERSHIP_TTL_MS } = options ?? ({} as PostgresStoreOptions);
  if (typeof connectionString !== 'string' || connectionString.length === 0) issues.push('connectionString must be a non-empty string');
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema) || schema.startsWith('pg_')) {
    issues.push('schema must be 1–63 lower-case letters, digits or _, not starting with a digit or pg_ (reserved)');
  }
  if (typeof ownershipTtlMs !== 'number' || !Number.isInteger(ownershipTtlMs) || ownershipTtlMs < MIN_TTL_MS || ownershipTtlMs > MAX_TTL_MS) {
    issues.push(`ownershipTtlMs must be a whole number of milliseconds from ${MIN_TTL_MS} to ${MAX_TTL_MS}`);
  }
  const lockWaitMs = options?.lockWaitMs ?? 0;
  const lockWaitProblem = lockWaitIssue(lockWaitMs);
  if (lockWaitProblem !== undefined) issues.push(lockWaitProblem);
  const holder = options?.holder ?? `${hostname()}:${process.pid}`;
  if (typeof holder !== 'string' || holder.length === 0 || holder.length > 200) issues.push('holder must be a string of 1–200 characters');
  const advertisedUrl = options?.advertisedUrl ?? null;
  if (advertisedUrl !== null && (typeof advertisedUrl !== 'string' || !URL.canParse(advertisedUrl))) issues.push('advertisedUrl must be a URL');
  const clock = options?.clock ?? systemClock();
  if (typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
    issues.push('clock: expected systemClock() or createTestClock()');
  }
  if (issues.length > 0) throw new InvalidInputError('postgres store options', issues);
  return { connectionString, schema, ttlMs: ownershipTtlMs, lockWaitMs, holder, advertisedUrl, clock, location: locationOf(connectionString, schema) };
}

/** `postgres://user@host:port/database#schema`: never the password, nor query parameters. */
function locationOf(connectionString: string, schema: string): string {
  if (URL.canParse(connectionString)) {
    const url = new URL(connectionString);
    url.password = '';
    url.search = '';
    url.hash = schema;
    return url.href;
  }
  return `postgres#${schema}`;
}
