// The task lifecycle of DESIGN.md, one `describe` per row of its table (plus the rules in the
// paragraph after it), run against a real supervisor on a real JSON file with the test clock
// (twice: vitest.config.ts runs it on the plain JSON store and on the journaled one).
// Every rejected call is checked to leave the store byte-for-byte as it was, and every
// lifecycle event is checked to have been published only once its change was on disk.
import { describe, expect, it } from 'vitest';
import type { TaskContext } from '../machines/task.types.js';
import {
  createSupervisor,
  DEFAULT_LIMITS,
  LIFECYCLE_EVENTS,
  memoryStore,
  type Compensator,
  type Json,
  type Lease,
  type LifecycleEvent,
  type LifecycleEventType,
  type SupervisorOptions,
  type TaskView,
} from '../src/index.js';
import { copyJson, statePath } from '../src/task/view.js';
import { createInvariantChecker } from './invariants.js';
import { harness, rejection, T0, type Harness } from './support.js';

// ---------------------------------------------------------------------------------------
// helpers

const LEASE = 10_000;
const GRACE = 5_000;
const HOUR = 3_600_000;

interface StoredTask {
  state: unknown;
  context: TaskContext;
}

/** The task as the store holds it durably right now (snapshot, plus journal when there is one). */
function stored(h: Harness, id: string): StoredTask | undefined {
  return h.durable<StoredTask>().tasks[id];
}

interface Seen<T extends LifecycleEventType = LifecycleEventType> {
  event: Extract<LifecycleEvent, { type: T }>;
  /** The task's state path in the store file when the listener ran. */
  storedPath: string | undefined;
  storedContext: TaskContext | undefined;
}

interface World {
  h: Harness;
  /** Runs the shared invariant checker against the supervisor now. */
  check(): void;
  /** Every lifecycle event published so far, with the file's view of the task at that moment. */
  seen: Seen[];
  events<T extends LifecycleEventType>(type: T): Seen<T>[];
  view(id?: string): TaskView;
}

/** A supervisor with small defaults (lease 10 s, grace 5 s) on a fresh JSON file. */
async function world(options: Partial<SupervisorOptions> = {}): Promise<World> {
  const h = await harness({ ...options, defaults: { leaseMs: LEASE, graceMs: GRACE, ...options.defaults } });
  const checker = createInvariantChecker();
  const seen: Seen[] = [];
  for (const type of LIFECYCLE_EVENTS) {
    h.sup.on(type, (event) => {
      const record = stored(h, event.taskId);
      seen.push({ event, storedPath: record ? statePath(record.state) : undefined, storedContext: record?.context });
    });
  }
  return {
    h,
    check: () => checker.check(h.sup, h.clock.now()),
    seen,
    events: <T extends LifecycleEventType>(type: T) => seen.filter((s) => s.event.type === type) as unknown as Seen<T>[],
    view: (id = 't') => {
      const view = h.sup.get(id);
      if (!view) throw new Error(`no task ${id}`);
      return view;
    },
  };
}

/**
 * Expects `call` to be rejected with `code` (and `reason`), leaving the store file
 * byte-identical and the task's view unchanged.
 */
async function refused(w: World, id: string, call: () => Promise<unknown>, code: string, reason?: string) {
  const bytes = w.h.bytes();
  const before = w.h.sup.get(id);
  const events = w.seen.length;
  const error = await rejection(call());
  expect(error.code, error.message).toBe(code);
  if (reason !== undefined) expect(error.reason, error.message).toBe(reason);
  expect(w.h.bytes(), 'a rejected call changed the store file').toBe(bytes);
  expect(w.h.sup.get(id), 'a rejected call changed the task').toEqual(before);
  expect(w.seen.length, 'a rejected call published an event').toBe(events);
  return error;
}

const conflict = (w: World, id: string, call: () => Promise<unknown>, reason: string) => refused(w, id, call, 'LEASE_CONFLICT', reason);

/** Creates task `id` and claims it for `owner`. */
async function claimed(w: World, options: { id?: string; owner?: string; leaseMs?: number; create?: Record<string, unknown> } = {}) {
  const id = options.id ?? 't';
  await w.h.sup.create({ id, ...options.create });
  return w.h.sup.claim(id, { owner: options.owner ?? 'alice', ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}) });
}

/** Moves the clock to the lease's expiry: the task is then in grace. */
async function intoGrace(w: World, id = 't'): Promise<Lease> {
  await w.h.clock.advanceTo(w.view(id).lease!.expiresAt);
  expect(w.view(id).substate).toBe('stale.grace');
  return w.view(id).lease!;
}

/** Moves the clock to the end of the grace period: the task is then expired (or quarantined). */
async function pastGrace(w: World, id = 't') {
  if (w.view(id).substate === 'leased') await intoGrace(w, id);
  await w.h.clock.advanceTo(w.view(id).lease!.graceEndsAt!);
}

type OwnerCall = (w: World, id: string, owner: string, epoch: number) => Promise<unknown>;
const OWNER_CALLS: Record<string, OwnerCall> = {
  heartbeat: (w, id, owner, epoch) => w.h.sup.heartbeat(id, { owner, epoch, progress: 99, message: 'mine' }),
  extend: (w, id, owner, epoch) => w.h.sup.extend(id, { owner, epoch, windowMs: HOUR }),
  release: (w, id, owner, epoch) => w.h.sup.release(id, { owner, epoch, reason: 'mine' }),
  complete: (w, id, owner, epoch) => w.h.sup.complete(id, { owner, epoch, result: 'mine' }),
  fail: (w, id, owner, epoch) => w.h.sup.fail(id, { owner, epoch, error: 'mine', retryable: true }),
  addCompensation: (w, id, owner, epoch) => w.h.sup.addCompensation(id, { owner, epoch, action: 'undo' }),
};

/** Compensators that record the order they ran in; `failures[action]` makes one throw that many times (Infinity: always). */
function recorder(actions: string[], failures: Record<string, number> = {}) {
  const calls: { action: string; args: Json; taskState: string }[] = [];
  const compensators: Record<string, Compensator> = {};
  for (const action of actions) {
    compensators[action] = async (args, task) => {
      calls.push({ action, args, taskState: task.substate });
      if ((failures[action] ?? 0) > 0) {
        failures[action]!--;
        throw new Error(`${action} broke`);
      }
    };
  }
  return { calls, order: () => calls.map((c) => c.action), compensators };
}

// ---------------------------------------------------------------------------------------

