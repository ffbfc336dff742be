// Shared test fixtures: a supervisor on a real JSON file in a temp folder, driven by the
// test clock, plus helpers to compare the stored bytes, read what is durable, and restart on
// the same file. The store is the plain JSON file, or the journaled one when the environment
// says LEASEHOLD_TEST_STORE=journal, or a schema on the test PostgreSQL server when it says
// postgres (vitest.config.ts runs the persistence suites all three ways). For postgres, `file`
// is the store's location (`postgres://…#schema`), and `bytes()` a canonical dump of its tables.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { createSupervisor, jsonFileStore, type Store, type Supervisor, type SupervisorOptions } from '../src/index.js';
import { createTestClock, type TestClock } from '../src/testing.js';
import { dropSchema, freshSchema, postgresUrl, storeIn } from './postgres/database.js';
import { syncQuery } from './postgres/sync-query.js';

export const T0 = Date.UTC(2026, 0, 1);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

export type StoreKind = 'json' | 'journal' | 'postgres';

function kindFromEnvironment(): StoreKind {
  const value = process.env.LEASEHOLD_TEST_STORE ?? 'json';
  if (value !== 'json' && value !== 'journal' && value !== 'postgres') {
    throw new Error(`LEASEHOLD_TEST_STORE must be json, journal or postgres, not ${value}`);
  }
  return value;
}
export const STORE_KIND: StoreKind = kindFromEnvironment();

/** A store of `kind` on `file` (for postgres, the schema): what a harness (or a test wrapping its store) opens. */
export function storeOf(file: string, kind: StoreKind = STORE_KIND): Store {
  if (kind === 'postgres') return storeIn(schemaOf(file));
  return kind === 'journal' ? jsonFileStore(file) : jsonFileStore(file, { journal: false });
}

/** The schema of a postgres store's location. */
const schemaOf = (location: string) => location.slice(location.lastIndexOf('#') + 1);

let reader: ReturnType<typeof syncQuery> | undefined;
const query = <Row>(text: string, params: unknown[] = []): Row[] => (reader ??= syncQuery(postgresUrl())).query<Row>(text, params);

/** The postgres store at `location` as a reopening store would read it. */
export function postgresDocument<Task>(location: string): StoredDocument<Task> {
  const schema = schemaOf(location);
  const [store] = query<{ format_version: number; epoch_floor: string }>(`SELECT format_version, epoch_floor FROM ${schema}.store`);
  const document: StoredDocument<Task> = { formatVersion: store!.format_version, epochFloor: Number(store!.epoch_floor), tasks: {} };
  for (const { id, record } of query<{ id: string; record: string }>(`SELECT id, record::text AS record FROM ${schema}.tasks ORDER BY seq`)) {
    Object.defineProperty(document.tasks, id, { value: JSON.parse(record) as Task, enumerable: true, writable: true, configurable: true });
  }
  return document;
}

/** Every column of the store's tables but its ownership (renewals change it), rows in the store's order. */
export function postgresBytes(location: string): string {
  const schema = schemaOf(location);
  const store = query(`SELECT format_version, epoch_floor FROM ${schema}.store`);
  const tasks = query(`SELECT id, seq, state, record::text AS record, lease_expires_at, grace_ends_at, not_before, compensation_retry_at FROM ${schema}.tasks ORDER BY seq`);
  return JSON.stringify({ store, tasks }, null, 1);
}

/** Drops the schema of the postgres store at `location`, synchronously (for sync disposers). */
export function dropPostgresStore(location: string): void {
  query(`DROP SCHEMA IF EXISTS ${schemaOf(location)} CASCADE`);
}

/**
 * Writes the store by hand, as an operator editing it would: a whole document (its tasks
 * replace the stored ones), or text that is no store at all (for postgres: every record
 * becomes that text as a JSON string, valid JSON that is not a record).
 */
function writeStore(kind: StoreKind, file: string, content: StoredDocument<unknown> | string): void {
  if (kind !== 'postgres') {
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return;
  }
  const schema = schemaOf(file);
  if (typeof content === 'string') {
    query(`UPDATE ${schema}.tasks SET record = to_json($1::text)`, [content]);
    return;
  }
  query(`DELETE FROM ${schema}.tasks`);
  for (const [id, task] of Object.entries(content.tasks)) {
    const { state } = task as { state: string | Record<string, unknown> };
    const top = typeof state === 'string' ? state : Object.keys(state)[0];
    query(`INSERT INTO ${schema}.tasks (id, state, record) VALUES ($1, $2, $3::json)`, [id, top, JSON.stringify(task)]);
  }
}

/** A store document as the tests read it. */
export interface StoredDocument<Task = { state: unknown; context: Record<string, unknown> }> {
  formatVersion: number;
  epochFloor?: number;
  journalSeq?: number;
  tasks: Record<string, Task>;
}

/**
 * What a store opening `file` now would read: the snapshot with the journal lines it does not
 * hold yet applied, a torn last line ignored. Written from the documented format, apart from
 * src/store, so that it also checks what the store writes.
 */
