// The process the kill -9 trials kill (run as `node --import tsx test/reliability/worker.ts
// '<config json>'`): a supervisor on a JSON store (plain or journaled) or a PostgreSQL one, on the wall clock, and
// a workload that never ends on its own — a planner creating tasks (some with compensations
// registered up front), owners claiming, heartbeating, extending, registering compensations,
// annotating, completing, failing (retryable or not) and releasing, sometimes abandoning a
// short lease so that it expires and is reclaimed, an operator quarantining now and then, and
// in later generations the owners of leases acknowledged before the previous kill carrying on
// with them. Each acknowledged result is appended to the acks file and fsynced before that
// owner does anything else; each compensation run is recorded in the runs file. Any error but
// an expected lease conflict or terminal task exits the process with status 3 (the trial then
// fails: the parent expects to be the one that ends it, with SIGKILL).
import { createSupervisor, LeaseholdError, type Compensator, type Json, type Lease, type Supervisor } from '../../src/index.js';
import { appender, openLeases, readLines, type Ack, type AckEntry, type WorkerConfig } from './kill-log.js';
import { random, storeKind, type Random } from './support.js';

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const g = config.generation;
const acks = appender(config.acks);
const runs = appender(config.runs);
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Acknowledged (or, for `intent`, about to be attempted): on disk (fsynced) before the owner moves on. */
function ack(entry: AckEntry) {
  acks.write({ g, ...entry });
}

