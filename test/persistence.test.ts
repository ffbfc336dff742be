// Durability: what survives a restart (invariant 6), what reaches the file and when
// (invariant 5), and how a locked or damaged store is refused. Every supervisor here runs on
// a real JSON file (test/support.ts) except the memoryStore test at the end; vitest.config.ts
// runs the file twice, on the plain JSON store and on the journaled one.
import { describe, expect, it } from 'vitest';
import {
  createSupervisor,
  memoryStore,
  type Compensator,
  type Store,
  type Supervisor,
  type TaskView,
} from '../src/index.js';
import { createTestClock } from '../src/testing.js';
import { createInvariantChecker } from './invariants.js';
import { harness, rejection, T0, type Harness } from './support.js';

// ---------------------------------------------------------------------------------------
// helpers

interface StoredTask {
  state: unknown;
  context: Record<string, unknown> & { epoch: number; compensations: { action: string; status: string; attempts: number }[] };
}
/** What is durable right now: the snapshot, with the journal replayed for a journaled store. */
const onDisk = (h: Harness) => h.durable<StoredTask>();
const storedTask = (h: Harness, id: string): StoredTask => {
  const task = onDisk(h).tasks[id];
  if (!task) throw new Error(`task ${id} is not in the store file`);
  return task;
};

/** A Store that forwards to `inner` and records the task ids of every commit, in order. */
function countingStore(inner: Store) {
  const commits: string[][] = [];
  const store: Store = {
    location: inner.location,
    open: () => inner.open(),
    commit: (changes) => {
      commits.push([...changes.keys()]);
      return inner.commit(changes);
    },
    close: () => inner.close(),
  };
  return { store, commits };
}

/** Restarts `h` on the same file through a counting store. */
async function reopenCounting(h: Harness) {
  const counting = countingStore(h.store());
  await h.restart({ store: counting.store });
  return counting.commits;
}