export function durableDocument<Task>(file: string): StoredDocument<Task> {
  const document = JSON.parse(readFileSync(file, 'utf8')) as StoredDocument<Task>;
  const journal = existsSync(`${file}.journal`) ? readFileSync(`${file}.journal`, 'utf8') : '';
  const lines = journal.slice(0, journal.lastIndexOf('\n') + 1).split('\n').filter((line) => line !== '');
  for (const line of lines) {
    const { seq, changes } = JSON.parse(line) as { seq: number; changes: Record<string, Task | null> };
    if (seq <= (document.journalSeq ?? 0)) continue;
    for (const [id, task] of Object.entries(changes)) {
      if (task === null) delete document.tasks[id];
      else Object.defineProperty(document.tasks, id, { value: task, enumerable: true, writable: true, configurable: true });
    }
    document.journalSeq = seq;
  }
  return document;
}

/** Every store file's bytes: the snapshot, then the journal when there is one. */
export function storeBytes(file: string): string {
  const journal = `${file}.journal`;
  return existsSync(journal) ? `${readFileSync(file, 'utf8')}\n--- journal ---\n${readFileSync(journal, 'utf8')}` : readFileSync(file, 'utf8');
}

export interface Harness {
  sup: Supervisor;
  clock: TestClock;
  file: string;
  dir: string;
  kind: StoreKind;
  /** Every store file's bytes right now (snapshot and journal): for "nothing was written" checks. */
  bytes(): string;
  /** The store's contents as a reopening store would read them (see durableDocument). */
  durable<Task = { state: unknown; context: Record<string, unknown> }>(): StoredDocument<Task>;
  /** Replaces what is stored, as an operator editing it by hand would (see writeStore). */
  write(content: StoredDocument<unknown> | string): void;
  /** A new store of the harness's kind on its file. */
  store(): Store;
  /** Closes the supervisor and opens a new one on the same file and clock. */
  restart(options?: Partial<SupervisorOptions>): Promise<Supervisor>;
}

export async function harness(options: Partial<SupervisorOptions> = {}, clock = createTestClock(T0), kind = STORE_KIND): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-test-'));
  const file = kind === 'postgres' ? storeIn(freshSchema('h')).location : join(dir, 'store.json');
  const open = (extra: Partial<SupervisorOptions> = {}) => createSupervisor({ store: storeOf(file, kind), clock, ...options, ...extra });
  const h: Harness = {
    sup: await open(),
    clock,
    file,
    dir,
    kind,
    bytes: () => (kind === 'postgres' ? postgresBytes(file) : storeBytes(file)),
    durable: () => (kind === 'postgres' ? postgresDocument(file) : durableDocument(file)),
    write: (content) => writeStore(kind, file, content),
    store: () => storeOf(file, kind),
    async restart(extra) {
      await h.sup.close();
      h.sup = await open(extra);
      return h.sup;
    },
  };
  cleanups.push(async () => {
    await h.sup.close();
    rmSync(dir, { recursive: true, force: true });
    if (kind === 'postgres') await dropSchema(schemaOf(file));
  });
  return h;
}

/** The rejection of `promise`, or a failure if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code: string; reason?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code: string; reason?: string };
  }
  throw new Error('expected the call to be rejected');
}

/** A real store of `kind` on `file` whose writes can be made to fail, as a full disk would. */
export function flakyStore(file: string, kind: StoreKind = STORE_KIND) {
  const inner = storeOf(file, kind);
  const state = { failing: false };
  const store: Store = {
    location: inner.location,
    open: () => inner.open(),
    close: () => inner.close(),
    commit: (changes, meta) => (state.failing ? Promise.reject(new Error('ENOSPC: no space left on device')) : inner.commit(changes, meta)),
    ...(inner.compact && { compact: () => inner.compact!() }),
  };
  return { store, state };
}

/** A real JSON store whose writes can be held in flight while `state.holding`, then let through (`go`) or failed (`fail`). */
export function holdingStore(file: string) {
  const inner = jsonFileStore(file);
  const held: { go(): void; fail(): void }[] = [];
  const state = { holding: false };
  const store: Store = {
    location: inner.location,
    open: () => inner.open(),
    close: () => inner.close(),
    commit: (changes, meta) => {
      if (!state.holding) return inner.commit(changes, meta);
      return new Promise<void>((resolve, reject) => {
        held.push({ go: () => void inner.commit(changes, meta).then(resolve, reject), fail: () => reject(new Error('ENOSPC: no space left on device')) });
      });
    },
  };
  return { store, held, state };
}

/** Every file in `dir`, names and bytes, as one hash: what a read must leave exactly as it was. */
export function directoryChecksum(dir: string): string {
  const hash = createHash('sha256');
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    hash.update(`${name}\0`);
    if (statSync(path).isFile()) hash.update(readFileSync(path));
  }
  return hash.digest('hex');
}
