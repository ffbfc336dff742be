// Shared test fixtures: a supervisor on a real JSON file in a temp folder, driven by the
// test clock, plus helpers to compare the stored bytes, read what is durable, and restart on
// the same file. The store is the plain JSON file, or the journaled one when the environment
// says LEASEHOLD_TEST_STORE=journal (vitest.config.ts runs the persistence suites both ways).
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { createSupervisor, jsonFileStore, type Store, type Supervisor, type SupervisorOptions } from '../src/index.js';
import { createTestClock, type TestClock } from '../src/testing.js';

export const T0 = Date.UTC(2026, 0, 1);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

export type StoreKind = 'json' | 'journal';

function kindFromEnvironment(): StoreKind {
  const value = process.env.LEASEHOLD_TEST_STORE ?? 'json';
  if (value !== 'json' && value !== 'journal') throw new Error(`LEASEHOLD_TEST_STORE must be json or journal, not ${value}`);
  return value;
}
export const STORE_KIND: StoreKind = kindFromEnvironment();

/** A store of `kind` on `file`: what a harness (or a test wrapping its store) opens. */
export function storeOf(file: string, kind: StoreKind = STORE_KIND): Store {
  return kind === 'journal' ? jsonFileStore(file) : jsonFileStore(file, { journal: false });
}

/** A store document as the tests read it. */
export interface StoredDocument<Task = { state: unknown; context: Record<string, unknown> }> {
  formatVersion: number;
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
  /** A new store of the harness's kind on its file. */
  store(): Store;
  /** Closes the supervisor and opens a new one on the same file and clock. */
  restart(options?: Partial<SupervisorOptions>): Promise<Supervisor>;
}

export async function harness(options: Partial<SupervisorOptions> = {}, clock = createTestClock(T0), kind = STORE_KIND): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-test-'));
  const file = join(dir, 'store.json');
  const open = (extra: Partial<SupervisorOptions> = {}) => createSupervisor({ store: storeOf(file, kind), clock, ...options, ...extra });
  const h: Harness = {
    sup: await open(),
    clock,
    file,
    dir,
    kind,
    bytes: () => storeBytes(file),
    durable: () => durableDocument(file),
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
