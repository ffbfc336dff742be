// The supervisor's `schedule` option: which sweeps run on which cron expressions, checked
// (cron syntax included) when the supervisor is constructed, before its store is opened.
import { isAbsolute, resolve } from 'node:path';
import { validateDetailed } from 'node-cron';
import { InvalidInputError } from '../errors.js';
import { SWEEPS, type SweepName } from '../stats/types.js';
import { archivePathOf } from './archive.js';

export interface ScheduleOptions {
  /**
   * The safety net that moves any lease, grace period or backoff whose deadline passed without
   * its transition (a lost timer); the count should stay 0. Default `'* * * * *'` (every minute).
   */
  reconcile?: string | false;
  /**
   * Moves terminal tasks older than `retentionMs` into the archive file, then deletes them from
   * the store. Off by default: it deletes from the store, so it is opted into.
   */
  retain?: string | false;
  /** Logs the stats line through the logger's `info` (console.log without one). Off by default. */
  report?: string | false;
  /**
   * Folds the store's journal into its snapshot (`store.compact()`). Default every 10 minutes
   * (DEFAULT_SCHEDULE.compact) when the store can compact (`jsonFileStore(path)`, journaled by default),
   * else off; setting it for a store that cannot is refused.
   */
  compact?: string | false;
  /** How long a terminal task stays in the store after it ended (default 7 days). */
  retentionMs?: number;
  /**
   * The archive file. Default: beside a JSON-file store (`store.json` → `store.archive.json`).
   * A store that is not a file (memoryStore) has no default: retain then needs this.
   */
  archivePath?: string;
}

export const DEFAULT_SCHEDULE = { reconcile: '* * * * *', retain: false, report: false, compact: '*/10 * * * *' } as const;
export const DEFAULT_RETENTION_MS = 7 * 24 * 3600_000;
const MAX_RETENTION_MS = 10 * 365 * 24 * 3600_000;

export interface ScheduleConfig {
  /** The cron expression of each sweep, or null when it is not scheduled. */
  cron: Record<SweepName, string | null>;
  retentionMs: number;
  /** The archive file, or null when the store has none (retain cannot run). */
  archivePath: string | null;
}

const KEYS = [...SWEEPS, 'retentionMs', 'archivePath'];

/**
 * `schedule: false` turns every sweep off; `undefined` keeps the defaults. `canCompact`: the
 * store has `compact()`, without which the compact sweep has no default and cannot be set.
 */
export function scheduleConfig(raw: ScheduleOptions | false | undefined, storeLocation: string, canCompact = false): ScheduleConfig {
  const options: ScheduleOptions = raw === false ? (Object.fromEntries(SWEEPS.map((sweep) => [sweep, false])) as ScheduleOptions) : (raw ?? {});
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidInputError('schedule options', ['expected an object, or false to turn every sweep off']);
  }
  const issues: string[] = [];
  for (const key of Object.keys(options)) {
    if (!KEYS.includes(key)) issues.push(`${key}: unknown option (expected ${KEYS.join(', ')})`);
  }
  const cron = {} as Record<SweepName, string | null>;
  for (const sweep of SWEEPS) {
    const value = options[sweep] ?? (sweep === 'compact' && !canCompact ? false : DEFAULT_SCHEDULE[sweep]);
    if (value === false) {
      cron[sweep] = null;
    } else if (typeof value !== 'string') {
      issues.push(`${sweep}: expected a cron expression or false`);
    } else {
      const problem = cronProblem(value);
      if (problem) issues.push(`${sweep}: ${JSON.stringify(value)} is not a valid cron expression (${problem})`);
      cron[sweep] = value;
    }
  }
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  if (typeof retentionMs !== 'number' || !Number.isFinite(retentionMs) || retentionMs < 0 || retentionMs > MAX_RETENTION_MS) {
    issues.push('retentionMs: expected a number of milliseconds from 0 to 10 years');
  }
  let archivePath: string | null = null;
  if (options.archivePath !== undefined) {
    if (typeof options.archivePath !== 'string' || options.archivePath.length === 0) issues.push('archivePath: expected a file path');
    else archivePath = resolve(options.archivePath);
  } else if (typeof storeLocation === 'string' && isAbsolute(storeLocation)) {
    archivePath = archivePathOf(storeLocation);
  }
  if (archivePath !== null && typeof storeLocation === 'string' && archivePath === resolve(storeLocation)) {
    issues.push('archivePath: must not be the store file itself');
  }
  if (cron.compact !== null && !canCompact) {
    issues.push(`compact: the store (${storeLocation}) has no journal to compact; use jsonFileStore(path) without { journal: false }`);
  }
  if (cron.retain !== null && archivePath === null) {
    issues.push(`retain: the store (${storeLocation}) is not a file, so there is nowhere beside it to archive to; set schedule.archivePath`);
  }
  if (issues.length > 0) throw new InvalidInputError('schedule options', issues);
  return { cron, retentionMs, archivePath };
}

function cronProblem(expression: string): string | undefined {
  try {
    const result = validateDetailed(expression);
    return result.valid ? undefined : result.errors.map((e) => e.message).join(', ') || 'invalid';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