describe('planned —CLAIM(owner, leaseMs)→ leased', () => {
  it('grants a lease: epoch and attempts +1, expiry = now + leaseMs, published once durable', async () => {
    const w = await world();
    await w.h.sup.create({ id: 't' });
    await w.h.clock.advance(123);
    const lease = await w.h.sup.claim('t', { owner: 'alice' });
    expect(lease).toMatchObject({ taskId: 't', owner: 'alice', epoch: 1, acquiredAt: T0 + 123, heartbeatAt: T0 + 123, expiresAt: T0 + 123 + LEASE });
    expect(w.view()).toMatchObject({ state: 'leased', substate: 'leased', epoch: 1, attempts: 1 });
    expect(w.view().lease).toEqual(lease);
    expect(stored(w.h, 't')!.context.lease).toMatchObject({ owner: 'alice', epoch: 1, expiresAt: T0 + 123 + LEASE });
    const [claim] = w.events('claimed');
    expect(claim!.event).toMatchObject({ taskId: 't', owner: 'alice', epoch: 1, expiresAt: lease.expiresAt });
    expect(claim!.storedPath).toBe('leased');
    expect(claim!.storedContext!.lease!.epoch).toBe(1);
    w.check();
  });

  it('takes the leaseMs of the claim over the default', async () => {
    const w = await world();
    const lease = await claimed(w, { leaseMs: 1_234 });
    expect(lease.expiresAt).toBe(T0 + 1_234);
    expect(lease.leaseMs).toBe(1_234);
  });

  it('increments epoch and attempts on every claim', async () => {
    const w = await world();
    let lease = await claimed(w);
    for (let n = 2; n <= 4; n++) {
      await w.h.sup.release('t', { owner: lease.owner, epoch: lease.epoch });
      lease = await w.h.sup.claim('t', { owner: n % 2 ? 'alice' : 'bob' });
      expect(lease.epoch).toBe(n);
      expect(w.view()).toMatchObject({ epoch: n, attempts: n });
      w.check();
    }
  });

  it('rejects a second claim on a live lease with `held`, for another owner and for the same owner', async () => {
    const w = await world();
    await claimed(w);
    await conflict(w, 't', () => w.h.sup.claim('t', { owner: 'bob' }), 'held');
    await conflict(w, 't', () => w.h.sup.claim('t', { owner: 'alice' }), 'held');
    expect(await w.h.sup.claimNext({ owner: 'bob' })).toBeNull();
  });

  it('refuses a claim before `notBefore` with `backoff` and accepts it at `notBefore` exactly', async () => {
    const w = await world();
    const lease = await claimed(w);
    const failedAt = w.h.clock.now();
    await w.h.sup.fail('t', { owner: 'alice', epoch: lease.epoch, error: 'flaky', retryable: true });
    expect(w.view().notBefore).toBe(failedAt + 30_000);

    await w.h.clock.advance(30_000 - 1);
    expect(w.view().substate).toBe('planned.backoff');
    await conflict(w, 't', () => w.h.sup.claim('t', { owner: 'bob' }), 'backoff');
    expect(await w.h.sup.claimNext({ owner: 'bob' })).toBeNull();

    await w.h.clock.advance(1);
    expect(w.view().substate).toBe('planned.ready');
    const again = await w.h.sup.claim('t', { owner: 'bob' });
    expect(again).toMatchObject({ owner: 'bob', epoch: 2, acquiredAt: failedAt + 30_000 });
    expect(w.view()).toMatchObject({ attempts: 2, notBefore: null });
    w.check();
  });
});

describe('leased —HEARTBEAT(owner, epoch, leaseMs?, progress?, message?)→ leased', () => {
  it('renews to now + the lease’s own leaseMs, or now + the heartbeat’s leaseMs', async () => {
    const w = await world();
    const lease = await claimed(w, { leaseMs: 7_000 });
    await w.h.clock.advance(1_000);
    const renewed = await w.h.sup.heartbeat('t', { owner: 'alice', epoch: lease.epoch });
    expect(renewed).toMatchObject({ expiresAt: T0 + 1_000 + 7_000, heartbeatAt: T0 + 1_000, renewals: 1, epoch: 1 });
    expect(stored(w.h, 't')!.context.lease!.expiresAt).toBe(T0 + 8_000);

    await w.h.clock.advance(1_000);
    const longer = await w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1, leaseMs: 20_000 });
    expect(longer.expiresAt).toBe(T0 + 2_000 + 20_000);

    // a later heartbeat without leaseMs uses the lease's own 7 s again
    await w.h.clock.advance(16_000);
    const own = await w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1 });
    expect(own.expiresAt).toBe(T0 + 18_000 + 7_000);
    w.check();
  });

  it('rejects a heartbeat whose expiry would not be strictly later with `not_extending` (equal, then shorter)', async () => {
    const w = await world();
    const lease = await claimed(w);
    // same instant as the claim: now + leaseMs equals the current expiry
    await conflict(w, 't', () => w.h.sup.heartbeat('t', { owner: 'alice', epoch: lease.epoch }), 'not_extending');
    await w.h.clock.advance(100);
    await conflict(w, 't', () => w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1, leaseMs: LEASE - 100 }), 'not_extending');
    // one more millisecond extends it
    const renewed = await w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1, leaseMs: LEASE - 99 });
    expect(renewed.expiresAt).toBe(lease.expiresAt + 1);
  });

  it('keeps progress at its maximum: a lower value is accepted but does not lower it', async () => {
    const w = await world();
    await claimed(w);
    await w.h.clock.advance(1_000);
    await w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1, progress: 40, message: 'tests pass' });
    expect(w.view()).toMatchObject({ progress: 40, message: 'tests pass' });
    await w.h.clock.advance(1_000);
    const renewed = await w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1, progress: 25 });
    expect(renewed.expiresAt).toBe(T0 + 2_000 + LEASE);
    expect(w.view().progress).toBe(40);
    expect(stored(w.h, 't')!.context.progress).toBe(40);
    await w.h.clock.advance(1_000);
    await w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1, progress: 70 });
    expect(w.view().progress).toBe(70);

    const beats = w.events('heartbeat');
    expect(beats.map((b) => b.event.progress)).toEqual([40, 40, 70]);
    for (const beat of beats) {
      expect(beat.event).toMatchObject({ taskId: 't', owner: 'alice', epoch: 1, late: false });
      expect(beat.storedContext!.lease!.expiresAt).toBe(beat.event.expiresAt);
    }
    w.check();
  });

  it('reports `stuck` once per lease when accepted heartbeats reach maxRenewals, and keeps accepting them', async () => {
    const w = await world();
    const lease = await claimed(w, { create: { maxRenewals: 3 } });
    const beat = async (epoch: number) => {
      await w.h.clock.advance(1_000);
      return w.h.sup.heartbeat('t', { owner: w.view().lease!.owner, epoch });
    };
    await beat(lease.epoch);
    await beat(lease.epoch);
    expect(w.events('stuck')).toHaveLength(0);
    await beat(lease.epoch);
    expect(w.events('stuck')).toHaveLength(1);
    expect(w.events('stuck')[0]!.event).toMatchObject({ taskId: 't', owner: 'alice', epoch: 1, renewals: 3 });
    expect(w.events('stuck')[0]!.storedContext!.lease!.renewals).toBe(3);
    const fifth = (await beat(lease.epoch), await beat(lease.epoch));
    expect(fifth).toMatchObject({ renewals: 5, expiresAt: w.h.clock.now() + LEASE });
    expect(w.events('stuck')).toHaveLength(1);

    // a new lease may be stuck again
    await w.h.sup.release('t', { owner: 'alice', epoch: 1 });
    const next = await w.h.sup.claim('t', { owner: 'bob' });
    for (let i = 0; i < 4; i++) await beat(next.epoch);
    expect(w.events('stuck').map((s) => s.event.epoch)).toEqual([1, 2]);
    expect(w.events('stuck')[1]!.event.owner).toBe('bob');
    w.check();
  });
});

