// The options of jsonFileStore: what each one means, its default, and the checks a value must
// pass before a store is made from it.

import { resolve } from 'node:path';
import { InvalidInputError } from '../errors.js';
import { lockWaitIssue } from './lock-wait.js';

export interface JsonFileStoreOptions {
  /**
   * How long an un-refreshed lock counts as held (default 10 000 ms). proper-lockfile refreshes
   * a held lock every staleLockMs / 2 and will not go below 2 000 ms.
   */
  staleLockMs?: number;
  /**
   * Default true: each commit is appended as one line to `<path>.journal` (one fsync of a small
   * write), and the journal is folded into the snapshot now and then (compaction, which runs
   * beside later commits: they are appended and acknowledged meanwhile). false: every commit
   * rewrites the whole snapshot, and the store is that one file (slower by an order of
   * magnitude once it holds thousands of tasks; for small stores and archives).
   */
  journal?: boolean;
  /**
   * With the journal: compact once the journal is larger than both this many bytes (default
   * 8 MiB) and the snapshot, so that rewriting the snapshot costs O(1) bytes per byte committed
   * however many tasks it holds. 0 compacts as soon as the journal outgrows the snapshot.
   */
  compactBytes?: number;
  /**
   * How long `open()` waits for a lock held by a live supervisor before it rejects with
   * `STORE_LOCKED`, trying again every 10 ms at first and every 250 ms at most (default 0:
   * refused at once, so an orchestrator learns straight away that another one holds the store).
   * At most one hour.
   */
  lockWaitMs?: number;
}

const MIN_STALE_MS = 2_000;
export const DEFAULT_COMPACT_BYTES = 8 * 1024 * 1024;

/** A store's settings, checked and with the defaults filled in. */
export interface StoreSettings {
  /** The store path made absolute (symlinks not resolved yet). */
  path: string;
  staleMs: number;
  /** The journal size that triggers compaction, or null when commits rewrite the snapshot. */
  compactBytes: number | null;
  lockWaitMs: number;
}

/** Checks `path` and `options`, throwing InvalidInputError with every problem found. */
export function storeSettings(path: string, options: JsonFileStoreOptions): StoreSettings {
  if (typeof path !== 'string' || path.length === 0) {
    throw new InvalidInputError('store path', ['must be a non-empty string']);
  }
  const stale = options.staleLockMs ?? 10_000;
  const issues: string[] = [];
  if (!Number.isFinite(stale) || stale <= 0) issues.push('staleLockMs must be a positive number of milliseconds');
  if (options.journal !== undefined && typeof options.journal !== 'boolean') issues.push('journal must be true or false');
  const compactBytes = options.compactBytes ?? DEFAULT_COMPACT_BYTES;
  if (typeof compactBytes !== 'number' || !(compactBytes >= 0) || compactBytes === Infinity) {
    issues.push('compactBytes must be a number of bytes (0 or more)');
  }
  const lockWaitMs = options.lockWaitMs ?? 0;
  const lockWaitProblem = lockWaitIssue(lockWaitMs);
  if (lockWaitProblem !== undefined) issues.push(lockWaitProblem);
  if (issues.length > 0) throw new InvalidInputError('store options', issues);
  return {
    path: resolve(path),
    staleMs: Math.max(stale, MIN_STALE_MS),
    compactBytes: options.journal === false ? null : compactBytes,
    lockWaitMs,
  };
}
