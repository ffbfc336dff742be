// W3 timers: N live leases whose durations are spread uniformly over [min, max] on the real
// clock, grace 0, nobody heartbeating: the lag from each lease's deadline to its `expired`
// event (leasehold publishes it once the expiry is durable; the SQLite baseline's per-lease
// timer reports once its CAS UPDATE has committed). Runs in a fresh child process per variant.
import { join } from 'node:path';
import { alternate } from './alternate.js';
import { runChild } from './spawn.js';
import { SqliteLeases } from './sqlite-baseline.js';
import { latencySummary } from './stats.js';
import { benchTasks, inChunks, removeDir, scratchDir, seededRandom } from './tasks.js';
import { openSupervisor, variantsOf, type VariantKey } from './variants.js';

export interface W3Config {
  leases: number;
  minLeaseMs: number;
  maxLeaseMs: number;
  repeats: number;
}

export interface W3Metrics {
  [key: string]: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

const CHUNK = 1_000;

/** Child side: arm the leases, wait for every expiry, summarise the lags. */
export async function w3Expiries(variant: VariantKey, count: number, minLeaseMs: number, maxLeaseMs: number, dir: string): Promise<W3Metrics> {
  const random = seededRandom(3);
  const tasks = benchTasks(count).map((task) => ({ task, leaseMs: Math.round(minLeaseMs + random() * (maxLeaseMs - minLeaseMs)) }));
  const lags: number[] = [];
  let allExpired!: () => void;
  const done = new Promise<void>((resolve) => (allExpired = resolve));
  const expired = (deadline: number) => {
    // Sub-millisecond wall time, so that lags below 1 ms do not all read as 0. A timer fires once
    // Date.now() (whole ms) reached the deadline, so the lag is never below 0 but for clock jitter.
    lags.push(Math.max(0, performance.timeOrigin + performance.now() - deadline));
    if (lags.length === count) allExpired();
  };
  const timeout = setTimeout(() => {
    throw new Error(`W3: only ${lags.length} of ${count} leases expired`);
  }, maxLeaseMs + 60_000);

  let close: () => Promise<void> | void;
  if (variant === 'sqlite') {
    const db = new SqliteLeases(join(dir, 'leases.db'));
    close = () => db.close();
    db.insertAll(tasks.map(({ task }) => task), CHUNK);
    const claims = tasks.map(({ task, leaseMs }) => ({ id: task.id, owner: 'owner', leaseMs }));
    db.leaseAll(claims, CHUNK, (lease) => expired(lease.expiresAt));
  } else {
    const sup = await openSupervisor(variant, dir, { graceMs: 0 });
    close = () => sup.close();
    // The deadline is read from the task (a stale task still shows its expired lease): the event
    // can be published in the same group commit as its claim, before the claim's caller hears back.
    sup.on('expired', (event) => expired(sup.get(event.taskId)!.lease!.expiresAt));
    await inChunks(tasks, CHUNK, ({ task }) => sup.create(task));
    await inChunks(tasks, CHUNK, ({ task, leaseMs }) => sup.claim(task.id, { owner: 'owner', leaseMs }));
  }
  await done;
  clearTimeout(timeout);
  await close();
  const { p50Ms, p99Ms, maxMs } = latencySummary(lags);
  return { p50Ms, p99Ms, maxMs };
}

export function runW3(config: W3Config, progress: (line: string) => void) {
  const { leases, minLeaseMs, maxLeaseMs } = config;
  const variants = variantsOf({ plain: true, memory: true }, async (variant) => {
    const dir = scratchDir('w3');
    try {
      return await runChild<W3Metrics>({ workload: 'w3', variant, leases, minLeaseMs, maxLeaseMs, dir }, maxLeaseMs + 10 * 60_000);
    } finally {
      removeDir(dir);
    }
  });
  return alternate(variants, config.repeats, progress);
}