describe('leased —after(expiresAt)→ stale.grace', () => {
  it('a lease expiring at t is stale at t and still leased at t − 1', async () => {
    const w = await world();
    const lease = await claimed(w);
    await w.h.clock.advance(LEASE - 1);
    expect(w.view().substate).toBe('leased');
    w.check();
    await w.h.clock.advance(1);
    expect(w.h.clock.now()).toBe(lease.expiresAt);
    expect(w.view()).toMatchObject({ state: 'stale', substate: 'stale.grace', staleCount: 1 });
    w.check();
  });

  it('keeps showing the expired lease while stale, with the grace deadline', async () => {
    const w = await world();
    const lease = await claimed(w);
    await intoGrace(w);
    expect(w.view().lease).toMatchObject({ owner: 'alice', epoch: 1, acquiredAt: lease.acquiredAt, expiresAt: lease.expiresAt, graceEndsAt: lease.expiresAt + GRACE });
    await pastGrace(w);
    expect(w.view().substate).toBe('stale.expired');
    expect(w.view().lease).toMatchObject({ owner: 'alice', epoch: 1, expiresAt: lease.expiresAt });
  });

  it('emits `expired` (taskId, owner, epoch, staleCount) once the stale state is durable', async () => {
    const w = await world();
    const lease = await claimed(w);
    await intoGrace(w);
    const [expired] = w.events('expired');
    expect(expired!.event).toMatchObject({ taskId: 't', owner: 'alice', epoch: 1, at: lease.expiresAt, staleCount: 1, graceEndsAt: lease.expiresAt + GRACE });
    expect(expired!.storedPath).toBe('stale.grace');
    expect(expired!.storedContext!.staleCount).toBe(1);
  });

  it('counts every expiry in staleCount', async () => {
    const w = await world();
    await claimed(w);
    await intoGrace(w);
    await w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1 });
    await intoGrace(w);
    expect(w.view().staleCount).toBe(2);
    expect(w.events('expired').map((e) => e.event.staleCount)).toEqual([1, 2]);
    w.check();
  });
});

describe('stale.grace —HEARTBEAT(holder, epoch)→ leased', () => {
  it('accepts a late heartbeat, counts it, and renews the same lease', async () => {
    const w = await world();
    const lease = await claimed(w);
    await intoGrace(w);
    await w.h.clock.advance(2_000);
    const renewed = await w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1, progress: 10 });
    expect(renewed).toMatchObject({ owner: 'alice', epoch: 1, acquiredAt: lease.acquiredAt, expiresAt: w.h.clock.now() + LEASE, graceEndsAt: null });
    expect(w.view()).toMatchObject({ substate: 'leased', epoch: 1, attempts: 1, staleCount: 1, progress: 10 });
    expect(stored(w.h, 't')!.context.lease).toMatchObject({ lateHeartbeats: 1, renewals: 1 });
    expect(w.view().audit.map((a) => a.event)).toContain('late-heartbeat');
    const [beat] = w.events('heartbeat');
    expect(beat!.event).toMatchObject({ taskId: 't', owner: 'alice', epoch: 1, late: true, expiresAt: renewed.expiresAt });
    expect(beat!.storedPath).toBe('leased');
    w.check();
  });

  it('treats a heartbeat at exactly expiresAt as late', async () => {
    const w = await world();
    const lease = await claimed(w);
    await intoGrace(w);
    expect(w.h.clock.now()).toBe(lease.expiresAt);
    await w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1 });
    expect(w.events('heartbeat')[0]!.event.late).toBe(true);
    expect(stored(w.h, 't')!.context.lease!.lateHeartbeats).toBe(1);
  });

  it('accepts late heartbeats up to the last millisecond of grace', async () => {
    const w = await world();
    const lease = await claimed(w);
    await w.h.clock.advanceTo(lease.expiresAt + GRACE - 1);
    expect(w.view().substate).toBe('stale.grace');
    await w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1 });
    expect(w.view().substate).toBe('leased');
  });

  it('still fences the late heartbeat: wrong owner → not_owner', async () => {
    const w = await world();
    await claimed(w);
    await intoGrace(w);
    await conflict(w, 't', () => w.h.sup.heartbeat('t', { owner: 'mallory', epoch: 1 }), 'not_owner');
  });
});

describe('stale.grace —CLAIM(anyone, holder included)→ rejected `in_grace`', () => {
  it('refuses other owners and the holder alike, and claimNext skips the task', async () => {
    const w = await world();
    await claimed(w);
    await intoGrace(w);
    await conflict(w, 't', () => w.h.sup.claim('t', { owner: 'bob' }), 'in_grace');
    await conflict(w, 't', () => w.h.sup.claim('t', { owner: 'alice' }), 'in_grace');
    await w.h.clock.advance(GRACE - 1);
    await conflict(w, 't', () => w.h.sup.claim('t', { owner: 'bob' }), 'in_grace');
    expect(await w.h.sup.claimNext({ owner: 'bob' })).toBeNull();
    expect(w.view().epoch).toBe(1);
  });
});

describe('stale.grace —after(grace)→ stale.expired, or quarantined', () => {
  it('ends grace at expiresAt + graceMs (absolute), not a millisecond earlier', async () => {
    const w = await world();
    const lease = await claimed(w);
    await w.h.clock.advance(3_000);
    await w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1 });
    const expiresAt = lease.expiresAt + 3_000;
    await w.h.clock.advanceTo(expiresAt + 1_000);
    expect(w.view().lease!.graceEndsAt).toBe(expiresAt + GRACE);
    await w.h.clock.advanceTo(expiresAt + GRACE - 1);
    expect(w.view().substate).toBe('stale.grace');
    await w.h.clock.advance(1);
    expect(w.view().substate).toBe('stale.expired');
    expect(w.view().audit.map((a) => a.event)).toContain('grace-ended');
    // at the grace deadline the holder's heartbeat is refused
    await conflict(w, 't', () => w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1 }), 'expired');
    w.check();
  });

  it('with graceMs 0 goes straight to stale.expired at expiry', async () => {
    const w = await world({ defaults: { graceMs: 0 } });
    const lease = await claimed(w);
    await w.h.clock.advance(LEASE - 1);
    expect(w.view().substate).toBe('leased');
    await w.h.clock.advance(1);
    expect(w.view().substate).toBe('stale.expired');
    expect(w.view().lease!.graceEndsAt).toBe(lease.expiresAt);
    await conflict(w, 't', () => w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1 }), 'expired');
    const next = await w.h.sup.claim('t', { owner: 'bob' });
    expect(next).toMatchObject({ epoch: 2, acquiredAt: lease.expiresAt });
    w.check();
  });

  it('quarantines a poison task when grace ends with staleCount ≥ maxStale', async () => {
    const w = await world();
    await claimed(w, { create: { maxStale: 2 } });
    await pastGrace(w);
    expect(w.view()).toMatchObject({ substate: 'stale.expired', staleCount: 1 });
    await w.h.sup.claim('t', { owner: 'bob' });
    const second = await intoGrace(w);
    expect(w.view().staleCount).toBe(2);
    // the check is made when grace ends, not at expiry
    await w.h.clock.advanceTo(second.graceEndsAt! - 1);
    expect(w.view().substate).toBe('stale.grace');
    await w.h.clock.advance(1);
    const view = w.view();
    expect(view.state).toBe('quarantined');
    expect(view.terminal).toMatchObject({ state: 'quarantined', at: second.graceEndsAt, by: 'supervisor' });
    expect(view.terminal!.reason).toMatch(/maxStale 2/);
    const [q] = w.events('quarantined');
    expect(q!.event).toMatchObject({ taskId: 't', owner: 'bob', epoch: 2, by: 'supervisor', reason: view.terminal!.reason });
    expect(q!.storedPath).toBe('quarantined');
    w.check();
  });

  it('a late heartbeat in grace saves a task that reached maxStale; the next grace end quarantines it', async () => {
    const w = await world();
    await claimed(w, { create: { maxStale: 1 } });
    await intoGrace(w);
    await w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1 });
    expect(w.view().substate).toBe('leased');
    await pastGrace(w);
    expect(w.view()).toMatchObject({ state: 'quarantined', staleCount: 2 });
  });

  it('with graceMs 0 and maxStale reached, quarantines at expiry', async () => {
    const w = await world({ defaults: { graceMs: 0, maxStale: 1 } });
    const lease = await claimed(w);
    await w.h.clock.advance(LEASE);
    expect(w.view().state).toBe('quarantined');
    expect(w.view().terminal!.at).toBe(lease.expiresAt);
  });
});

