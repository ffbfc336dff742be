// W2 scale: N tasks created and leased (1 h leases, so every one has a live expiry timer),
// then the store closed and reopened, each half in a fresh child process: time to create and
// lease, resident set and heap with every lease live, time to close, time to reopen (restore
// and re-arm every timer), and the size of what is on disk. Bulk calls go in chunks of 1,000
// concurrent calls; the SQLite baseline gets one transaction per chunk of 1,000 to match.
import { join } from 'node:path';
import type { Supervisor } from '../src/index.js';
import { alternate } from './alternate.js';
import { memoryNow, runChild, timedSeconds } from './spawn.js';
import type { Metrics } from './stats.js';
import { SqliteLeases } from './sqlite-baseline.js';
import { benchTasks, filesIn, inChunks, MiB, removeDir, scratchDir } from './tasks.js';
import { openSupervisor, type LeaseholdKind, type VariantKey, variantsOf } from './variants.js';

export interface W2Config {
  tasks: number;
  repeats: number;
}

/** Measured by the child that creates the tasks, whatever the store. */
export interface W2Leased extends Metrics {
  createSeconds: number;
  rssMiB: number;
  heapMiB: number;
  closeSeconds: number;
}

/** With the size of the files the store left. */
export interface W2Created extends W2Leased {
  fileMiB: number;
}

/** Measured by the child that reopens the store. */
export interface W2Reopened extends Metrics {
  reopenSeconds: number;
  reopenRssMiB: number;
  reopenHeapMiB: number;
}

export type W2Metrics = W2Created & W2Reopened;

const LEASE_MS = 60 * 60_000;
const CHUNK = 1_000;
const ownerOf = (index: number) => `owner-${index % 64}`;

const isLeasehold = (variant: VariantKey): variant is LeaseholdKind => variant !== 'sqlite';
const sqliteFile = (dir: string) => join(dir, 'leases.db');

/** Creates and leases `count` tasks on the supervisor `open` gives, measures memory with every lease live, closes it. */
export async function createLeased(open: () => Promise<Supervisor>, count: number): Promise<W2Leased> {
  const tasks = benchTasks(count);
  const sup = await open();
  const [createSeconds] = await timedSeconds(async () => {
    await inChunks(tasks, CHUNK, (task) => sup.create(task));
    await inChunks(tasks, CHUNK, (task, index) => sup.claim(task.id, { owner: ownerOf(index), leaseMs: LEASE_MS }));
  });
  expectCount(sup.stats().byState.leased, count, 'leased after create');
  const memory = memoryNow();
  const [closeSeconds] = await timedSeconds(() => sup.close());
  return { createSeconds, ...memory, closeSeconds };
}

/** Reopens the store (restore, every timer re-armed) in this fresh process, measures memory, closes. */
export async function reopenLeased(open: () => Promise<Supervisor>, count: number): Promise<W2Reopened> {
  const [reopenSeconds, sup] = await timedSeconds(open);
  expectCount(sup.stats().byState.leased, count, 'leased after reopen');
  const { rssMiB, heapMiB } = memoryNow();
  await sup.close();
  return { reopenSeconds, reopenRssMiB: rssMiB, reopenHeapMiB: heapMiB };
}

/** Child half 1: create and lease every task, measure memory with all leases live, close. */
export async function w2Create(variant: VariantKey, count: number, dir: string): Promise<W2Created> {
  if (isLeasehold(variant)) return { ...(await createLeased(() => openSupervisor(variant, dir), count)), fileMiB: totalMiB(dir) };
  const tasks = benchTasks(count);
  const db = new SqliteLeases(sqliteFile(dir));
  const [createSeconds] = await timedSeconds(() => {
    db.insertAll(tasks, CHUNK);
    db.leaseAll(tasks.map((task, index) => ({ id: task.id, owner: ownerOf(index), leaseMs: LEASE_MS })), CHUNK);
  });
  expectCount(db.count('leased'), count, 'leased after create');
  const memory = memoryNow();
  const [closeSeconds] = await timedSeconds(() => db.close());
  return { createSeconds, ...memory, closeSeconds, fileMiB: totalMiB(dir) };
}

/** Child half 2: reopen the store in a fresh process, every timer re-armed, then close. */
export async function w2Reopen(variant: VariantKey, count: number, dir: string): Promise<W2Reopened> {
  if (isLeasehold(variant)) return reopenLeased(() => openSupervisor(variant, dir), count);
  const [reopenSeconds, db] = await timedSeconds(() => {
    const reopened = new SqliteLeases(sqliteFile(dir));
    for (const lease of reopened.leased()) reopened.armExpiry(lease);
    return reopened;
  });
  expectCount(db.count('leased'), count, 'leased after reopen');
  const { rssMiB, heapMiB } = memoryNow();
  db.close();
  return { reopenSeconds, reopenRssMiB: rssMiB, reopenHeapMiB: heapMiB };
}

function expectCount(actual: number, expected: number, what: string): void {
  if (actual !== expected) throw new Error(`W2: ${actual} tasks ${what}, expected ${expected}`);
}

function totalMiB(dir: string): number {
  return Object.values(filesIn(dir)).reduce((sum, bytes) => sum + bytes, 0) / MiB;
}

async function runPair(variant: VariantKey, tasks: number): Promise<W2Metrics> {
  const dir = scratchDir('w2');
  const timeoutMs = 30 * 60_000;
  try {
    const created = await runChild<W2Created>({ workload: 'w2-create', variant, tasks, dir }, timeoutMs);
    const reopened = await runChild<W2Reopened>({ workload: 'w2-reopen', variant, tasks, dir }, timeoutMs);
    const { createSeconds, rssMiB, heapMiB, closeSeconds, fileMiB } = created;
    // The column order of the report: create, memory, close, reopen, disk.
    return { createSeconds, rssMiB, heapMiB, closeSeconds, ...reopened, fileMiB };
  } finally {
    removeDir(dir);
  }
}

/** The plain whole-file store is left out: at 100,000 tasks its O(tasks) rewrites take minutes per run. */
export function runW2(config: W2Config, progress: (line: string) => void) {
  return alternate(
    variantsOf({ plain: false, memory: false }, (key) => runPair(key, config.tasks)),
    config.repeats,
    progress,
  );
}
