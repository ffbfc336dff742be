// kill -9 trials (issue 7, item 1): a child process (worker.ts) runs a supervisor and a busy
// workload of many owners on a JSON store, plain or journaled — or, in the postgres project,
// on a PostgreSQL store (issue 15), whose next opener waits out the killed owner's ownership
// TTL — and logs every acknowledged
// result (fsynced) before moving on; the parent SIGKILLs it at a seeded random moment — while
// it works, or while it opens and restores the store of an earlier generation — once or a few
// times per trial. After each kill the store's files, copied aside, must open (never
// STORE_CORRUPT) and reflect every acknowledged call; the compensations done at that moment
// are noted. At the end a fresh supervisor (test clock, at the wall time) takes over the
// store and must show: every acknowledged operation (creates, claims' epochs, heartbeats'
// progress and expiry, compensations registered, completes with their result, failures,
// releases, quarantines, annotations); the shared invariant checker fed with every
// acknowledged lease in order (no task with two owners, epochs only growing); after an hour
// of clock, new claims on every claimable task with epochs above every acknowledged one; no
// compensation that was done at a kill ever run again, each done one run to its end first,
// `compensated` only when every entry ran; and a restart that reads back the same.
//
// LEASEHOLD_KILL_TRIALS sets the number of trials (default 50, alternating store kinds when
// the journaled store exists; 8 on PostgreSQL, where each generation also waits out a TTL);
// LEASEHOLD_SEED replays them (the kill moments are seeded; the
// child's own timing is the wall clock's).
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createSupervisor,
  LeaseholdError,
  type Compensator,
  type Json,
  type Supervisor,
  type TaskRecord,
  type TaskView,
} from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { createInvariantChecker } from '../invariants.js';
import { readLines, type Ack, type Run, type WorkerConfig } from './kill-log.js';
import { POSTGRES_URL_ENV } from './postgres-kind.js';
import { countFromEnv, random, report, sameJson, seedFromEnv, STALE_LOCK_MS, storeKinds, tempDir, type Random, type StoreKind } from './support.js';

const ON_POSTGRES = process.env.LEASEHOLD_TEST_STORE === 'postgres';
const TRIALS = countFromEnv('LEASEHOLD_KILL_TRIALS', ON_POSTGRES ? 8 : 50);
const SEED = seedFromEnv();
const CONCURRENCY = countFromEnv('LEASEHOLD_KILL_CONCURRENCY', Math.max(2, Math.min(4, cpus().length + 1)));
const ROOT = join(import.meta.dirname, '..', '..');
const WORKER = join(import.meta.dirname, 'worker.ts');
const HOUR = 3_600_000;
const TERMINAL = new Set(['completed', 'compensated', 'quarantined']);

interface Totals {
  trials: number;
  kills: number;
  killsWhileOpening: number;
  acks: number;
  byOp: Map<string, number>;
  compensationRuns: number;
  doneAtKill: number;
  reclaimed: number;
  lockWaits: number;
  silentEnds: number;
  byKind: Map<string, number>;
}

const totals: Totals = {
  trials: 0,
  kills: 0,
  killsWhileOpening: 0,
  acks: 0,
  byOp: new Map(),
  compensationRuns: 0,
  doneAtKill: 0,
  reclaimed: 0,
  lockWaits: 0,
  silentEnds: 0,
  byKind: new Map(),
};
const started = Date.now();

/**
 * How the worker is started: bundled once with esbuild (our sources inlined, packages left
 * to node_modules; a third of tsx's start-up cost, which matters at 50+ spawns), or through
 * tsx when esbuild cannot be imported from here (it comes with tsx).
 */
let workerCommand = ['--import', 'tsx', WORKER];
const BUNDLE = join(ROOT, 'node_modules', '.cache', 'leasehold-reliability', `worker-${process.pid}.mjs`);
beforeAll(async () => {
  try {
    const esbuild = await import('esbuild');
    await esbuild.build({ entryPoints: [WORKER], bundle: true, packages: 'external', platform: 'node', format: 'esm', target: 'node20', outfile: BUNDLE, logLevel: 'error' });
    workerCommand = [BUNDLE];
  } catch (error) {
    report(`kill -9 trials: esbuild is not usable here (${String(error)}); the worker runs through tsx`);
  }
});
afterAll(() => rmSync(BUNDLE, { force: true }));
// The workers (spawned with this process's environment) and the PostgreSQL kind find the server here.
if (ON_POSTGRES) process.env[POSTGRES_URL_ENV] = inject('postgresUrl');