describe('stale.expired —CLAIM(anyone)→ leased', () => {
  it('re-grants with epoch + 1 and hands over recovery on the lease and the task view', async () => {
    const w = await world();
    await claimed(w, { create: { spec: { worktree: '/wt/t', branch: 'fix-t' } } });
    await w.h.clock.advance(2_000);
    await w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1, progress: 40, message: 'tests written' });
    await pastGrace(w);
    const graceEnd = w.h.clock.now();

    const lease = await w.h.sup.claim('t', { owner: 'bob' });
    expect(lease).toMatchObject({ owner: 'bob', epoch: 2, acquiredAt: graceEnd, expiresAt: graceEnd + LEASE });
    const recovery = lease.recovery!;
    expect(recovery).toMatchObject({ previousOwner: 'alice', previousEpoch: 1, progress: 40, message: 'tests written', timeSpentMs: 2_000 });
    expect(recovery.reason).toMatch(/expired/);
    expect(recovery.instructions).toContain('alice');
    expect(recovery.instructions).toContain('40%');
    expect(recovery.instructions).toContain('/wt/t');
    expect(w.view()).toMatchObject({ substate: 'leased', epoch: 2, attempts: 2, recovery });
    expect(w.view().lease!.recovery).toEqual(recovery);
    expect(stored(w.h, 't')!.context.recovery).toEqual(recovery);

    const [reclaimed] = w.events('reclaimed');
    expect(reclaimed!.event).toMatchObject({ taskId: 't', owner: 'bob', epoch: 2, previousOwner: 'alice', previousEpoch: 1 });
    expect(reclaimed!.storedContext!.lease!.owner).toBe('bob');
    expect(w.events('claimed').map((c) => [c.event.owner, c.event.epoch])).toEqual([
      ['alice', 1],
      ['bob', 2],
    ]);
    w.check();
  });

  it('lets the previous holder reclaim too, with a new epoch', async () => {
    const w = await world();
    await claimed(w);
    await pastGrace(w);
    const lease = await w.h.sup.claim('t', { owner: 'alice' });
    expect(lease.epoch).toBe(2);
    expect(lease.recovery!.previousEpoch).toBe(1);
  });

  it('is what claimNext picks up', async () => {
    const w = await world();
    await claimed(w);
    await pastGrace(w);
    const lease = await w.h.sup.claimNext({ owner: 'bob' });
    expect(lease).toMatchObject({ taskId: 't', owner: 'bob', epoch: 2 });
  });
});

describe('stale.expired —HEARTBEAT(old holder)→ rejected `expired`, late progress captured', () => {
  it('rejects the heartbeat but persists progress ≥ recorded (with its message) for the hand-off', async () => {
    const w = await world();
    await claimed(w);
    await w.h.clock.advance(1_000);
    await w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1, progress: 30, message: 'halfway' });
    await pastGrace(w);

    const bytes = w.h.bytes();
    const error = await rejection(w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1, progress: 60, message: 'almost' }));
    expect(error).toMatchObject({ code: 'LEASE_CONFLICT', reason: 'expired' });
    // durable before the call settled
    expect(w.h.bytes()).not.toBe(bytes);
    expect(stored(w.h, 't')!.context).toMatchObject({ progress: 60, message: 'almost' });
    expect(w.view()).toMatchObject({ substate: 'stale.expired', progress: 60, message: 'almost', epoch: 1 });
    expect(w.view().lease!.expiresAt).toBeLessThan(w.h.clock.now());
    w.check();

    await w.h.restart();
    expect(w.view()).toMatchObject({ substate: 'stale.expired', progress: 60, message: 'almost' });
    const lease = await w.h.sup.claim('t', { owner: 'bob' });
    expect(lease.recovery).toMatchObject({ previousOwner: 'alice', progress: 60, message: 'almost' });
  });

  it('captures an equal progress with a new message', async () => {
    const w = await world();
    await claimed(w);
    await w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1, leaseMs: LEASE + 1, progress: 30, message: 'a' });
    await pastGrace(w);
    await rejection(w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1, progress: 30, message: 'b' }));
    expect(stored(w.h, 't')!.context).toMatchObject({ progress: 30, message: 'b' });
  });

  it('leaves the store untouched for lower or missing progress, and for anyone but the holder', async () => {
    const w = await world();
    await claimed(w);
    await w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1, leaseMs: LEASE + 1, progress: 30, message: 'a' });
    await pastGrace(w);
    await conflict(w, 't', () => w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1, progress: 29, message: 'lower' }), 'expired');
    await conflict(w, 't', () => w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1, message: 'no progress' }), 'expired');
    await conflict(w, 't', () => w.h.sup.heartbeat('t', { owner: 'mallory', epoch: 1, progress: 90 }), 'not_owner');
    await conflict(w, 't', () => w.h.sup.extend('t', { owner: 'alice', epoch: 1, windowMs: HOUR }), 'expired');
    expect(w.view()).toMatchObject({ progress: 30, message: 'a' });
  });
});

