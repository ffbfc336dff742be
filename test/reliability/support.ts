// Shared pieces of the reliability trials (issue 7): seeded randomness, trial counts read
// from the environment, the store kinds under trial (the plain JSON file and the journaled
// one, or PostgreSQL when the environment says LEASEHOLD_TEST_STORE=postgres), byte snapshots
// of a store's files, and the printed summary line each suite ends with. Nothing here knows
// about any one trial.
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as api from '../../src/index.js';
import type { Store } from '../../src/index.js';
import { copyStoreSchema, dropStoreSchema, freshStoreSchema, postgresTrialStore } from './postgres-kind.js';

// ---------------------------------------------------------------------------------------
// counts and seeds

/** A positive integer from the environment, or `fallback`. */
export function countFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

/** The suite's seed: LEASEHOLD_SEED when set, else a fresh one (printed by the suite). */
export function seedFromEnv(): number {
  const raw = process.env.LEASEHOLD_SEED;
  if (raw === undefined || raw === '') return Math.floor(Math.random() * 2 ** 31);
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new Error(`LEASEHOLD_SEED must be an integer, got ${raw}`);
  return value;
}

/** A small seeded generator (mulberry32): the same seed gives the same choices everywhere. */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Uniform integer in [min, max]. */
  between(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** A derived generator, independent of this one's later draws. */
  fork(salt: number): Random;
}

export function random(seed: number): Random {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const self: Random = {
    next,
    int: (n) => Math.floor(next() * n),
    between: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!,
    fork: (salt) => random((Math.imul(seed ^ 0x9e3779b9, 31) + Math.imul(salt + 1, 0x85ebca6b)) >>> 0),
  };
  return self;
}

/** Prints one line that shows in vitest's output (and in CI logs). */
export function report(line: string): void {
  console.log(`[reliability] ${line}`);
}

// ---------------------------------------------------------------------------------------
// store kinds

export type StoreKindName = 'json' | 'journal' | 'postgres';

export interface StoreKind {
  name: StoreKindName;
  /**
   * A store at `location` (a file's path; for postgres, a schema), as a fresh process would
   * open it. `compactBytes` (journal only) makes compaction frequent enough to be interrupted.
   */
  make(location: string, options?: { compactBytes?: number }): Store;
  /** Where a trial working in the temp folder `dir` keeps a new store (nothing is created yet). */
  place(dir: string): string;
  /**
   * A copy of the store at `location` as it is now, for opening while the original stays as a
   * kill left it (the next generation inherits that); `remove` deletes the copy.
   */
  copyAside(location: string): Promise<{ location: string; remove(): Promise<void> }>;
  /** Deletes what `place` pointed at beyond the trial's temp folder (a schema). */
  drop(location: string): Promise<void>;
}

/** proper-lockfile's minimum: a lock left without its owner sidecar goes stale this fast. */
export const STALE_LOCK_MS = 2_000;

/** Whether this build's jsonFileStore takes `{ journal: true }` (the journaled store has `compact`). */
function hasJournal(): boolean {
  const probe = api.jsonFileStore(join(tmpdir(), 'leasehold-journal-probe', 'store.json'), { journal: true } as never) as Store;
  return typeof probe.compact === 'function';
}

/** The JSON kinds' files but the lock, copied to a temp folder. */
function copyFilesAside(file: string): Promise<{ location: string; remove(): Promise<void> }> {
  const scratch = tempDir('kill-copy');
  const dir = join(file, '..');
  for (const name of readdirSync(dir)) if (!isLockFile(name)) copyFileSync(join(dir, name), join(scratch.dir, name));
  return Promise.resolve({ location: join(scratch.dir, 'store.json'), remove: () => Promise.resolve(scratch.remove()) });
}

const jsonPlace = (dir: string) => {
  mkdirSync(join(dir, 'store'), { recursive: true });
  return join(dir, 'store', 'store.json');
};

const postgresKind: StoreKind = {
  name: 'postgres',
  make: (schema) => postgresTrialStore(schema),
  place: () => freshStoreSchema('trial'),
  async copyAside(schema) {
    const copy = freshStoreSchema('copy');
    await copyStoreSchema(schema, copy);
    return { location: copy, remove: () => dropStoreSchema(copy) };
  },
  drop: (schema) => dropStoreSchema(schema),
};

/**
 * Every store kind under trial: the plain JSON file and the journaled one (when this build
 * has it), or only PostgreSQL in the postgres project (LEASEHOLD_TEST_STORE=postgres).
 */
export function storeKinds(): StoreKind[] {
  if (process.env.LEASEHOLD_TEST_STORE === 'postgres') return [postgresKind];
  const files = { place: jsonPlace, copyAside: copyFilesAside, drop: () => Promise.resolve() };
  const kinds: StoreKind[] = [{ name: 'json', make: (path) => api.jsonFileStore(path, { staleLockMs: STALE_LOCK_MS, journal: false } as never), ...files }];
  if (hasJournal()) {
    kinds.push({
      name: 'journal',
      make: (path, options = {}) =>
        api.jsonFileStore(path, { staleLockMs: STALE_LOCK_MS, journal: true, ...(options.compactBytes !== undefined && { compactBytes: options.compactBytes }) } as never),
      ...files,
    });
  }
  return kinds;
}

export function storeKind(name: StoreKindName): StoreKind {
  const kind = storeKinds().find((k) => k.name === name);
  if (!kind) throw new Error(`store kind ${name} is not available in this build`);
  return kind;
}

// ---------------------------------------------------------------------------------------
// files

/** A fresh temp folder, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `leasehold-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The lock directory and its owner sidecar belong to the lock, not to the data. */
const isLockFile = (name: string) => name.endsWith('.lock') || name.endsWith('.lock.owner');

/**
 * The bytes of every data file in `dir` (snapshot, journal, temp files; not the lock), by
 * name: two snapshots are equal when the store was left byte-for-byte as it was.
 */
export function filesOf(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  if (!existsSync(dir)) return files;
  for (const name of readdirSync(dir).sort()) {
    if (isLockFile(name)) continue;
    const path = join(dir, name);
    const info = lstatSync(path);
    files.set(name, info.isFile() ? readFileSync(path).toString('base64') : `<${info.isDirectory() ? 'directory' : 'other'}>`);
  }
  return files;
}

/** Whether the store's lock is still held on disk (a refused open must release it). */
export function lockHeld(file: string): boolean {
  return existsSync(`${file}.lock`);
}

/** Deep equality for JSON data that also sees own `__proto__` keys. */
export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.keys(value)
      .sort()
      .map((key) => [key, canonical((value as Record<string, unknown>)[key])]);
  }
  return Object.is(value, -0) ? 0 : value;
}
