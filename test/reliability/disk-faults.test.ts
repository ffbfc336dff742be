// Disk faults (issue 7, item 3): a write that fails — an injected failing store, a directory
// squatting on steno's temp file (works as root, who ignores permission bits), a full tmpfs
// (when this process may mount one) — must reject the call behind it with STORE_WRITE_FAILED,
// leave memory where the disk is (sup.get/list show the state from before the call), leave
// the store's files as they were, keep reads and write-free calls working, run no
// compensation for a failure that was never acknowledged, and recover once the disk does: the
// same call then succeeds, and a restart shows exactly what memory showed. Every public call
// that writes is tried against every fault, on every store kind this build has.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSupervisor,
  LeaseholdError,
  type Compensator,
  type LifecycleEventType,
  type Store,
  type Supervisor,
  type TaskView,
} from '../../src/index.js';
import { LIFECYCLE_EVENTS } from '../../src/index.js';
import { createTestClock, type TestClock } from '../../src/testing.js';
import { createInvariantChecker } from '../invariants.js';
import { rejection } from '../support.js';
import { filesOf, report, storeKinds, tempDir, type StoreKind } from './support.js';

const T0 = Date.UTC(2026, 0, 1);
const LEASE_MS = 60_000;

// ---------------------------------------------------------------------------------------
// faults

interface Fault {
  name: string;
  /** Why this fault cannot run here, if it cannot. */
  unavailable?(kind: StoreKind): string | undefined;
  /** The folder the store lives in (a tmpfs for the full-disk fault). */
  folder(): { dir: string; remove: () => void };
  /** Wraps the store (the injected fault) or returns it as is. */
  wrap(store: Store): Store;
  break(dir: string): void;
  heal(dir: string): void;
}

/** Injected: the store's commit rejects, as a full disk or EACCES would make it. */
function injectedFault(): Fault {
  let failing = false;
  return {
    name: 'injected commit failure',
    folder: () => tempDir('disk-fault'),
    wrap: (inner) => ({
      location: inner.location,
      open: () => inner.open(),
      close: () => inner.close(),
      commit: (changes) =>
        failing ? Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })) : inner.commit(changes),
    }),
    break: () => void (failing = true),
    heal: () => void (failing = false),
  };
}

/** Real: steno writes `.store.json.tmp` and renames it into place; a directory there fails the write. */
function tempPathFault(): Fault {
  return {
    name: 'directory squatting on the temp file',
    unavailable: (kind) => (kind.name === 'json' ? undefined : 'only the plain JSON store writes through a temp file'),
    folder: () => tempDir('disk-fault'),
    wrap: (store) => store,
    break: (dir) => mkdirSync(join(dir, '.store.json.tmp')),
    heal: (dir) => rmSync(join(dir, '.store.json.tmp'), { recursive: true, force: true }),
  };
}

/**
 * Real: a tiny tmpfs filled to the last byte (needs the right to mount; skipped otherwise).
 * Only for the plain JSON store, whose every write is a new temp file: a journal append may
 * still fit in the slack of the journal's last allocated page (see the journal test below).
 */
function fullDiskFault(mountpoint: () => string | undefined): Fault {
  let count = 0;
  let filler: string | undefined;
  return {
    name: 'full tmpfs (ENOSPC)',
    unavailable: (kind) =>
      !mountpoint()
        ? 'cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)'
        : kind.name !== 'json'
          ? 'a journal append can fit in its last page; covered by its own test'
          : undefined,
    folder: () => {
      const dir = join(mountpoint()!, `case-${count++}`);
      mkdirSync(dir);
      return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
    },
    wrap: (store) => store,
    break: (dir) => {
      filler = join(dir, '..', `filler-${count}`);
      fill(filler);
    },
    heal: () => {
      if (filler) rmSync(filler, { force: true });
      filler = undefined;
    },
  };
}

/** Writes `path` until the file system is full. */
function fill(path: string) {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(4096, 120);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  // The last partial block too.
  const tail = openSync(path, 'a');
  try {
    for (;;) writeSync(tail, Buffer.alloc(1, 120));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(tail);
  }
}