describe('stale (not re-granted) —COMPLETE(holder, epoch)→ completed', () => {
  it('salvages a late completion during grace', async () => {
    const w = await world();
    await claimed(w);
    await intoGrace(w);
    await w.h.clock.advance(1_000);
    const view = await w.h.sup.complete('t', { owner: 'alice', epoch: 1, result: { pr: 7 } });
    expect(view).toMatchObject({ state: 'completed', lease: null, terminal: { state: 'completed', by: 'alice', result: { pr: 7 }, at: w.h.clock.now() } });
    expect(w.events('completed')[0]!.event).toMatchObject({ taskId: 't', owner: 'alice', epoch: 1 });
    expect(w.events('completed')[0]!.storedPath).toBe('completed');
    // no timer fires on it afterwards
    await w.h.clock.advance(HOUR);
    expect(w.view().state).toBe('completed');
    w.check();
  });

  it('salvages a late completion after grace, while nobody has re-claimed', async () => {
    const w = await world();
    await claimed(w);
    await pastGrace(w);
    await w.h.clock.advance(HOUR);
    await w.h.sup.complete('t', { owner: 'alice', epoch: 1, result: 'done late' });
    expect(w.view()).toMatchObject({ state: 'completed', terminal: { result: 'done late', by: 'alice' } });
    w.check();
  });

  it('refuses the old holder once the task was re-granted (not_owner / stale_epoch)', async () => {
    const w = await world();
    await claimed(w, { id: 'a' });
    await claimed(w, { id: 'b' });
    await pastGrace(w, 'a');
    expect(w.view('b').substate).toBe('stale.expired');
    await w.h.sup.claim('a', { owner: 'bob' });
    await w.h.sup.claim('b', { owner: 'alice' });
    await conflict(w, 'a', () => w.h.sup.complete('a', { owner: 'alice', epoch: 1 }), 'not_owner');
    await conflict(w, 'b', () => w.h.sup.complete('b', { owner: 'alice', epoch: 1 }), 'stale_epoch');
  });
});

describe('leased —RELEASE(owner, epoch, reason?)→ planned', () => {
  it('hands the task back at once with recovery info for the next claimer', async () => {
    const w = await world();
    await claimed(w);
    await w.h.clock.advance(1_000);
    await w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1, progress: 25, message: 'half of it' });
    await w.h.clock.advance(500);
    const view = await w.h.sup.release('t', { owner: 'alice', epoch: 1, reason: 'rate limited' });
    expect(view).toMatchObject({ state: 'planned', substate: 'planned.ready', lease: null, epoch: 1, notBefore: null });
    expect(view.recovery).toMatchObject({ previousOwner: 'alice', previousEpoch: 1, progress: 25, message: 'half of it', timeSpentMs: 1_500 });
    expect(view.recovery!.reason).toContain('rate limited');
    expect(view.recovery!.instructions).toContain('25%');
    const [released] = w.events('released');
    expect(released!.event).toMatchObject({ taskId: 't', owner: 'alice', epoch: 1, reason: 'rate limited' });
    expect(released!.storedPath).toBe('planned.ready');

    const next = await w.h.sup.claim('t', { owner: 'bob' });
    expect(next.epoch).toBe(2);
    expect(next.recovery).toEqual(view.recovery);
    w.check();
  });

  it('publishes a null reason when none is given', async () => {
    const w = await world();
    await claimed(w);
    await w.h.sup.release('t', { owner: 'alice', epoch: 1 });
    expect(w.events('released')[0]!.event.reason).toBeNull();
  });
});

describe('leased —COMPLETE(owner, epoch, result?)→ completed', () => {
  it('records the terminal result, drops the lease and publishes once durable', async () => {
    const w = await world();
    await claimed(w);
    await w.h.clock.advance(4_000);
    const view = await w.h.sup.complete('t', { owner: 'alice', epoch: 1, result: { pr: 42, files: ['a.ts'] } });
    expect(view).toMatchObject({ state: 'completed', lease: null });
    expect(view.terminal).toEqual({ state: 'completed', at: T0 + 4_000, by: 'alice', reason: null, result: { pr: 42, files: ['a.ts'] }, failure: null });
    expect(stored(w.h, 't')!.context.terminal).toEqual(view.terminal);
    const [done] = w.events('completed');
    expect(done!.event).toMatchObject({ taskId: 't', owner: 'alice', epoch: 1, at: T0 + 4_000 });
    expect(done!.storedPath).toBe('completed');
    // the old deadline no longer fires
    await w.h.clock.advance(HOUR);
    expect(w.view().state).toBe('completed');
    expect(w.events('expired')).toHaveLength(0);
    w.check();
  });

  it('stores a null result when none is given', async () => {
    const w = await world();
    await claimed(w);
    expect((await w.h.sup.complete('t', { owner: 'alice', epoch: 1 })).terminal!.result).toBeNull();
  });
});

describe('leased —FAIL(owner, epoch, error, retryable?)→ planned / failed', () => {
  it('retryable with attempts < maxAttempts → planned.backoff with notBefore = now + 30 s', async () => {
    const w = await world();
    await claimed(w);
    await w.h.clock.advance(1_000);
    const view = await w.h.sup.fail('t', { owner: 'alice', epoch: 1, error: 'network', retryable: true });
    expect(view).toMatchObject({ state: 'planned', substate: 'planned.backoff', lease: null, notBefore: T0 + 1_000 + 30_000 });
    expect(view.recovery).toMatchObject({ previousOwner: 'alice', previousEpoch: 1 });
    expect(view.recovery!.reason).toContain('network');
    const [failed] = w.events('failed');
    expect(failed!.event).toMatchObject({ taskId: 't', owner: 'alice', epoch: 1, error: 'network', retryable: true, retryAt: T0 + 31_000 });
    expect(failed!.storedPath).toBe('planned.backoff');
    w.check();
  });

  it('doubles the retry backoff from 30 s up to the 10 min cap', async () => {
    const w = await world({ defaults: { maxAttempts: 10 } });
    await w.h.sup.create({ id: 't' });
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const lease = await w.h.sup.claim('t', { owner: 'alice' });
      const view = await w.h.sup.fail('t', { owner: 'alice', epoch: lease.epoch, error: 'again', retryable: true });
      delays.push(view.notBefore! - w.h.clock.now());
      await w.h.clock.advanceTo(view.notBefore!);
      w.check();
    }
    expect(delays).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000]);
  });

  it('honours per-task retryBackoffMs / maxRetryBackoffMs', async () => {
    const w = await world();
    await w.h.sup.create({ id: 't', maxAttempts: 5, retryBackoffMs: 1_000, maxRetryBackoffMs: 3_000 });
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const lease = await w.h.sup.claim('t', { owner: 'alice' });
      const view = await w.h.sup.fail('t', { owner: 'alice', epoch: lease.epoch, error: 'again', retryable: true });
      delays.push(view.notBefore! - w.h.clock.now());
      await w.h.clock.advanceTo(view.notBefore!);
    }
    expect(delays).toEqual([1_000, 2_000, 3_000, 3_000]);
  });

  it('retryable but attempts = maxAttempts → failed (and, with nothing to undo, compensated)', async () => {
    const w = await world();
    await w.h.sup.create({ id: 't', maxAttempts: 2 });
    let lease = await w.h.sup.claim('t', { owner: 'alice' });
    await w.h.sup.fail('t', { owner: 'alice', epoch: lease.epoch, error: 'one', retryable: true });
    expect(w.view().substate).toBe('planned.backoff');
    await w.h.clock.advanceTo(w.view().notBefore!);
    lease = await w.h.sup.claim('t', { owner: 'alice' });
    const view = await w.h.sup.fail('t', { owner: 'alice', epoch: lease.epoch, error: 'two', retryable: true });
    expect(view.state).toBe('compensated');
    expect(view.attempts).toBe(2);
    expect(view.terminal!.failure).toMatchObject({ owner: 'alice', epoch: 2, error: 'two', retryable: true });
    expect(w.events('failed')[1]!.event).toMatchObject({ retryable: true, retryAt: null });
    w.check();
  });

  it('non-retryable (or retryable unset) → failed even with attempts left', async () => {
    const { compensators, order } = recorder(['undo']);
    const w = await world({ compensators });
    await w.h.sup.create({ id: 'a', compensations: [{ action: 'undo' }] });
    await w.h.sup.create({ id: 'b', compensations: [{ action: 'undo' }] });
    await w.h.sup.claim('a', { owner: 'alice' });
    await w.h.sup.claim('b', { owner: 'alice' });
    await w.h.sup.fail('a', { owner: 'alice', epoch: 1, error: 'fatal', retryable: false });
    await w.h.sup.fail('b', { owner: 'alice', epoch: 1, error: 'fatal' });
    await w.h.clock.settle();
    expect(w.view('a').state).toBe('compensated');
    expect(w.view('b').state).toBe('compensated');
    expect(w.view('a').attempts).toBe(1);
    expect(order()).toEqual(['undo', 'undo']);
  });
});