function fatal(error: unknown): never {
  process.stderr.write(`worker generation ${g}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(3);
}

/** Conflicts and terminal tasks are the workload's normal weather; anything else is a failure. */
function expected(error: unknown): boolean {
  if (!(error instanceof LeaseholdError)) return false;
  return error.code === 'LEASE_CONFLICT' || error.code === 'TERMINAL_TASK';
}

// ---------------------------------------------------------------------------------------
// compensations: every run recorded; `flaky` fails its first attempt in each process

const failedOnce = new Set<string>();
const tokenOf = (args: Json) => String((args as { token?: unknown } | null)?.token);
const compensators: Record<string, Compensator> = {
  async undo(args) {
    const token = tokenOf(args);
    runs.write({ g, token, phase: 'start' });
    await pause(1);
    runs.write({ g, token, phase: 'end' });
  },
  async flaky(args) {
    const token = tokenOf(args);
    runs.write({ g, token, phase: 'start' });
    if (!failedOnce.has(token)) {
      failedOnce.add(token);
      runs.write({ g, token, phase: 'fail' });
      throw new Error(`flaky compensation ${token} failed its first attempt`);
    }
    runs.write({ g, token, phase: 'end' });
  },
  // `missing` has no handler on purpose: its task must end quarantined, never compensated.
};

// ---------------------------------------------------------------------------------------
// the workload

let tokens = 0;
const newToken = (who: string) => `g${g}.${who}.${tokens++}`;

/** What an owner does with a lease it holds, until it ends it, loses it or abandons it. */
async function work(sup: Supervisor, owner: string, taskId: string, epoch: number, r: Random) {
  let progress = 0;
  const steps = r.int(5);
  for (let step = 0; step < steps; step++) {
    await pause(r.int(4));
    const before = Date.now();
    try {
      switch (r.pick(['heartbeat', 'heartbeat', 'addCompensation', 'extend', 'annotate'] as const)) {
        case 'heartbeat': {
          progress = Math.min(100, progress + r.between(1, 30));
          const lease = await sup.heartbeat(taskId, { owner, epoch, progress, message: `at ${progress}%` });
          ack({ op: 'heartbeat', task: taskId, owner, epoch, progress, lease, before });
          break;
        }
        case 'addCompensation': {
          const token = newToken(owner);
          const action = r.chance(0.04) ? 'missing' : r.chance(0.3) ? 'flaky' : 'undo';
          await sup.addCompensation(taskId, { owner, epoch, action, args: { token } });
          ack({ op: 'addCompensation', task: taskId, owner, epoch, token, action, before });
          break;
        }
        case 'extend': {
          const lease = await sup.extend(taskId, { owner, epoch, windowMs: r.between(10, 120_000) });
          ack({ op: 'extend', task: taskId, owner, epoch, lease, before });
          break;
        }
        case 'annotate': {
          const key = newToken(owner);
          const value = r.int(1000);
          await sup.annotate(taskId, { [key]: value });
          ack({ op: 'annotate', task: taskId, key, value, before });
          break;
        }
      }
    } catch (error) {
      if (!expected(error)) fatal(error);
      if ((error as { reason?: string }).reason === 'not_extending') continue;
      return;
    }
  }
  await pause(r.int(4));
  const before = Date.now();
  const end = r.next();
  // Logged before the call: should the kill come after the call is durable but before its
  // acknowledgement is logged, the checker knows the lease may have ended.
  if (end < 0.85) ack({ op: 'intent', task: taskId, owner, epoch, end: end < 0.4 ? 'complete' : end < 0.7 ? 'fail' : 'release', before });
  try {
    if (end < 0.4) {
      const result = { by: owner, epoch, n: r.int(100) };
      await sup.complete(taskId, { owner, epoch, result });
      ack({ op: 'complete', task: taskId, owner, epoch, result, before });
    } else if (end < 0.7) {
      const retryable = end >= 0.55;
      await sup.fail(taskId, { owner, epoch, error: `attempt ${epoch} failed`, retryable });
      ack({ op: 'fail', task: taskId, owner, epoch, retryable, before });
    } else if (end < 0.85) {
      await sup.release(taskId, { owner, epoch, reason: 'handing back' });
      ack({ op: 'release', task: taskId, owner, epoch, before });
    }
    // else: abandoned; the lease runs out (a short one here, a long one in the checker's hour).
  } catch (error) {
    if (!expected(error)) fatal(error);
  }
}

async function ownerLoop(sup: Supervisor, owner: string, r: Random) {
  for (;;) {
    const before = Date.now();
    let lease: Lease | null;
    try {
      lease = await sup.claimNext({ owner, ...(r.chance(0.3) && { leaseMs: r.between(15, 80) }) });
    } catch (error) {
      if (!expected(error)) fatal(error);
      continue;
    }
    if (!lease) {
      await pause(r.between(1, 5));
      continue;
    }
    ack({ op: 'claim', task: lease.taskId, owner, epoch: lease.epoch, lease, before });
    await work(sup, owner, lease.taskId, lease.epoch, r);
  }
}

async function planner(sup: Supervisor, r: Random) {
  for (let n = 0; n < config.maxTasks; ) {
    if (sup.list({ state: 'planned' }).length < 6) {
      const id = `t${g}-${n++}`;
      const tokens = r.chance(0.3) ? [newToken('plan')] : [];
      const before = Date.now();
      try {
        await sup.create({
          id,
          spec: { n },
          priority: r.pick(['critical', 'high', 'medium', 'low'] as const),
          labels: r.chance(0.3) ? ['backend'] : [],
          compensations: tokens.map((token) => ({ action: 'undo', args: { token } })),
        });
      } catch (error) {
        fatal(error);
      }
      ack({ op: 'create', task: id, tokens, before });
    }
    await pause(r.between(1, 6));
  }
}

async function operator(sup: Supervisor, r: Random) {
  for (;;) {
    await pause(r.between(20, 60));
    const tasks = sup.list();
    if (tasks.length === 0) continue;
    const task = r.pick(tasks);
    const before = Date.now();
    try {
      if (r.chance(0.3) && !['completed', 'compensated', 'quarantined', 'failed'].includes(task.state)) {
        await sup.quarantine(task.id, { by: 'operator', reason: 'poison' });
        ack({ op: 'quarantine', task: task.id, by: 'operator', before });
      } else {
        const key = `g${g}.operator.${r.int(1_000_000)}`;
        const value = r.int(1000);
        await sup.annotate(task.id, { [key]: value });
        ack({ op: 'annotate', task: task.id, key, value, before });
      }
    } catch (error) {
      if (!expected(error)) fatal(error);
    }
  }
}

// ---------------------------------------------------------------------------------------

/**
 * A lock whose holder was killed between creating the lock directory and writing its owner
 * sidecar cannot be judged by pid; it is taken over once its mtime goes stale (documented).
 */
async function openWaitingForStaleLock(open: () => Promise<Supervisor>): Promise<Supervisor> {
  for (let waited = 0; ; waited += 250) {
    try {
      return await open();
    } catch (error) {
      if (!(error instanceof LeaseholdError) || error.code !== 'STORE_LOCKED' || waited > 10_000) throw error;
      if (waited === 0) process.stdout.write('waiting for a stale lock\n');
      await pause(250);
    }
  }
}

async function main() {
  const r = random(config.seed);
  // Leases acknowledged to owners before the previous kill: those owners carry on with them.
  const inherited = openLeases(readLines<Ack>(config.acks));
  process.stdout.write('opening\n');
  const sup = await openWaitingForStaleLock(() => createSupervisor({
    store: storeKind(config.kind).make(config.store, { ...(config.compactBytes !== undefined && { compactBytes: config.compactBytes }) }),
    compensators,
    schedule: false,
    logger: { warn: (message, ...details) => process.stderr.write(`warn: ${message} ${details.map(String).join(' ')}\n`) },
    defaults: {
      leaseMs: 60_000,
      graceMs: 20,
      maxAttempts: 3,
      maxStale: 3,
      retryBackoffMs: 5,
      maxRetryBackoffMs: 20,
      compensationAttempts: 3,
      compensationBackoffMs: 5,
    },
  }));
  process.stdout.write('ready\n');
  const loops: Promise<unknown>[] = [planner(sup, r.fork(1)), operator(sup, r.fork(2))];
  for (let i = 0; i < config.owners; i++) loops.push(ownerLoop(sup, `g${g}-o${i}`, r.fork(10 + i)));
  inherited.forEach((lease, i) => {
    if (r.chance(0.7)) loops.push(work(sup, lease.owner, lease.task, lease.epoch, r.fork(1000 + i)));
  });
  await Promise.all(loops);
}

main().catch(fatal);