let tmpfs: { dir: string; remove: () => void } | undefined;
let mounted = false;
beforeAll(() => {
  tmpfs = tempDir('tmpfs');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', tmpfs.dir], { stdio: 'pipe' });
    mounted = true;
  } catch {
    report('disk faults: a tmpfs cannot be mounted here; the full-disk variant is skipped');
  }
});
afterAll(() => {
  if (mounted) {
    try {
      execFileSync('umount', [tmpfs!.dir], { stdio: 'pipe' });
    } catch {
      // Still busy (a test that timed out may hold a file open): detach it anyway.
      execFileSync('umount', ['-l', tmpfs!.dir], { stdio: 'pipe' });
    }
  }
  tmpfs?.remove();
});

// ---------------------------------------------------------------------------------------
// the calls under trial

interface Subject {
  sup: Supervisor;
  clock: TestClock;
  /** How many times each compensator ran. */
  runs: string[];
}

/** A public call that writes: `setup` brings task `x` to where the call applies, `call` makes it. */
interface WriteCall {
  name: string;
  setup(s: Subject): Promise<() => Promise<unknown>>;
  /** What a successful call must have done (checked on the retry after the disk is back). */
  expect(view: TaskView | undefined, result: unknown): void;
}

async function leased(s: Subject) {
  await s.sup.create({ id: 'x', compensations: [{ action: 'undo', args: { step: 'created' } }] });
  const lease = await s.sup.claim('x', { owner: 'agent', leaseMs: LEASE_MS });
  await bounded(s.clock.advance(1_000), 'clock.advance()');
  return lease;
}

const WRITE_CALLS: WriteCall[] = [
  {
    name: 'create',
    setup: async (s) => () => s.sup.create({ id: 'x', spec: { branch: 'b' }, compensations: [{ action: 'undo' }] }),
    expect: (view) => expect(view).toMatchObject({ state: 'planned', spec: { branch: 'b' } }),
  },
  {
    name: 'claim',
    setup: async (s) => {
      await s.sup.create({ id: 'x' });
      return () => s.sup.claim('x', { owner: 'agent' });
    },
    expect: (view, lease) => {
      expect(view).toMatchObject({ state: 'leased', epoch: 1 });
      expect(lease).toMatchObject({ owner: 'agent', epoch: 1 });
    },
  },
  {
    name: 'claimNext',
    setup: async (s) => {
      await s.sup.create({ id: 'x' });
      return () => s.sup.claimNext({ owner: 'agent' });
    },
    expect: (view, lease) => {
      expect(view).toMatchObject({ state: 'leased', epoch: 1 });
      expect(lease).toMatchObject({ taskId: 'x', epoch: 1 });
    },
  },
  {
    name: 'heartbeat',
    setup: async (s) => {
      const lease = await leased(s);
      return () => s.sup.heartbeat('x', { owner: 'agent', epoch: lease.epoch, progress: 40, message: 'halfway' });
    },
    expect: (view) => expect(view).toMatchObject({ state: 'leased', progress: 40, message: 'halfway' }),
  },
  {
    name: 'extend',
    setup: async (s) => {
      const lease = await leased(s);
      return () => s.sup.extend('x', { owner: 'agent', epoch: lease.epoch, windowMs: 10 * LEASE_MS });
    },
    expect: (view, lease) => expect(view?.lease?.expiresAt).toBe((lease as { expiresAt: number }).expiresAt),
  },
  {
    name: 'addCompensation',
    setup: async (s) => {
      const lease = await leased(s);
      return () => s.sup.addCompensation('x', { owner: 'agent', epoch: lease.epoch, action: 'undo', args: { step: 'pushed' } });
    },
    expect: (view) => expect(view?.compensations.map((c) => c.args)).toEqual([{ step: 'created' }, { step: 'pushed' }]),
  },
  {
    name: 'complete',
    setup: async (s) => {
      const lease = await leased(s);
      return () => s.sup.complete('x', { owner: 'agent', epoch: lease.epoch, result: { pr: 42 } });
    },
    expect: (view) => expect(view).toMatchObject({ state: 'completed', terminal: { result: { pr: 42 } } }),
  },
  {
    name: 'fail (compensations run)',
    setup: async (s) => {
      const lease = await leased(s);
      return () => s.sup.fail('x', { owner: 'agent', epoch: lease.epoch, error: 'CI is down' });
    },
    expect: (view) => expect(view).toMatchObject({ state: 'compensated', failure: { error: 'CI is down' } }),
  },
  {
    name: 'fail (retryable)',
    setup: async (s) => {
      const lease = await leased(s);
      return () => s.sup.fail('x', { owner: 'agent', epoch: lease.epoch, error: 'flaky', retryable: true });
    },
    expect: (view) => expect(view).toMatchObject({ substate: 'planned.backoff' }),
  },
  {
    name: 'release',
    setup: async (s) => {
      const lease = await leased(s);
      return () => s.sup.release('x', { owner: 'agent', epoch: lease.epoch, reason: 'out of budget' });
    },
    expect: (view) => expect(view).toMatchObject({ state: 'planned', lease: null }),
  },
  {
    name: 'quarantine',
    setup: async (s) => {
      await leased(s);
      return () => s.sup.quarantine('x', { by: 'ops', reason: 'poison' });
    },
    expect: (view) => expect(view).toMatchObject({ state: 'quarantined' }),
  },
  {
    name: 'annotate',
    setup: async (s) => {
      await s.sup.create({ id: 'x' });
      return () => s.sup.annotate('x', { ticket: 'OPS-12', constructor: { prototype: 1 } });
    },
    expect: (view) => expect(view?.metadata).toEqual({ ticket: 'OPS-12', constructor: { prototype: 1 } }),
  },
];