afterAll(() => {
  report(
    `kill -9 trials (seed ${SEED}): ${totals.trials} trials (${[...totals.byKind].map(([k, n]) => `${k} ${n}`).join(', ')}), ` +
      `${totals.kills} SIGKILLs (${totals.killsWhileOpening} while opening/restoring), ${totals.acks} acknowledged calls checked ` +
      `(${[...totals.byOp].map(([op, n]) => `${op} ${n}`).join(', ')}), ${totals.compensationRuns} compensation runs, ` +
      `${totals.doneAtKill} compensations done at a kill and never rerun, ${totals.reclaimed} leases reclaimed above every acknowledged epoch, ` +
      `${totals.silentEnds} lease ends durable but cut off before their acknowledgement` +
      `${totals.lockWaits > 0 ? `, ${totals.lockWaits} waits for a sidecar-less lock to go stale` : ''}; ${Math.round((Date.now() - started) / 1000)} s`,
  );
});

describe('kill -9 trials', () => {
  it(`${TRIALS} trials: the store always opens and reflects every acknowledged call`, async () => {
    const kinds = storeKinds();
    const failures: string[] = [];
    let next = 0;
    const runner = async () => {
      for (let i = next++; i < TRIALS; i = next++) {
        const seed = (SEED + i * 7919) >>> 0;
        const kind = kinds[i % kinds.length]!;
        try {
          await trial(seed, kind);
        } catch (error) {
          failures.push(`trial ${i} (${kind.name}, seed ${seed}): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, runner));
    expect(failures, `replay with LEASEHOLD_SEED=${SEED}`).toEqual([]);
  }, 600_000);
});

// ---------------------------------------------------------------------------------------
// one trial

async function trial(seed: number, kind: StoreKind) {
  const r = random(seed);
  const folder = tempDir('kill');
  const file = kind.place(folder.dir);
  const acksPath = join(folder.dir, 'acks.ndjson');
  const runsPath = join(folder.dir, 'runs.ndjson');
  const generations = r.chance(0.35) ? 2 + r.int(2) : 1;
  /** Compensation tokens done on disk at each kill, by generation. */
  const doneAt: Set<string>[] = [];
  /** Lease ends each generation made durable without logging their acknowledgement. */
  const silentEnds: LeaseEnd[][] = [];
  try {
    for (let g = 1; g <= generations; g++) {
      const config: WorkerConfig = {
        store: file,
        kind: kind.name,
        ...(kind.name === 'journal' && { compactBytes: r.pick([4_096, 32_768, 1 << 20]) }),
        acks: acksPath,
        runs: runsPath,
        seed: r.int(2 ** 31),
        generation: g,
        owners: 6,
        maxTasks: 40,
      };
      // Later generations may be killed while they open and restore the store they inherit.
      const whileOpening = g > 1 && r.chance(0.25);
      await runAndKill(config, whileOpening ? { after: 'opening', ms: r.between(0, 25) } : { after: 'ready', ms: r.between(0, 400) });
      totals.kills++;
      if (whileOpening) totals.killsWhileOpening++;
      const records = viewsOfRecords(await readCopy(kind, file));
      const acks = readLines<Ack>(acksPath);
      checkAcknowledged(acks, records, `after kill ${g}`);
      silentEnds.push(unacknowledgedEnds(acks, g, records));
      const done = doneTokens(records);
      doneAt.push(done);
      checkRuns(readLines<Run>(runsPath), doneAt, []);
    }
    await takeOver(kind, file, readLines<Ack>(acksPath), readLines<Run>(runsPath), doneAt, silentEnds, r);
    totals.trials++;
    totals.byKind.set(kind.name, (totals.byKind.get(kind.name) ?? 0) + 1);
  } finally {
    folder.remove();
    await kind.drop(file);
  }
}

/** Spawns a worker and SIGKILLs it `ms` after it printed `after`; fails if it ended any other way. */
function runAndKill(config: WorkerConfig, when: { after: 'opening' | 'ready'; ms: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...workerCommand, JSON.stringify(config)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let armed = false;
    const watchdog = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!armed && stdout.split('\n').includes(when.after)) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), when.ms);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      if (signal === 'SIGKILL' && armed) resolve();
      else reject(new Error(`worker generation ${config.generation} ended by itself (code ${code}, signal ${signal}) before the kill:\n${stderr}`));
    });
  });
}

/** Opens a copy of the store (so the next generation still gets what the kill left). */
async function readCopy(kind: StoreKind, file: string): Promise<Map<string, TaskRecord>> {
  const copy = await kind.copyAside(file);
  try {
    const store = kind.make(copy.location);
    try {
      return (await store.open()).tasks;
    } catch (error) {
      throw new Error(`the store a SIGKILL left does not open: ${String(error)}`, { cause: error });
    } finally {
      await store.close();
    }
  } finally {
    await copy.remove();
  }
}

// ---------------------------------------------------------------------------------------
// the fresh supervisor that takes over

async function takeOver(kind: StoreKind, file: string, acks: Ack[], runs: Run[], doneAt: Set<string>[], silentEnds: LeaseEnd[][], r: Random) {
  const latest = acks.reduce((max, a) => Math.max(max, a.before), 0);
  const clock = createTestClock(Math.max(Date.now(), latest + 1));
  const parentRuns: string[] = [];
  const record: Compensator = (args) => void parentRuns.push(String((args as { token?: Json }).token));
  const open = () =>
    openWaitingForStaleLock(() =>
      createSupervisor({ store: kind.make(file), clock, compensators: { undo: record, flaky: record }, schedule: false, logger: { warn: () => {} } }),
    );
  let sup = await open();
  try {
    await clock.settle();
    const checker = createInvariantChecker();
    checkAcknowledged(acks, sup.list(), 'after the take-over');
    feed(checker, acks, silentEnds);
    totals.silentEnds += silentEnds.reduce((sum, ends) => sum + ends.length, 0);
    checker.check(sup, clock.now());

    // An hour later every lease and grace has run out: the checker must see every new claim
    // above every epoch acknowledged before, and nobody else holding the task.
    await clock.advance(HOUR);
    checker.check(sup, clock.now());
    for (let n = 0; ; n++) {
      const lease = await sup.claimNext({ owner: `taker-${n}` });
      if (!lease) break;
      checker.acknowledge(lease, clock.now(), 'claim');
      totals.reclaimed++;
      if (r.chance(0.5)) {
        await sup.complete(lease.taskId, { owner: lease.owner, epoch: lease.epoch });
      } else {
        await sup.fail(lease.taskId, { owner: lease.owner, epoch: lease.epoch, error: 'taken over and failed' });
      }
      checker.ended(lease.taskId, lease.epoch, lease.owner);
    }
    await clock.advance(HOUR);
    checker.check(sup, clock.now());
    checkAcknowledged(acks, sup.list(), 'after the hour');
    const views = sup.list();
    for (const view of views) {
      expect(TERMINAL.has(view.state), `task ${view.id} is ${view.substate} after the take-over ran everything`).toBe(true);
    }
    checkRuns(runs, doneAt, parentRuns);
    const ran = new Set([...runs.filter((x) => x.phase === 'end').map((x) => x.token), ...parentRuns]);
    for (const view of views.filter((v) => v.state === 'compensated')) {
      for (const entry of view.compensations) {
        expect(ran.has(tokenOf(entry.args)), `task ${view.id}: compensated, but ${tokenOf(entry.args)} never ran to its end`).toBe(true);
      }
    }
    // A failed task whose ledger reaches a compensation without a handler ends quarantined, never compensated.
    for (const view of views.filter((v) => v.state !== 'completed' && v.compensations.some((c) => c.action === 'missing'))) {
      expect(view.state, `task ${view.id} has a compensation without a handler`).toBe('quarantined');
    }
    totals.compensationRuns += runs.filter((x) => x.phase === 'start').length + parentRuns.length;
    totals.doneAtKill += doneAt.reduce((sum, set) => sum + set.size, 0);
    totals.acks += acks.filter((a) => a.op !== 'intent').length;
    for (const ack of acks) if (ack.op !== 'intent') totals.byOp.set(ack.op, (totals.byOp.get(ack.op) ?? 0) + 1);

    // A restart reads back exactly what the take-over left.
    await sup.close();
    sup = await open();
    expect(sup.list()).toEqual(views);
  } finally {
    await sup.close();
  }
}

/**
 * A lock whose owner was killed after creating the lock directory but before writing its
 * sidecar cannot be judged by pid; it is taken over once its mtime goes stale (documented).
 */
async function openWaitingForStaleLock(open: () => Promise<Supervisor>): Promise<Supervisor> {
  for (let waited = 0; ; waited += 250) {
    try {
      return await open();
    } catch (error) {
      if (!(error instanceof LeaseholdError) || error.code !== 'STORE_LOCKED' || waited > 4 * STALE_LOCK_MS) throw error;
      if (waited === 0) totals.lockWaits++;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

// ---------------------------------------------------------------------------------------
// checks

/** A task as the checks need it: the top-level state and the fields of its context. */
interface Seen {
  id: string;
  state: string;
  epoch: number;
  progress: number;
  lease: { epoch: number; expiresAt: number } | null;
  compensations: { action: string; args: Json; status: string }[];
  terminal: { state: string; result: Json } | null;
  failure: { epoch: number } | null;
  metadata: Record<string, Json>;
}

function viewsOfRecords(records: Map<string, TaskRecord>): Seen[] {
  return [...records].map(([id, record]) => {
    const state = typeof record.state === 'string' ? record.state : Object.keys(record.state)[0]!;
    return { id, state, ...(record.context as unknown as Omit<Seen, 'id' | 'state'>) };
  });
}

const tokenOf = (args: Json) => String((args as { token?: Json } | null)?.token);

/** Every acknowledged call is reflected in `tasks`. */
function checkAcknowledged(acks: Ack[], tasks: Seen[] | TaskView[], when: string) {
  const byId = new Map<string, Seen>((tasks as Seen[]).map((t) => [t.id, t]));
  const ledger = (t: Seen) => new Set(t.compensations.map((c) => tokenOf(c.args)));
  for (const ack of acks) {
    const where = `${when}: acknowledged ${ack.op} on ${ack.task} (generation ${ack.g})`;
    const task = byId.get(ack.task);
    if (!task) throw new Error(`${where}: the task is missing`);
    switch (ack.op) {
      case 'intent':
        break;
      case 'create':
        for (const token of ack.tokens) if (!ledger(task).has(token)) throw new Error(`${where}: compensation ${token} is missing`);
        break;
      case 'claim':
        if (task.epoch < ack.epoch) throw new Error(`${where}: epoch ${task.epoch} is below the acknowledged ${ack.epoch}`);
        break;
      case 'heartbeat':
      case 'extend':
        if (task.epoch < ack.epoch) throw new Error(`${where}: epoch ${task.epoch} is below the acknowledged ${ack.epoch}`);
        if (ack.op === 'heartbeat' && task.progress < ack.progress) throw new Error(`${where}: progress ${task.progress} < acknowledged ${ack.progress}`);
        if (task.lease?.epoch === ack.epoch && task.lease.expiresAt < ack.lease.expiresAt) {
          throw new Error(`${where}: expiry ${task.lease.expiresAt} is before the acknowledged ${ack.lease.expiresAt}`);
        }
        break;
      case 'addCompensation':
        if (!ledger(task).has(ack.token)) throw new Error(`${where}: compensation ${ack.token} is not in the ledger`);
        break;
      case 'complete':
        if (task.state !== 'completed') throw new Error(`${where}: the task is ${task.state}`);
        if (!sameJson(task.terminal?.result, ack.result)) throw new Error(`${where}: result ${JSON.stringify(task.terminal?.result)} ≠ ${JSON.stringify(ack.result)}`);
        break;
      case 'fail':
        if (!ack.retryable && !['failed', 'compensated', 'quarantined'].includes(task.state)) throw new Error(`${where}: the task is ${task.state}`);
        if (task.lease?.epoch === ack.epoch && (task.state === 'leased' || task.state === 'stale')) throw new Error(`${where}: the failed lease is still held`);
        break;
      case 'release':
        if (task.lease?.epoch === ack.epoch && (task.state === 'leased' || task.state === 'stale')) throw new Error(`${where}: the released lease is still held`);
        break;
      case 'quarantine':
        if (task.state !== 'quarantined') throw new Error(`${where}: the task is ${task.state}`);
        break;
      case 'annotate':
        if (!sameJson(task.metadata[ack.key], ack.value)) throw new Error(`${where}: metadata ${ack.key} is ${JSON.stringify(task.metadata[ack.key])}`);
        break;
    }
  }
}

interface LeaseEnd {
  task: string;
  owner: string;
  epoch: number;
}

/**
 * Lease ends generation `g` attempted but never acknowledged (the kill came between the write
 * and the log line) that the store shows took effect: the lease is no longer held at that epoch.
 */
function unacknowledgedEnds(acks: Ack[], g: number, tasks: Seen[]): LeaseEnd[] {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const acknowledged = new Set(
    acks.filter((a) => a.g === g && (a.op === 'complete' || a.op === 'fail' || a.op === 'release')).map((a) => `${a.task}@${(a as { epoch: number }).epoch}`),
  );
  return acks
    .filter((a): a is Extract<Ack, { op: 'intent' }> => a.g === g && a.op === 'intent' && !acknowledged.has(`${a.task}@${a.epoch}`))
    .filter((a) => {
      const task = byId.get(a.task);
      return !(task && (task.state === 'leased' || task.state === 'stale') && task.lease?.epoch === a.epoch);
    })
    .map((a) => ({ task: a.task, owner: a.owner, epoch: a.epoch }));
}

/**
 * Feeds every acknowledged lease and lease end, in the order the owners were told, to the
 * checker; the ends a kill left unacknowledged (but durable) count from the end of their
 * generation, before any later generation's claims.
 */
function feed(checker: ReturnType<typeof createInvariantChecker>, acks: Ack[], silentEnds: LeaseEnd[][]) {
  const ended = new Set<string>();
  const newest = new Map<string, number>();
  const end = ({ task, epoch, owner }: LeaseEnd) => {
    if (ended.has(`${task}@${epoch}`)) return;
    checker.ended(task, epoch, owner);
    ended.add(`${task}@${epoch}`);
  };
  // A silent end of a lease that a later acknowledged claim superseded (it expired first) ends nothing.
  const silently = (silent: LeaseEnd) => {
    if (newest.get(silent.task) === silent.epoch) end(silent);
  };
  let generation = 1;
  for (const ack of acks) {
    for (; generation < ack.g; generation++) for (const silent of silentEnds[generation - 1] ?? []) silently(silent);
    if (ack.op === 'claim') {
      checker.acknowledge(ack.lease, ack.lease.acquiredAt, 'claim');
      newest.set(ack.task, ack.epoch);
    } else if (ack.op === 'heartbeat') checker.acknowledge(ack.lease, ack.lease.heartbeatAt, 'renew');
    else if (ack.op === 'extend') checker.acknowledge(ack.lease, ack.before, 'renew');
    else if (ack.op === 'complete' || ack.op === 'fail' || ack.op === 'release') end({ task: ack.task, epoch: ack.epoch, owner: ack.owner });
  }
  for (; generation <= silentEnds.length; generation++) for (const silent of silentEnds[generation - 1] ?? []) silently(silent);
}

function doneTokens(tasks: Seen[]): Set<string> {
  return new Set(tasks.flatMap((t) => t.compensations.filter((c) => c.status === 'done').map((c) => tokenOf(c.args))));
}

/**
 * Compensations done on disk at a kill are never run again, by a later generation or by the
 * take-over; within one process a compensation that ran to its end is not started again; and
 * every one done at a kill had run to its end before it.
 */
function checkRuns(runs: Run[], doneAt: Set<string>[], parentRuns: string[]) {
  const ended = new Map<string, number>();
  for (const run of runs) {
    for (let k = 0; k < run.g - 1; k++) {
      if (run.phase === 'start' && doneAt[k]?.has(run.token)) {
        throw new Error(`compensation ${run.token} was done at kill ${k + 1} and ran again in generation ${run.g}`);
      }
    }
    if (run.phase === 'start' && ended.get(run.token) === run.g) throw new Error(`compensation ${run.token} ran again in generation ${run.g} after it ended`);
    if (run.phase === 'end') ended.set(run.token, run.g);
  }
  doneAt.forEach((done, k) => {
    for (const token of done) {
      const end = ended.get(token);
      if (end === undefined || end > k + 1) throw new Error(`compensation ${token} is done at kill ${k + 1} but never ran to its end before it`);
    }
  });
  const doneEver = new Set(doneAt.flatMap((done) => [...done]));
  for (const token of parentRuns) {
    if (doneEver.has(token)) throw new Error(`compensation ${token} was done at a kill and the take-over ran it again`);
  }
}