describe('failed —compensations→ compensated / quarantined', () => {
  it('runs every compensation once, newest-registered first, then is compensated keeping the failure', async () => {
    const { compensators, order, calls } = recorder(['a', 'b', 'c', 'd']);
    const w = await world({ compensators });
    await w.h.sup.create({ id: 't', compensations: [{ action: 'a', args: 1 }, { action: 'b', args: 2 }] });
    await w.h.sup.claim('t', { owner: 'alice' });
    await w.h.sup.addCompensation('t', { owner: 'alice', epoch: 1, action: 'c', args: { branch: 'x' } });
    await w.h.sup.addCompensation('t', { owner: 'alice', epoch: 1, action: 'd' });
    await w.h.clock.advance(1_000);
    await w.h.sup.fail('t', { owner: 'alice', epoch: 1, error: 'broke the build' });
    await w.h.clock.settle();

    expect(order()).toEqual(['d', 'c', 'b', 'a']);
    expect(calls.map((c) => c.args)).toEqual([null, { branch: 'x' }, 2, 1]);
    expect(calls.every((c) => c.taskState === 'failed.running')).toBe(true);
    const view = w.view();
    expect(view.state).toBe('compensated');
    expect(view.compensations.map((c) => [c.action, c.status, c.attempts])).toEqual([
      ['a', 'done', 1],
      ['b', 'done', 1],
      ['c', 'done', 1],
      ['d', 'done', 1],
    ]);
    expect(view.terminal).toMatchObject({ state: 'compensated', failure: { owner: 'alice', epoch: 1, error: 'broke the build', retryable: false } });
    const [compensated] = w.events('compensated');
    expect(compensated!.event).toMatchObject({ taskId: 't' });
    expect(compensated!.storedPath).toBe('compensated');
    w.check();

    // nothing reruns after a restart
    await w.h.restart();
    await w.h.clock.settle();
    expect(order()).toEqual(['d', 'c', 'b', 'a']);
  });

  it('is compensated at once when there is nothing to compensate, keeping the failure', async () => {
    const w = await world();
    await claimed(w);
    const view = await w.h.sup.fail('t', { owner: 'alice', epoch: 1, error: 'nope' });
    expect(view.state).toBe('compensated');
    expect(view.terminal).toMatchObject({ state: 'compensated', by: 'supervisor', failure: { error: 'nope', owner: 'alice', epoch: 1 } });
    expect(w.events('failed')[0]!.event).toMatchObject({ taskId: 't', owner: 'alice', epoch: 1, error: 'nope', retryable: false, retryAt: null });
    expect(w.events('failed')[0]!.storedPath).toBe('compensated');
    expect(w.events('compensated')).toHaveLength(1);
  });

  it('retries a throwing compensation with doubling backoff driven by the clock', async () => {
    const { compensators, order } = recorder(['flaky', 'steady'], { flaky: 2 });
    const w = await world({ compensators });
    await w.h.sup.create({ id: 't', compensations: [{ action: 'steady' }, { action: 'flaky' }], compensationBackoffMs: 1_000 });
    await w.h.sup.claim('t', { owner: 'alice' });
    await w.h.sup.fail('t', { owner: 'alice', epoch: 1, error: 'x' });
    await w.h.clock.settle();
    const t1 = w.h.clock.now();
    expect(order()).toEqual(['flaky']);
    expect(w.view().substate).toBe('failed.retrying');
    expect(w.view().compensations[1]).toMatchObject({ action: 'flaky', status: 'failed', attempts: 1, lastError: 'flaky broke' });
    expect(stored(w.h, 't')!.context.compensationRetryAt).toBe(t1 + 1_000);
    w.check();

    await w.h.clock.advance(999);
    expect(order()).toEqual(['flaky']);
    await w.h.clock.advance(1);
    expect(order()).toEqual(['flaky', 'flaky']);
    expect(w.view().substate).toBe('failed.retrying');
    await w.h.clock.advance(1_999);
    expect(order()).toEqual(['flaky', 'flaky']);
    await w.h.clock.advance(1);
    expect(order()).toEqual(['flaky', 'flaky', 'flaky', 'steady']);
    expect(w.view().state).toBe('compensated');
    expect(w.view().compensations.map((c) => c.attempts)).toEqual([1, 3]);
    w.check();
  });

  it('quarantines on a missing handler, naming the action, without running older entries', async () => {
    const { compensators, order } = recorder(['newer', 'oldest']);
    const w = await world({ compensators });
    await w.h.sup.create({ id: 't', compensations: [{ action: 'oldest' }, { action: 'ghost-cleanup' }, { action: 'newer' }] });
    await w.h.sup.claim('t', { owner: 'alice' });
    await w.h.sup.fail('t', { owner: 'alice', epoch: 1, error: 'x' });
    await w.h.clock.settle();
    expect(order()).toEqual(['newer']);
    const view = w.view();
    expect(view.state).toBe('quarantined');
    expect(view.terminal!.reason).toContain('ghost-cleanup');
    expect(view.terminal!.failure).toMatchObject({ error: 'x' });
    expect(view.compensations.map((c) => c.status)).toEqual(['pending', 'failed', 'done']);
    expect(w.events('compensated')).toHaveLength(0);
    const [q] = w.events('quarantined');
    expect(q!.event).toMatchObject({ taskId: 't', by: 'supervisor', epoch: 1 });
    expect(q!.event.reason).toContain('ghost-cleanup');
    expect(q!.storedPath).toBe('quarantined');
    w.check();
  });

  it('quarantines (never compensates) when a compensation keeps failing after its retries', async () => {
    const { compensators, order } = recorder(['stubborn'], { stubborn: Infinity });
    const w = await world({ compensators });
    await w.h.sup.create({ id: 't', compensations: [{ action: 'stubborn' }], compensationAttempts: 2, compensationBackoffMs: 500 });
    await w.h.sup.claim('t', { owner: 'alice' });
    await w.h.sup.fail('t', { owner: 'alice', epoch: 1, error: 'x' });
    await w.h.clock.settle();
    expect(w.view().substate).toBe('failed.retrying');
    await w.h.clock.advance(500);
    expect(order()).toEqual(['stubborn', 'stubborn']);
    const view = w.view();
    expect(view.state).toBe('quarantined');
    expect(view.terminal!.reason).toContain('stubborn');
    expect(view.compensations[0]).toMatchObject({ status: 'failed', attempts: 2 });
    await w.h.clock.advance(HOUR);
    expect(order()).toHaveLength(2);
    expect(w.events('compensated')).toHaveLength(0);
    w.check();
  });

  it('turns away claims and owner calls while compensating, changing nothing', async () => {
    const { compensators } = recorder(['stubborn'], { stubborn: Infinity });
    const w = await world({ compensators });
    await w.h.sup.create({ id: 't', compensations: [{ action: 'stubborn' }], compensationAttempts: 5 });
    await w.h.sup.claim('t', { owner: 'alice' });
    await w.h.sup.fail('t', { owner: 'alice', epoch: 1, error: 'x' });
    await w.h.clock.settle();
    expect(w.view().substate).toBe('failed.retrying');
    // DESIGN.md is silent on the code here; the implementation answers TERMINAL_TASK
    await refused(w, 't', () => w.h.sup.claim('t', { owner: 'bob' }), 'TERMINAL_TASK');
    await refused(w, 't', () => w.h.sup.heartbeat('t', { owner: 'alice', epoch: 1 }), 'TERMINAL_TASK');
  });
});

