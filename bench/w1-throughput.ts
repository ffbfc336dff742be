// W1 throughput: N pre-created tasks worked off by concurrent owners, each task claimNext →
// 3 heartbeats → complete, every call acknowledged only once durable. Measures calls per
// second and the latency of each call from the moment its owner issues it to the answer
// (for SQLite that includes waiting behind the other owners' synchronous calls).
import { join } from 'node:path';
import type { Lease, Supervisor } from '../src/index.js';
import { alternate } from './alternate.js';
import { SqliteLeases, type SqliteLease } from './sqlite-baseline.js';
import { latencySummary } from './stats.js';
import { benchTasks, inChunks, removeDir, scratchDir, type BenchTask } from './tasks.js';
import { openSupervisor, variantsOf, type LeaseholdKind } from './variants.js';

export interface W1Config {
  tasks: number;
  owners: number;
  repeats: number;
}

export interface W1Metrics {
  [key: string]: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  seconds: number;
}

/** Long enough that no lease expires during a run (real clock). */
export const LEASE_MS = 30 * 60_000;
const HEARTBEATS = 3;

/** The three calls of the workload, whatever answers them; `L` is what a claim hands back (the holder's proof). */
export interface LeaseApi<L> {
  claimNext(owner: string): Promise<L | null>;
  /** `beat` counts 1…3; each asks for a slightly longer lease so that it always extends. */
  heartbeat(lease: L, owner: string, beat: number): Promise<unknown>;
  complete(lease: L, owner: string): Promise<unknown>;
}

/** Runs the workload: `owners` concurrent loops (`owner-0`, `owner-1`, …) until no task is left. */
export async function drive<L>(api: LeaseApi<L>, owners: number, expectedTasks: number): Promise<W1Metrics> {
  const latencies: number[] = [];
  const timed = async <T>(call: () => Promise<T>): Promise<T> => {
    const issued = performance.now();
    const answer = await call();
    latencies.push(performance.now() - issued);
    return answer;
  };
  let completed = 0;
  const work = async (owner: string) => {
    for (;;) {
      const lease = await timed(() => api.claimNext(owner));
      if (lease === null) return;
      for (let beat = 1; beat <= HEARTBEATS; beat++) await timed(() => api.heartbeat(lease, owner, beat));
      await timed(() => api.complete(lease, owner));
      completed++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: owners }, (_, index) => work(`owner-${index}`)));
  const seconds = (performance.now() - started) / 1000;
  if (completed !== expectedTasks) throw new Error(`W1: ${completed} of ${expectedTasks} tasks completed`);
  const { p50Ms, p99Ms, maxMs } = latencySummary(latencies);
  return { opsPerSec: latencies.length / seconds, p50Ms, p99Ms, maxMs, seconds };
}

/** The three methods W1 calls, as a supervisor has them and the client (leasehold/client) too. */
export type LeaseCalls = Pick<Supervisor, 'claimNext' | 'heartbeat' | 'complete'>;

/** Leasehold's answers; `callsOf(owner)` is what that owner calls (one supervisor, or its own client). */
export function leaseholdApi(callsOf: (owner: string) => LeaseCalls): LeaseApi<Lease> {
  return {
    claimNext: (owner) => callsOf(owner).claimNext({ owner, leaseMs: LEASE_MS }),
    heartbeat: ({ taskId, epoch }, owner, beat) => callsOf(owner).heartbeat(taskId, { owner, epoch, leaseMs: LEASE_MS + beat, progress: 25 * beat }),
    complete: ({ taskId, epoch }, owner) => callsOf(owner).complete(taskId, { owner, epoch, result: { ok: true } }),
  };
}

/** Each call waits for its turn on the event loop (as a request from a socket would), then runs synchronously. */
function sqliteApi(db: SqliteLeases): LeaseApi<SqliteLease> {
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  return {
    claimNext: (owner) => turn().then(() => db.claimNext(owner, LEASE_MS)),
    heartbeat: ({ taskId, epoch }, owner, beat) => turn().then(() => db.heartbeat(taskId, owner, epoch, LEASE_MS + beat, 25 * beat)),
    complete: ({ taskId, epoch }, owner) => turn().then(() => db.complete(taskId, owner, epoch, { ok: true })),
  };
}

/** The in-process run of one leasehold variant, on a fresh store (W4 runs it too, as its reference). */
export async function runLeasehold(kind: LeaseholdKind, tasks: BenchTask[], owners: number): Promise<W1Metrics> {
  const dir = scratchDir('w1');
  const sup = await openSupervisor(kind, dir);
  try {
    await inChunks(tasks, 1_000, (task) => sup.create(task));
    return await drive(leaseholdApi(() => sup), owners, tasks.length);
  } finally {
    await sup.close();
    removeDir(dir);
  }
}

async function runSqlite(tasks: BenchTask[], owners: number): Promise<W1Metrics> {
  const dir = scratchDir('w1');
  const db = new SqliteLeases(join(dir, 'leases.db'));
  try {
    db.insertAll(tasks, tasks.length);
    return await drive(sqliteApi(db), owners, tasks.length);
  } finally {
    db.close();
    removeDir(dir);
  }
}

export function runW1(config: W1Config, progress: (line: string) => void) {
  const tasks = benchTasks(config.tasks);
  const variants = variantsOf({ plain: true, memory: true }, (key) =>
    key === 'sqlite' ? runSqlite(tasks, config.owners) : runLeasehold(key, tasks, config.owners),
  );
  return alternate(variants, config.repeats, progress);
}