// ---------------------------------------------------------------------------------------

const counts = { rejected: 0, recovered: 0, skipped: new Set<string>() };
afterAll(() => {
  report(
    `disk faults: ${counts.rejected} failed writes rejected with STORE_WRITE_FAILED and memory at the durable state, ` +
      `${counts.recovered} recovered after the disk came back` +
      (counts.skipped.size > 0 ? `; skipped: ${[...counts.skipped].join('; ')}` : ''),
  );
});

const faults: Fault[] = [injectedFault(), tempPathFault(), fullDiskFault(() => (mounted ? tmpfs!.dir : undefined))];

for (const kind of storeKinds()) {
  describe(`disk faults on the ${kind.name} store`, () => {
    for (const fault of faults) {
      describe(fault.name, () => {
        for (const call of WRITE_CALLS) {
          it(`${call.name}: rejects with STORE_WRITE_FAILED, memory stays at the disk, reads keep working, and it recovers`, async (ctx) => {
            const why = fault.unavailable?.(kind);
            if (why) {
              counts.skipped.add(`${fault.name} on ${kind.name} (${why})`);
              ctx.skip();
              return;
            }
            await trial(kind, fault, call);
          });
        }
      });
    }
  });
}

async function trial(kind: StoreKind, fault: Fault, call: WriteCall) {
  const folder = fault.folder();
  const file = join(folder.dir, 'store.json');
  const clock = createTestClock(T0);
  const runs: string[] = [];
  const compensators: Record<string, Compensator> = { undo: (args) => void runs.push(JSON.stringify(args)) };
  const heard: LifecycleEventType[] = [];
  const on = Object.fromEntries(LIFECYCLE_EVENTS.map((type) => [type, () => heard.push(type)]));
  const open = () => createSupervisor({ store: fault.wrap(kind.make(file)), clock, compensators, schedule: false, logger: quiet, on });
  const sup = await open();
  let restarted: Supervisor | undefined;
  const checker = createInvariantChecker();
  try {
    const subject: Subject = { sup, clock, runs };
    const run = await call.setup(subject);
    await bounded(clock.settle(), 'clock.settle() after the setup');
    const before = sup.list();
    const files = dataFiles(folder.dir);
    const heardBefore = heard.length;
    const runsBefore = runs.length;
    checker.check(sup, clock.now());

    fault.break(folder.dir);
    let error: unknown;
    try {
      await run();
    } catch (caught) {
      error = caught;
    }
    await bounded(clock.settle(), 'clock.settle() after the failed write');
    expect(error, 'the call must reject while the disk fails').toBeInstanceOf(LeaseholdError);
    expect((error as LeaseholdError).code).toBe('STORE_WRITE_FAILED');
    // Memory is not ahead of disk: every task reads as it did before the call.
    expect(sup.list(), 'memory ran ahead of the disk').toEqual(before);
    expect(dataFiles(folder.dir), 'a failed call changed the store files').toEqual(files);
    expect(heard.length, 'an event was published for a change that never reached the disk').toBe(heardBefore);
    expect(runs.length, 'a compensation ran for a failure that was never acknowledged').toBe(runsBefore);
    // Reads and calls that need no write keep working.
    expect(sup.get('x')).toEqual(before.find((t) => t.id === 'x'));
    expect(sup.stats().total).toBe(before.length);
    expect(await sup.claimNext({ owner: 'other', labels: ['no-such-label'] })).toBeNull();
    if (before.some((t) => t.id === 'x')) {
      expect((await rejection(sup.claim('x', { owner: 'other', leaseMs: -1 }))).code).toBe('INVALID_INPUT');
    }
    checker.check(sup, clock.now());
    counts.rejected++;

    fault.heal(folder.dir);
    const result = await bounded(run(), 'the same call once the disk is back');
    await bounded(clock.settle(), 'clock.settle() once the disk is back');
    call.expect(sup.get('x'), result);
    checker.check(sup, clock.now());
    const after = sup.list();
    await bounded(sup.close(), 'close()');
    restarted = await open();
    expect(restarted.list(), 'the recovered state is not what reached the disk').toEqual(after);
    checker.check(restarted, clock.now());
    counts.recovered++;
  } finally {
    fault.heal(folder.dir);
    await bounded(sup.close(), 'close()').catch(() => undefined);
    await restarted?.close();
    folder.remove();
  }
}