describe('any non-terminal —QUARANTINE(by, reason)→ quarantined', () => {
  const reach: Record<string, { holder: string | null; to: (w: World) => Promise<void> }> = {
    'planned.ready': { holder: null, to: async (w) => void (await w.h.sup.create({ id: 't' })) },
    'planned.backoff': {
      holder: null,
      to: async (w) => {
        await claimed(w);
        await w.h.sup.fail('t', { owner: 'alice', epoch: 1, error: 'x', retryable: true });
      },
    },
    leased: { holder: 'alice', to: async (w) => void (await claimed(w)) },
    'stale.grace': {
      holder: 'alice',
      to: async (w) => {
        await claimed(w);
        await intoGrace(w);
      },
    },
    'stale.expired': {
      holder: 'alice',
      to: async (w) => {
        await claimed(w);
        await pastGrace(w);
      },
    },
  };

  it.each(Object.entries(reach))('from %s', async (substate, { holder, to }) => {
    const w = await world();
    await to(w);
    expect(w.view().substate).toBe(substate);
    w.check();
    await w.h.clock.advance(1);
    const view = await w.h.sup.quarantine('t', { by: 'ops', reason: 'poison input' });
    expect(view).toMatchObject({ state: 'quarantined', terminal: { state: 'quarantined', by: 'ops', reason: 'poison input', at: w.h.clock.now() } });
    const [q] = w.events('quarantined');
    expect(q!.event).toMatchObject({ taskId: 't', by: 'ops', reason: 'poison input', owner: holder, epoch: view.epoch });
    expect(q!.storedPath).toBe('quarantined');
    w.check();
    // no timer it had armed changes it afterwards
    const bytes = w.h.bytes();
    await w.h.clock.advance(24 * HOUR);
    expect(w.h.bytes()).toBe(bytes);
    expect(w.view().state).toBe('quarantined');
    w.check();
  });

  it('from failed, during a compensation’s retry backoff: no further attempts, failure and ledger kept', async () => {
    const { compensators, order } = recorder(['stubborn'], { stubborn: Infinity });
    const w = await world({ compensators });
    await w.h.sup.create({ id: 't', compensations: [{ action: 'stubborn' }], compensationAttempts: 5 });
    await w.h.sup.claim('t', { owner: 'alice' });
    await w.h.sup.fail('t', { owner: 'alice', epoch: 1, error: 'boom' });
    await w.h.clock.settle();
    expect(w.view().substate).toBe('failed.retrying');
    const ledger = w.view().compensations;
    const view = await w.h.sup.quarantine('t', { by: 'ops', reason: 'give up' });
    expect(view).toMatchObject({ state: 'quarantined', terminal: { by: 'ops', reason: 'give up', failure: { error: 'boom' } } });
    expect(view.compensations).toEqual(ledger);
    await w.h.clock.advance(HOUR);
    expect(order()).toEqual(['stubborn']);
    expect(w.view().state).toBe('quarantined');
    expect(w.events('quarantined')[0]!.event).toMatchObject({ taskId: 't', by: 'ops', owner: null, epoch: 1 });
    w.check();
  });
});

describe('any —ANNOTATE(metadata)→ same; terminal tasks accept nothing else', () => {
  it('merges metadata on a live task without touching its lease', async () => {
    const w = await world();
    const lease = await claimed(w);
    await w.h.sup.annotate('t', { ticket: 'LH-1' });
    const view = await w.h.sup.annotate('t', { reviewer: 'carol' });
    expect(view.metadata).toEqual({ ticket: 'LH-1', reviewer: 'carol' });
    expect(view.lease).toEqual(lease);
    expect(stored(w.h, 't')!.context.metadata).toEqual({ ticket: 'LH-1', reviewer: 'carol' });
  });

  const terminals: Record<string, (w: World) => Promise<void>> = {
    completed: async (w) => {
      await claimed(w);
      await w.h.sup.complete('t', { owner: 'alice', epoch: 1 });
    },
    compensated: async (w) => {
      await claimed(w);
      await w.h.sup.fail('t', { owner: 'alice', epoch: 1, error: 'x' });
    },
    quarantined: async (w) => {
      await claimed(w);
      await w.h.sup.quarantine('t', { by: 'ops', reason: 'r' });
    },
  };

  it.each(Object.keys(terminals))('%s: annotate is accepted, every other call → TERMINAL_TASK, even with wrong owner or epoch', async (state) => {
    const w = await world();
    await terminals[state]!(w);
    expect(w.view().state).toBe(state);
    w.check();

    for (const [name, call] of Object.entries(OWNER_CALLS)) {
      for (const [owner, epoch] of [
        ['alice', 1],
        ['mallory', 1],
        ['alice', 7],
      ] as const) {
        const error = await refused(w, 't', () => call(w, 't', owner, epoch), 'TERMINAL_TASK');
        expect(error.message, `${name} as ${owner}@${epoch}`).toContain(state);
      }
    }
    await refused(w, 't', () => w.h.sup.claim('t', { owner: 'bob' }), 'TERMINAL_TASK');
    await refused(w, 't', () => w.h.sup.claim('t', { owner: 'alice' }), 'TERMINAL_TASK');
    await refused(w, 't', () => w.h.sup.quarantine('t', { by: 'ops', reason: 'again' }), 'TERMINAL_TASK');
    expect(await w.h.sup.claimNext({ owner: 'bob' })).toBeNull();

    const bytes = w.h.bytes();
    const view = await w.h.sup.annotate('t', { postmortem: 'doc/123' });
    expect(view.metadata).toEqual({ postmortem: 'doc/123' });
    expect(view.state).toBe(state);
    expect(w.h.bytes()).not.toBe(bytes);
    expect(stored(w.h, 't')!.context.metadata).toEqual({ postmortem: 'doc/123' });
    w.check();
  });
});