/** Closes the supervisor, lets `ms` pass with no process running, and opens it again. */
async function downFor(h: Harness, ms: number): Promise<Supervisor> {
  await h.sup.close();
  expect(h.clock.pendingTimers, 'a closed supervisor left timers armed').toBe(0);
  await h.clock.advance(ms);
  return h.restart();
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

const byId = (views: TaskView[]) => [...views].sort((a, b) => a.id.localeCompare(b.id));
const auditOf = (view: TaskView | undefined, event: string) => view?.audit.filter((entry) => entry.event === event) ?? [];

async function expectCode(promise: Promise<unknown>, code: string, reason?: string) {
  const error = await rejection(promise);
  expect(error.code).toBe(code);
  if (reason !== undefined) expect(error.reason).toBe(reason);
  return error;
}

// ---------------------------------------------------------------------------------------

describe('restart preserves every task', () => {
  it('reopens with identical views: state, lease, heartbeat, progress, ledger, epochs, recovery, terminal, metadata, audit', async () => {
    const compensators: Record<string, Compensator> = {
      undo: async () => {},
      boom: async () => {
        throw new Error('boom');
      },
    };
    const h = await harness({ compensators, defaults: { graceMs: 1_000 } });
    const { sup } = h;
    const checker = createInvariantChecker();
    const long = 60_000;

    await sup.create({
      id: 'rich',
      spec: { worktree: '/w/rich', branch: 'feat/rich' },
      priority: 'high',
      labels: ['gpu', 'linux'],
      compensations: [{ action: 'undo', args: { step: 1 } }],
    });
    await sup.create({ id: 'recovered' });
    await sup.create({ id: 'grace', graceMs: 100_000 });
    await sup.create({ id: 'done' });
    // undo (newest) succeeds, boom then fails its only attempt: a done and a failed entry
    await sup.create({ id: 'ledger', compensations: [{ action: 'boom' }, { action: 'undo' }], compensationAttempts: 1 });
    await sup.create({ id: 'retrying', compensations: [{ action: 'boom' }], compensationBackoffMs: long });
    await sup.create({ id: 'backoff', retryBackoffMs: long });

    await sup.claim('recovered', { owner: 'w1', leaseMs: 1_000 });
    await sup.claim('grace', { owner: 'w1', leaseMs: 1_500 });
    await h.clock.advance(100);
    await sup.heartbeat('recovered', { owner: 'w1', epoch: 1, progress: 30, message: 'tests written' });
    await h.clock.advance(2_500);
    await sup.claim('recovered', { owner: 'w2', leaseMs: long });

    await sup.claim('rich', { owner: 'w1', leaseMs: long });
    await h.clock.advance(100);
    await sup.heartbeat('rich', { owner: 'w1', epoch: 1, progress: 40, message: 'halfway' });
    await sup.addCompensation('rich', { owner: 'w1', epoch: 1, action: 'undo', args: { step: 2 } });
    await sup.annotate('rich', { ticket: 'T-1', nested: { list: [1, 'two', null] } });

    const done = await sup.claim('done', { owner: 'w3' });
    await sup.complete('done', { owner: 'w3', epoch: done.epoch, result: { commit: 'abc123' } });
    await sup.annotate('done', { reviewed: true });

    for (const id of ['ledger', 'retrying', 'backoff']) await sup.claim(id, { owner: 'w4' });
    await sup.fail('ledger', { owner: 'w4', epoch: 1, error: 'tests broke' });
    await sup.fail('retrying', { owner: 'w4', epoch: 1, error: 'disk full' });
    await sup.fail('backoff', { owner: 'w4', epoch: 1, error: 'flaky', retryable: true });
    await h.clock.settle();
    checker.check(sup, h.clock.now());

    const before = byId(sup.list());
    // The scenario is only a test of persistence if it reached every interesting state.
    expect(Object.fromEntries(before.map((t) => [t.id, t.substate]))).toEqual({
      backoff: 'planned.backoff',
      done: 'completed',
      grace: 'stale.grace',
      ledger: 'quarantined',
      recovered: 'leased',
      retrying: 'failed.retrying',
      rich: 'leased',
    });
    const ledger = before.find((t) => t.id === 'ledger')!;
    expect(ledger.compensations.map((c) => [c.action, c.status, c.attempts])).toEqual([
      ['boom', 'failed', 1],
      ['undo', 'done', 1],
    ]);
    expect(before.find((t) => t.id === 'recovered')!.recovery).toMatchObject({ previousOwner: 'w1', progress: 30 });
    const stats = sup.stats();

    await h.restart();
    expect(byId(h.sup.list())).toEqual(before);
    // Counts derived from the tasks survive a restart; the event counters and history start afresh.
    const durable = ({ total, byState, expiringSoon }: typeof stats) => ({ total, byState, expiringSoon });
    expect(durable(h.sup.stats())).toEqual(durable(stats));
    checker.check(h.sup, h.clock.now());
  });
});

describe('timers after a restart (invariant 6)', () => {
  it('a lease that expired while the supervisor was down is stale at once, audited at its stored deadline', async () => {
    const h = await harness();
    await h.sup.create({ id: 'in-grace', graceMs: 10_000 });
    await h.sup.create({ id: 'past-grace', graceMs: 500 });
    await h.sup.create({ id: 'alive' });
    await h.sup.claim('in-grace', { owner: 'w1', leaseMs: 1_000 });
    await h.sup.claim('past-grace', { owner: 'w2', leaseMs: 1_000 });
    await h.sup.claim('alive', { owner: 'w3', leaseMs: 60_000 });

    const sup = await downFor(h, 3_000);
    const restartedAt = T0 + 3_000;

    const inGrace = sup.get('in-grace')!;
    expect(inGrace.substate).toBe('stale.grace');
    expect(inGrace.staleCount).toBe(1);
    expect(inGrace.lease).toMatchObject({ owner: 'w1', epoch: 1, expiresAt: T0 + 1_000, graceEndsAt: T0 + 11_000 });
    expect(auditOf(inGrace, 'expired')).toEqual([{ at: T0 + 1_000, event: 'expired', owner: 'w1', epoch: 1 }]);
    await expectCode(sup.claim('in-grace', { owner: 'w9' }), 'LEASE_CONFLICT', 'in_grace');

    const pastGrace = sup.get('past-grace')!;
    expect(pastGrace.substate).toBe('stale.expired');
    expect(auditOf(pastGrace, 'expired').map((e) => e.at)).toEqual([T0 + 1_000]);
    expect(auditOf(pastGrace, 'grace-ended').map((e) => e.at)).toEqual([T0 + 1_500]);
    expect(pastGrace.audit.every((e) => e.at < restartedAt)).toBe(true);

    expect(sup.get('alive')!.substate).toBe('leased');
    // ... and the restart's own changes are on disk.
    expect(storedTask(h, 'in-grace').state).toEqual({ stale: 'grace' });
    expect(storedTask(h, 'past-grace').state).toEqual({ stale: 'expired' });
  });

  it('deadlines that passed while down fire oldest first, whatever the order in the file', async () => {
    const h = await harness({ defaults: { graceMs: 100_000 } });
    // Stored in the order a, b, c; due in the order c, a, b.
    const leases = { a: 3_000, b: 5_000, c: 1_000 };
    for (const [id, leaseMs] of Object.entries(leases)) {
      await h.sup.create({ id });
      await h.sup.claim(id, { owner: `w-${id}`, leaseMs });
    }
    await h.sup.close();
    expect(Object.keys(onDisk(h).tasks)).toEqual(['a', 'b', 'c']);
    await h.clock.advance(10_000);

    const commits = await reopenCounting(h);
    // Opening rewrites nothing by itself; the expiries change the tasks in firing order.
    expect(commits.flat()).toEqual(['c', 'a', 'b']);
    for (const [id, leaseMs] of Object.entries(leases)) {
      const view = h.sup.get(id)!;
      expect(view.substate).toBe('stale.grace');
      expect(auditOf(view, 'expired').map((e) => e.at)).toEqual([T0 + leaseMs]);
    }
  });

  it('listeners given to createSupervisor hear the expiries that fire at start, oldest first', async () => {
    const h = await harness({ defaults: { graceMs: 100_000 } });
    for (const [id, leaseMs] of [['a', 3_000], ['b', 5_000], ['c', 1_000]] as const) {
      await h.sup.create({ id });
      await h.sup.claim(id, { owner: `w-${id}`, leaseMs });
    }
    await h.sup.close();
    await h.clock.advance(10_000);
    const heard: string[] = [];
    await h.restart({ on: { expired: (e) => heard.push(`${e.taskId}@${e.at - T0}`) } });
    expect(heard).toEqual(['c@1000', 'a@3000', 'b@5000']);
  });

  it('poison tasks whose grace also passed while down are quarantined at their own deadlines', async () => {
    const h = await harness({ defaults: { maxStale: 1, graceMs: 1_000 } });
    for (const [id, leaseMs] of [['late', 4_000], ['early', 2_000]] as const) {
      await h.sup.create({ id });
      await h.sup.claim(id, { owner: 'w', leaseMs });
    }
    const sup = await downFor(h, 20_000);
    expect(sup.get('early')!.terminal).toMatchObject({ state: 'quarantined', at: T0 + 3_000, by: 'supervisor' });
    expect(sup.get('late')!.terminal).toMatchObject({ state: 'quarantined', at: T0 + 5_000, by: 'supervisor' });
    expect(sup.get('late')!.lease).toBeNull();
  });

  it('a restored lease still expires exactly on time (its timer is re-armed)', async () => {
    const h = await harness();
    await h.sup.create({ id: 't' });
    const lease = await h.sup.claim('t', { owner: 'w', leaseMs: 10_000 });
    await h.clock.advance(4_000);
    await h.sup.heartbeat('t', { owner: 'w', epoch: 1 });
    const expiresAt = h.sup.get('t')!.lease!.expiresAt;
    expect(expiresAt).toBe(lease.acquiredAt + 14_000);

    await h.restart();
    // XState's persisted snapshot carries no `after` timers: these were armed by the restore.
    expect(h.clock.pendingTimers).toBeGreaterThan(0);
    expect(h.clock.nextTimerAt()).toBe(expiresAt);

    await h.clock.advanceTo(expiresAt - 1);
    expect(h.sup.get('t')!.substate).toBe('leased');
    await h.clock.advance(1);
    expect(h.sup.get('t')!.substate).toBe('stale.grace');
    expect(storedTask(h, 't').state).toEqual({ stale: 'grace' });
  });

  it('many restored leases wait behind one timer, each still expiring on time; a call resumes its task early', async () => {
    const h = await harness({ defaults: { graceMs: 100_000 } });
    const leaseOf = (i: number) => 1_000 + ((i * 7) % 40) * 100;
    const ids = Array.from({ length: 40 }, (_, i) => `t${i}`);
    for (const [i, id] of ids.entries()) {
      await h.sup.create({ id });
      await h.sup.claim(id, { owner: 'w', leaseMs: leaseOf(i) });
    }
    expect(h.clock.pendingTimers).toBe(ids.length);

    await h.restart();
    // One wake-up for the earliest deadline instead of a timer per task.
    expect(h.clock.pendingTimers).toBe(1);
    expect(h.clock.nextTimerAt()).toBe(T0 + 1_000);
    // A heartbeat reaches a task still waiting: it is resumed first, then renewed.
    await h.sup.heartbeat('t5', { owner: 'w', epoch: 1, leaseMs: 20_000 });
    await h.clock.advance(10_000);
    for (const [i, id] of ids.entries()) {
      const view = h.sup.get(id)!;
      if (id === 't5') {
        expect(view.substate).toBe('leased');
        continue;
      }
      expect(view.substate, id).toBe('stale.grace');
      expect(auditOf(view, 'expired').map((e) => e.at), id).toEqual([T0 + leaseOf(i)]);
    }
    await h.clock.advanceTo(T0 + 20_000);
    expect(h.sup.get('t5')!.substate).toBe('stale.grace');
    expect(auditOf(h.sup.get('t5')!, 'expired').map((e) => e.at)).toEqual([T0 + 20_000]);
  });

  it('a retry backoff survives a restart and ends at its stored notBefore', async () => {
    const h = await harness();
    await h.sup.create({ id: 't', retryBackoffMs: 30_000 });
    await h.sup.claim('t', { owner: 'w1' });
    await h.sup.fail('t', { owner: 'w1', epoch: 1, error: 'flaky network', retryable: true });
    const notBefore = h.sup.get('t')!.notBefore!;
    expect(notBefore).toBe(T0 + 30_000);

    await h.clock.advance(10_000);
    await h.restart();
    expect(h.clock.pendingTimers).toBeGreaterThan(0);
    await expectCode(h.sup.claim('t', { owner: 'w2' }), 'LEASE_CONFLICT', 'backoff');
    await h.clock.advanceTo(notBefore - 1);
    expect(h.sup.get('t')!.substate).toBe('planned.backoff');
    await h.clock.advance(1);
    expect(h.sup.get('t')!.substate).toBe('planned.ready');
    expect((await h.sup.claim('t', { owner: 'w2' })).epoch).toBe(2);
  });

  it('a compensation retry survives a restart and runs at its stored time', async () => {
    let calls = 0;
    const flaky: Compensator = async () => {
      calls++;
      if (calls === 1) throw new Error('remote busy');
    };
    const h = await harness({ compensators: { flaky } });
    await h.sup.create({ id: 't', compensations: [{ action: 'flaky' }], compensationBackoffMs: 5_000 });
    await h.sup.claim('t', { owner: 'w' });
    await h.sup.fail('t', { owner: 'w', epoch: 1, error: 'gave up' });
    await h.clock.settle();
    expect(h.sup.get('t')!.substate).toBe('failed.retrying');
    expect(calls).toBe(1);
    const retryAt = T0 + 5_000;

    await h.restart();
    expect(h.clock.pendingTimers).toBeGreaterThan(0);
    expect(h.clock.nextTimerAt()).toBe(retryAt);
    await h.clock.advanceTo(retryAt - 1);
    expect(calls).toBe(1);
    expect(h.sup.get('t')!.substate).toBe('failed.retrying');
    await h.clock.advance(1);
    expect(calls).toBe(2);
    expect(h.sup.get('t')!.state).toBe('compensated');
    expect(h.sup.get('t')!.compensations[0]).toMatchObject({ status: 'done', attempts: 2, doneAt: retryAt });
  });

  it('re-runs a compensation that was running at shutdown, and never re-runs a done one', async () => {
    const started = deferred();
    const gate = deferred();
    const calls = { first: 0, second: 0 };
    const compensators: Record<string, Compensator> = {
      first: async () => {
        calls.first++;
        if (calls.first === 1) {
          started.resolve();
          await gate.promise; // the process "dies" while this is in flight
        }
      },
      second: async () => {
        calls.second++;
      },
    };
    // closeTimeoutMs 0: close does not wait for the running handler, as a process that dies would not.
    const h = await harness({ compensators, closeTimeoutMs: 0, logger: { warn: () => {} } });
    const checker = createInvariantChecker();
    await h.sup.create({ id: 't', compensations: [{ action: 'first' }, { action: 'second' }] });
    await h.sup.claim('t', { owner: 'w' });
    await h.sup.fail('t', { owner: 'w', epoch: 1, error: 'broken build' });
    await started.promise;

    // The ledger said "running" on disk before the side effect started.
    expect(storedTask(h, 't').context.compensations.map((c) => [c.action, c.status, c.attempts])).toEqual([
      ['first', 'running', 1],
      ['second', 'done', 1],
    ]);
    checker.check(h.sup, h.clock.now());

    await h.restart();
    await h.clock.settle();
    expect(calls).toEqual({ first: 2, second: 1 });
    const view = h.sup.get('t')!;
    expect(view.state).toBe('compensated');
    // The interrupted attempt is continued as the same attempt (the handler runs again).
    expect(view.compensations.map((c) => [c.action, c.status, c.attempts])).toEqual([
      ['first', 'done', 1],
      ['second', 'done', 1],
    ]);
    checker.check(h.sup, h.clock.now());

    // The interrupted run finishing late changes nothing, and later restarts run nothing.
    gate.resolve();
    await h.clock.settle();
    await h.restart();
    await h.clock.settle();
    expect(calls).toEqual({ first: 2, second: 1 });
    expect(h.sup.get('t')).toEqual(view);
    checker.check(h.sup, h.clock.now());
  });

  it('epochs keep growing across restarts (claim, restart, expire, restart, reclaim)', async () => {
    const h = await harness({ defaults: { graceMs: 1_000, maxStale: 100 } });
    const checker = createInvariantChecker();
    await h.sup.create({ id: 't' });
    const epochs: number[] = [];
    for (let round = 1; round <= 4; round++) {
      const lease = await h.sup.claim('t', { owner: 'w', leaseMs: 5_000 });
      epochs.push(lease.epoch);
      checker.check(h.sup, h.clock.now());
      await h.restart();
      expect(storedTask(h, 't').context.epoch).toBe(lease.epoch);
      if (round > 1) {
        // The same owner's previous lease stays fenced off after the restart.
        await expectCode(h.sup.heartbeat('t', { owner: 'w', epoch: lease.epoch - 1 }), 'LEASE_CONFLICT', 'stale_epoch');
      }
      await h.clock.advance(6_000);
      expect(h.sup.get('t')!.substate).toBe('stale.expired');
      checker.check(h.sup, h.clock.now());
      await h.restart();
    }
    expect(epochs).toEqual([1, 2, 3, 4]);
    const last = await h.sup.claim('t', { owner: 'v' });
    expect(last.epoch).toBe(5);
    expect(last.recovery).toMatchObject({ previousOwner: 'w', previousEpoch: 4 });
    await expectCode(h.sup.heartbeat('t', { owner: 'w', epoch: 4 }), 'LEASE_CONFLICT', 'not_owner');
    checker.check(h.sup, h.clock.now());
  });
});

describe('the store file', () => {
  it('is the documented format, and a record edited on disk round-trips through a restart', async () => {
    const h = await harness();
    await h.sup.create({ id: 'a', spec: { prompt: 'fix the bug' } });
    await h.sup.claim('a', { owner: 'w', leaseMs: 60_000 });
    const document = onDisk(h);
    if (h.kind === 'journal') {
      expect(document.formatVersion).toBe(2);
      expect(Object.keys(document)).toEqual(['formatVersion', 'journalSeq', 'tasks']);
    } else if (h.kind === 'postgres') {
      // Version 2 added the shared tokens table (src/store/postgres-schema.ts).
      expect(document.formatVersion).toBe(2);
      expect(Object.keys(document)).toEqual(['formatVersion', 'epochFloor', 'tasks']);
    } else {
      expect(document.formatVersion).toBe(1);
      expect(Object.keys(document)).toEqual(['formatVersion', 'tasks']);
    }
    expect(document.tasks.a!.state).toBe('leased');
    expect(document.tasks.a!.context).toMatchObject({
      id: 'a',
      epoch: 1,
      spec: { prompt: 'fix the bug' },
      lease: { owner: 'w', epoch: 1, expiresAt: T0 + 60_000 },
    });

    // Write a second task by hand, copied from the first, and let a new supervisor read it.
    await h.sup.close();
    const copy = structuredClone(document.tasks.a!);
    copy.context.id = 'b';
    copy.context.spec = { prompt: 'written by hand' };
    document.tasks.b = copy;
    h.write(document);
    await h.restart();
    const b = h.sup.get('b')!;
    expect(b).toMatchObject({ id: 'b', substate: 'leased', epoch: 1, spec: { prompt: 'written by hand' } });
    expect(b.lease).toMatchObject({ owner: 'w', expiresAt: T0 + 60_000 });
    await h.sup.complete('b', { owner: 'w', epoch: 1 });
    expect(storedTask(h, 'b').state).toBe('completed');
    expect(storedTask(h, 'a').state).toBe('leased');
  });

  it('is not written at all for rejected calls (byte-identical, no commit)', async () => {
    const h = await harness();
    await h.sup.create({ id: 'live' });
    await h.sup.create({ id: 'done' });
    await h.sup.claim('live', { owner: 'w1', leaseMs: 60_000 });
    await h.sup.claim('done', { owner: 'w1' });
    await h.sup.complete('done', { owner: 'w1', epoch: 1 });
    const commits = await reopenCounting(h);
    const bytes = h.bytes();
    const sup = h.sup;

    const rejected: [string, () => Promise<unknown>, string][] = [
      ['second claim', () => sup.claim('live', { owner: 'w2' }), 'LEASE_CONFLICT'],
      ['wrong owner', () => sup.heartbeat('live', { owner: 'w2', epoch: 1, progress: 50 }), 'LEASE_CONFLICT'],
      ['old epoch', () => sup.complete('live', { owner: 'w1', epoch: 2 }), 'LEASE_CONFLICT'],
      ['not extending', () => sup.heartbeat('live', { owner: 'w1', epoch: 1, leaseMs: 1 }), 'LEASE_CONFLICT'],
      ['terminal', () => sup.claim('done', { owner: 'w2' }), 'TERMINAL_TASK'],
      ['terminal quarantine', () => sup.quarantine('done', { by: 'ops', reason: 'x' }), 'TERMINAL_TASK'],
      ['missing', () => sup.release('nope', { owner: 'w1', epoch: 1 }), 'TASK_NOT_FOUND'],
      ['duplicate', () => sup.create({ id: 'live' }), 'DUPLICATE_TASK'],
      ['invalid', () => sup.heartbeat('live', { owner: 'w1', epoch: 1, progress: 101 }), 'INVALID_INPUT'],
    ];
    for (const [what, call, code] of rejected) {
      const error = await rejection(call());
      expect(error.code, what).toBe(code);
      expect(h.bytes(), what).toBe(bytes);
    }
    expect(commits).toEqual([]);
  });

  it('holds each acknowledged change on disk by the time its promise resolves', async () => {
    const h = await harness({ compensators: { undo: async () => {} } });
    const { sup } = h;
    const steps: [string, () => Promise<unknown>, (task: StoredTask) => void][] = [
      ['create', () => sup.create({ id: 't', labels: ['x'] }), (t) => expect(t.state).toEqual({ planned: 'ready' })],
      ['claim', () => sup.claim('t', { owner: 'w1' }), (t) => expect(t.context).toMatchObject({ epoch: 1, lease: { owner: 'w1' } })],
      ['heartbeat', () => sup.heartbeat('t', { owner: 'w1', epoch: 1, leaseMs: 600_000, progress: 25, message: 'm' }), (t) => expect(t.context).toMatchObject({ progress: 25, message: 'm' })],
      ['extend', () => sup.extend('t', { owner: 'w1', epoch: 1, windowMs: 3_600_000 }), (t) => expect(t.context).toMatchObject({ lease: { expiresAt: T0 + 3_600_000 } })],
      ['addCompensation', () => sup.addCompensation('t', { owner: 'w1', epoch: 1, action: 'undo' }), (t) => expect(t.context.compensations).toHaveLength(1)],
      ['annotate', () => sup.annotate('t', { pr: 42 }), (t) => expect(t.context).toMatchObject({ metadata: { pr: 42 } })],
      ['release', () => sup.release('t', { owner: 'w1', epoch: 1, reason: 'lunch' }), (t) => expect(t.context).toMatchObject({ lease: null, recovery: { previousOwner: 'w1' } })],
      ['claimNext', () => sup.claimNext({ owner: 'w2', labels: ['x'] }), (t) => expect(t.context).toMatchObject({ epoch: 2, lease: { owner: 'w2' } })],
      ['complete', () => sup.complete('t', { owner: 'w2', epoch: 2, result: 'ok' }), (t) => expect(t.state).toBe('completed')],
    ];
    for (const [what, call, check] of steps) {
      await call();
      const task = onDisk(h).tasks.t;
      expect(task, what).toBeDefined();
      check(task!);
    }
    await h.sup.create({ id: 'q' });
    await h.sup.quarantine('q', { by: 'ops', reason: 'poison' });
    expect(storedTask(h, 'q').state).toBe('quarantined');
  });

  it('group-commits concurrent calls: fewer writes than calls, every result durable when it resolves', async () => {
    const h = await harness();
    const commits = await reopenCounting(h);
    const ids = Array.from({ length: 20 }, (_, i) => `t${i}`);
    /** Runs `call` for every id at once; each result checks the disk the moment it resolves. */
    const concurrently = (call: (id: string) => Promise<unknown>, durable: (task: StoredTask | undefined) => void) =>
      Promise.all(ids.map((id) => call(id).then(() => durable(onDisk(h).tasks[id]))));

    await concurrently(
      (id) => h.sup.create({ id }),
      (task) => expect(task?.state).toEqual({ planned: 'ready' }),
    );
    const createCommits = commits.length;
    expect(createCommits).toBeGreaterThan(0);
    expect(createCommits).toBeLessThan(ids.length);

    await concurrently(
      (id) => h.sup.claim(id, { owner: `w-${id}` }),
      (task) => expect(task?.context.epoch).toBe(1),
    );
    const before = commits.length;
    await concurrently(
      (id) => h.sup.heartbeat(id, { owner: `w-${id}`, epoch: 1, leaseMs: 600_000, progress: 70 }),
      (task) => expect(task?.context.progress).toBe(70),
    );
    const heartbeatCommits = commits.length - before;
    expect(heartbeatCommits).toBeGreaterThan(0);
    expect(heartbeatCommits).toBeLessThan(ids.length);
    expect(new Set(commits.slice(before).flat())).toEqual(new Set(ids));
  });
});

describe('opening a store', () => {
  it('refuses a second supervisor on the same file with STORE_LOCKED, until the first closes', async () => {
    const h = await harness();
    await h.sup.create({ id: 't' });
    const error = await expectCode(createSupervisor({ store: h.store(), clock: h.clock }), 'STORE_LOCKED');
    expect(error.message).toContain(h.file);
    // The refused opener neither broke the first supervisor nor wrote anything.
    const bytes = h.bytes();
    await h.sup.claim('t', { owner: 'w' });
    expect(h.bytes()).not.toBe(bytes);
    await h.restart();
    expect(h.sup.get('t')!.state).toBe('leased');
  });

  const corruptions: [string, (document: ReturnType<typeof onDisk>) => ReturnType<typeof onDisk> | string][] = [
    ['garbage', () => 'this is not { json'],
    ['a negative epoch', (d) => ((d.tasks.b!.context.epoch = -1), d)],
    ['an unknown state value', (d) => ((d.tasks.b!.state = 'flying'), d)],
    ['an unknown substate', (d) => ((d.tasks.b!.state = { stale: 'sleeping' }), d)],
  ];
  for (const [what, corrupt] of corruptions) {
    it(`refuses a file with ${what}: STORE_CORRUPT naming the file, file untouched, lock released`, async () => {
      const h = await harness();
      // "a" is restored before the bad "b": nothing of it may be written back.
      await h.sup.create({ id: 'a' });
      await h.sup.create({ id: 'b' });
      await h.sup.claim('a', { owner: 'w', leaseMs: 1_000 });
      await h.sup.close();
      await h.clock.advance(5_000); // a's lease would expire at once if it were restored
      const good = onDisk(h);
      h.write(corrupt(onDisk(h)));
      const before = h.bytes();

      const error = await expectCode(createSupervisor({ store: h.store(), clock: h.clock }), 'STORE_CORRUPT');
      expect(error.message).toContain(h.file);
      expect((error as unknown as { file: string }).file).toBe(h.file);
      expect(h.bytes()).toBe(before);
      expect(h.clock.pendingTimers).toBe(0);

      h.write(good);
      await h.restart();
      expect(h.sup.get('a')!.substate).toBe('stale.grace');
    });
  }
});

describe('memoryStore', () => {
  it('survives close and reopen on the same instance, timers included', async () => {
    const clock = createTestClock(T0);
    const store = memoryStore();
    let sup = await createSupervisor({ store, clock });
    await sup.create({ id: 't', spec: { n: 1 }, graceMs: 500 });
    await sup.create({ id: 'u' });
    await sup.claim('t', { owner: 'w', leaseMs: 1_000 });
    await clock.advance(100);
    await sup.heartbeat('t', { owner: 'w', epoch: 1, progress: 10 });
    await sup.claim('u', { owner: 'w', leaseMs: 60_000 });
    const before = byId(sup.list());
    await expectCode(createSupervisor({ store, clock }), 'STORE_LOCKED');
    await sup.close();

    sup = await createSupervisor({ store, clock });
    try {
      expect(byId(sup.list())).toEqual(before);
      await sup.close();
      await clock.advance(2_000);
      sup = await createSupervisor({ store, clock });
      expect(sup.get('t')!.substate).toBe('stale.expired');
      expect(sup.get('u')!.substate).toBe('leased');
      expect((await sup.claim('t', { owner: 'v' })).epoch).toBe(2);
    } finally {
      await sup.close();
    }
  });
});