/** The store's data files, without temp files a failed write may leave behind. */
function dataFiles(dir: string) {
  return new Map([...filesOf(dir)].filter(([name]) => !name.endsWith('.tmp') && !name.startsWith('filler')));
}

const quiet = { warn: () => {} };

/**
 * Fails fast, naming the step, instead of hanging until the test times out: after a failed
 * write the supervisor backs off on its clock, and the test clock has to be able to settle
 * and move time past that.
 */
async function bounded<T>(step: Promise<T>, what: string, ms = 3_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms of real time (hung)`)), ms);
  });
  try {
    return await Promise.race([step, hung]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------
// a full disk under the journal

describe('a full disk under the journaled store', () => {
  it('refuses an append that needs a new page with STORE_WRITE_FAILED, keeps memory at the disk, and recovers', async (ctx) => {
    const journal = storeKinds().find((k) => k.name === 'journal');
    if (!mounted || !journal) {
      counts.skipped.add(`full tmpfs on the journal (${mounted ? 'no journaled store in this build' : 'cannot mount a tmpfs here'})`);
      ctx.skip();
      return;
    }
    const dir = join(tmpfs!.dir, 'journal-case');
    mkdirSync(dir);
    const clock = createTestClock(T0);
    const open = () => createSupervisor({ store: journal.make(join(dir, 'store.json')), clock, schedule: false, logger: quiet });
    const sup = await open();
    const filler = join(tmpfs!.dir, 'journal-filler');
    try {
      await sup.create({ id: 'x' });
      const before = sup.list();
      const files = dataFiles(dir);
      fill(filler);
      // Bigger than any slack in the journal's last page: the append needs new blocks.
      const big = { notes: 'n'.repeat(3 * 4096) };
      const error = await rejection(sup.annotate('x', big));
      expect(error.code).toBe('STORE_WRITE_FAILED');
      expect(sup.list()).toEqual(before);
      expect(dataFiles(dir), 'a failed append left bytes in the journal').toEqual(files);
      rmSync(filler, { force: true });
      await sup.annotate('x', big);
      const after = sup.list();
      await sup.close();
      const again = await open();
      expect(again.list()).toEqual(after);
      await again.close();
      counts.rejected++;
      counts.recovered++;
    } finally {
      rmSync(filler, { force: true });
      await sup.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------
// work that is not a call, whose write fails: no hot loop while the disk is down

/**
 * A JSON store that fails every commit from the `failFrom`-th on while `failing`, and heals
 * itself after MAX failures, so that a retry storm ends (and is reported) instead of hanging.
 */
function stormStore(file: string) {
  const MAX = 200;
  const state = { failing: false, failFrom: 0, commits: 0, failures: 0, healedItself: false };
  const inner = storeKinds()[0]!.make(file);
  const store: Store = {
    location: inner.location,
    open: () => inner.open(),
    close: () => inner.close(),
    commit: (changes) => {
      state.commits++;
      if (!state.failing || state.commits < state.failFrom) return inner.commit(changes);
      if (++state.failures >= MAX) {
        state.failing = false;
        state.healedItself = true;
      }
      return Promise.reject(new Error('EIO: i/o error, write'));
    },
  };
  return { store, state, MAX };
}

describe('work that is not a call, whose write fails', () => {
  it('a due lease expiry is rolled back, does not retry in a hot loop while the disk is down, and lands once it is back', async () => {
    const folder = tempDir('disk-fault');
    const file = join(folder.dir, 'store.json');
    const clock = createTestClock(T0);
    const { store, state } = stormStore(file);
    const sup = await createSupervisor({ store, clock, schedule: false, logger: quiet, defaults: { leaseMs: 1_000, graceMs: 500 } });
    try {
      await sup.create({ id: 'x' });
      const lease = await sup.claim('x', { owner: 'agent' });
      state.failing = true;
      // One simulated second with the disk down: the expiry is due the whole time.
      await bounded(clock.advance(1_000), 'clock.advance() with the disk down');
      const duringFault = state.failures;
      state.failing = false;
      await bounded(clock.advance(10), 'clock.advance() once the disk is back');
      await sup.create({ id: 'y' });
      await bounded(clock.settle(), 'clock.settle() once the disk is back');
      // Once the disk is back the expiry is durable, at its stored deadline.
      const view = sup.get('x')!;
      expect(view.state).toBe('stale');
      expect(view.audit.find((a) => a.event === 'expired')?.at).toBe(lease.expiresAt);
      const after = sup.list();
      await sup.close();
      const again = await createSupervisor({ store: storeKinds()[0]!.make(file), clock, schedule: false, logger: quiet });
      expect(again.list()).toEqual(after);
      await again.close();
      report(`disk faults: a due lease expiry attempted ${duringFault} failed writes in one simulated second with the disk down`);
      // A down disk should cost a few retries per second, not a write per event-loop turn.
      expect(state.healedItself, `the expiry retried its write in a hot loop (${duringFault} failed writes in 1 s of clock time)`).toBe(false);
      expect(duringFault).toBeLessThanOrEqual(20);
    } finally {
      state.failing = false;
      await bounded(sup.close(), 'close()').catch(() => undefined);
      folder.remove();
    }
  });

  it('a compensation whose attempt cannot be recorded does not retry in a hot loop, and runs once the disk is back', async () => {
    const folder = tempDir('disk-fault');
    const file = join(folder.dir, 'store.json');
    const clock = createTestClock(T0);
    const { store, state } = stormStore(file);
    const runs: string[] = [];
    const sup = await createSupervisor({
      store,
      clock,
      schedule: false,
      logger: quiet,
      compensators: { undo: () => void runs.push('undo') },
      defaults: { compensationAttempts: 3, compensationBackoffMs: 100 },
    });
    try {
      await sup.create({ id: 'x', compensations: [{ action: 'undo' }] });
      const lease = await sup.claim('x', { owner: 'agent' });
      // The failure is acknowledged; every write after it (the ledger's "running") fails.
      state.failing = true;
      state.failFrom = state.commits + 2;
      await sup.fail('x', { owner: 'agent', epoch: lease.epoch, error: 'boom' });
      await bounded(clock.advance(1_000), 'clock.advance() with the disk down');
      const duringFault = state.failures;
      const healedItself = state.healedItself;
      state.failing = false;
      await bounded(clock.advance(10_000), 'clock.advance() once the disk is back');
      report(`disk faults: a compensation attempt that could not be recorded made ${duringFault} failed writes in one simulated second`);
      expect(runs.length, 'a compensation ran although its attempt was never recorded').toBeLessThanOrEqual(1);
      expect(healedItself, `the compensation retried its write in a hot loop (${duringFault} failed writes in 1 s of clock time)`).toBe(false);
      expect(duringFault).toBeLessThanOrEqual(20);
      expect(['compensated', 'quarantined']).toContain(sup.get('x')!.state);
    } finally {
      state.failing = false;
      await bounded(sup.close(), 'close()').catch(() => undefined);
      folder.remove();
    }
  });
});