describe('owner calls are fenced: not_owner, stale_epoch, no_lease', () => {
  describe.each(Object.entries(OWNER_CALLS))('%s', (_name, call) => {
    it('wrong owner → not_owner, nothing changes', async () => {
      const w = await world();
      await claimed(w);
      await conflict(w, 't', () => call(w, 't', 'mallory', 1), 'not_owner');
      await intoGrace(w);
      await conflict(w, 't', () => call(w, 't', 'mallory', 1), 'not_owner');
      w.check();
    });

    it('an older epoch of the same owner → stale_epoch, nothing changes', async () => {
      const w = await world();
      await claimed(w);
      await w.h.sup.release('t', { owner: 'alice', epoch: 1 });
      await w.h.sup.claim('t', { owner: 'alice' });
      await conflict(w, 't', () => call(w, 't', 'alice', 1), 'stale_epoch');
      w.check();
    });

    it('no lease → no_lease, nothing changes', async () => {
      const w = await world();
      await w.h.sup.create({ id: 't' });
      await conflict(w, 't', () => call(w, 't', 'alice', 1), 'no_lease');
      await w.h.sup.claim('t', { owner: 'alice' });
      await w.h.sup.release('t', { owner: 'alice', epoch: 1 });
      await conflict(w, 't', () => call(w, 't', 'alice', 1), 'no_lease');
    });
  });
});

describe('attempts, maxAttempts, maxStale and defaults', () => {
  it('uses DESIGN.md’s defaults: lease 5 min, grace 1 min, 3 attempts, 3 expiries, 10 renewals, 30 s → 10 min backoff', async () => {
    const h = await harness();
    await h.sup.create({ id: 't' });
    expect(h.sup.get('t')!.limits).toMatchObject({
      leaseMs: 300_000,
      graceMs: 60_000,
      maxAttempts: 3,
      maxStale: 3,
      maxRenewals: 10,
      retryBackoffMs: 30_000,
      maxRetryBackoffMs: 600_000,
    });
    expect(DEFAULT_LIMITS).toMatchObject(h.sup.get('t')!.limits);
    const lease = await h.sup.claim('t', { owner: 'alice' });
    expect(lease.expiresAt).toBe(T0 + 300_000);
    await h.clock.advance(300_000);
    expect(h.sup.get('t')!.lease!.graceEndsAt).toBe(T0 + 360_000);
    // third expiry quarantines
    await h.clock.advance(60_000);
    for (const owner of ['bob', 'carol']) {
      await h.sup.claim('t', { owner });
      await h.clock.advance(360_000);
    }
    expect(h.sup.get('t')).toMatchObject({ state: 'quarantined', staleCount: 3, attempts: 3 });
  });

  it('lets supervisor defaults and per-task fields override them', async () => {
    const w = await world({ defaults: { leaseMs: 2_000, maxRenewals: 4 } });
    await w.h.sup.create({ id: 'a' });
    await w.h.sup.create({ id: 'b', leaseMs: 3_000, graceMs: 0, maxAttempts: 7, maxStale: 1 });
    expect(w.view('a').limits).toMatchObject({ leaseMs: 2_000, graceMs: GRACE, maxRenewals: 4, maxAttempts: 3 });
    expect(w.view('b').limits).toMatchObject({ leaseMs: 3_000, graceMs: 0, maxRenewals: 4, maxAttempts: 7, maxStale: 1 });
    expect((await w.h.sup.claim('a', { owner: 'x' })).expiresAt).toBe(T0 + 2_000);
    expect((await w.h.sup.claim('b', { owner: 'x' })).expiresAt).toBe(T0 + 3_000);
  });

  it('refuses leaseMs ≤ 0 and graceMs < 0 with INVALID_INPUT; graceMs 0 is allowed', async () => {
    const w = await world();
    expect((await rejection(w.h.sup.create({ id: 'x', leaseMs: 0 }))).code).toBe('INVALID_INPUT');
    expect((await rejection(w.h.sup.create({ id: 'x', graceMs: -1 }))).code).toBe('INVALID_INPUT');
    expect((await rejection(w.h.sup.claim('x', { owner: 'a', leaseMs: 0 }))).code).toBe('INVALID_INPUT');
    await w.h.sup.create({ id: 'x', graceMs: 0 });
    expect(w.view('x').limits.graceMs).toBe(0);
    for (const defaults of [{ leaseMs: 0 }, { graceMs: -1 }]) {
      expect((await rejection(createSupervisor({ store: memoryStore(), defaults }))).code).toBe('INVALID_INPUT');
    }
  });

  it('counts every claim in attempts: expiries and releases use them up too', async () => {
    const w = await world();
    await claimed(w, { create: { maxAttempts: 2 } });
    await pastGrace(w);
    await w.h.sup.claim('t', { owner: 'bob' });
    expect(w.view().attempts).toBe(2);
    // attempts (2) = maxAttempts: a retryable failure is now final
    const view = await w.h.sup.fail('t', { owner: 'bob', epoch: 2, error: 'flaky', retryable: true });
    expect(view.state).toBe('compensated');
    w.check();
  });
});

describe('answers are copies: nothing a caller does to one reaches the task', () => {
  it('leaves the task and the file as they were when views, leases and lists are changed', async () => {
    const w = await world();
    await w.h.sup.create({ id: 't', spec: { repo: 'acme/app', steps: [{ name: 'build' }] }, labels: ['x'] });
    const lease = await w.h.sup.claim('t', { owner: 'alice' });
    const before = structuredClone(w.view());
    lease.graceExtensions.sneaky = 1;
    const view = w.h.sup.get('t')!;
    (view.spec as { steps: { name: string }[] }).steps[0]!.name = 'changed';
    view.labels.push('y');
    view.audit.length = 0;
    view.lease!.owner = 'mallory';
    w.h.sup.list()[0]!.limits.leaseMs = 1;
    expect(w.view()).toEqual(before);
    await w.h.sup.annotate('t', { note: 'written after the changes' });
    const { lease: storedLease, spec, labels, limits } = stored(w.h, 't')!.context;
    expect({ lease: storedLease, spec, labels, limits }).toEqual({ lease: storedLease && { ...storedLease, graceExtensions: {} }, spec: before.spec, labels: ['x'], limits: before.limits });
    expect(storedLease!.owner).toBe('alice');
  });

  it('copies JSON data key for key, "__proto__" included, without touching prototypes', () => {
    const data = JSON.parse('{"__proto__":{"polluted":true},"list":[1,{"deep":[null,"x"]}],"n":null}') as Record<string, unknown>;
    const copy = copyJson(data);
    expect(copy).toEqual(data);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.hasOwn(copy, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(copy.list).not.toBe(data.list);
    expect((copy.list as unknown[])[1]).not.toBe((data.list as unknown[])[1]);
  });
});
