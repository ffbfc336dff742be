// A closed supervisor holds no timer, whichever way it closed: close(), the loss of its store's
// ownership, or a write refused while it closes (its tasks go back to what the disk holds, and
// that must not re-arm their expiries). On the wall clock such a timer keeps the process alive
// until it fires: a deposed `leasehold serve` stayed up for its longest lease.
import { describe, expect, it } from 'vitest';
import { createSupervisor, memoryStore, StoreLockedError, type Compensator, type Store, type StoreOwnership } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { rejection, T0 } from '../support.js';

const LEASE = 60_000;

/**
 * A memory store whose next commit can be held in flight and then failed, and whose ownership
 * can be lost (as a PostgreSQL store's is when another supervisor takes it over).
 */
function heldStore() {
  const inner = memoryStore();
  const listeners = new Set<(ownership: StoreOwnership) => void>();
  let ownership: StoreOwnership = { generation: 1, skewMs: 0, lost: false };
  let gate: { entered: () => void; outcome: Promise<void> } | undefined;
  const store: Store = {
    location: inner.location,
    open: () => inner.open(),
    close: () => inner.close(),
    async commit(changes, meta) {
      const held = gate;
      gate = undefined;
      if (held) {
        held.entered();
        await held.outcome;
      }
      if (ownership.lost) throw new StoreLockedError(inner.location, 'ownership lost');
      return inner.commit(changes, meta);
    },
    ownership: () => ownership,
    onOwnership(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
  return {
    store,
    /** Holds the next commit once it reaches the store, until `fail` lets it go (and fail). */
    holdNext() {
      let entered!: () => void;
      let fail!: (error: Error) => void;
      const reached = new Promise<void>((resolve) => (entered = resolve));
      const outcome = new Promise<void>((_, reject) => (fail = reject));
      gate = { entered, outcome };
      return { reached, fail };
    },
    /** Another supervisor took the store over: the listeners hear it, commits are refused. */
    lose() {
      ownership = { ...ownership, lost: true };
      for (const listener of [...listeners]) listener(ownership);
    },
  };
}

/** Bounded: lets the close under way run until it has cancelled the tasks' own timers. */
async function untilNoTimer(clock: ReturnType<typeof createTestClock>) {
  for (let turn = 0; turn < 200 && clock.pendingTimers > 0; turn++) await new Promise((resolve) => setImmediate(resolve));
  expect(clock.pendingTimers, 'the close cancelled the timers').toBe(0);
}

async function leased() {
  const clock = createTestClock(T0, { awaitWork: false });
  const held = heldStore();
  const sup = await createSupervisor({ store: held.store, clock, schedule: false, logger: { warn: () => {} } });
  await sup.create({ id: 't' });
  const lease = await sup.claim('t', { owner: 'w', leaseMs: LEASE });
  expect(clock.pendingTimers).toBe(1);
  // Later, so that a heartbeat lengthens the lease.
  await clock.advance(1_000);
  return { clock, held, sup, lease };
}

describe('a closed supervisor holds no timer', () => {
  it('after close(), with leases, a backoff, grace and restored tasks waiting for their deadlines', async () => {
    const clock = createTestClock(T0, { awaitWork: false });
    const store = memoryStore();
    let sup = await createSupervisor({ store, clock, schedule: false });
    for (const id of ['a', 'b', 'c', 'd']) await sup.create({ id, graceMs: 30_000, retryBackoffMs: 30_000 });
    await sup.claim('a', { owner: 'w', leaseMs: LEASE });
    await sup.claim('b', { owner: 'w', leaseMs: 1_000 });
    await sup.claim('c', { owner: 'w' });
    await sup.fail('c', { owner: 'w', epoch: 1, error: 'again', retryable: true });
    await clock.advance(2_000);
    expect(sup.get('b')!.substate).toBe('stale.grace');
    await sup.close();
    expect(clock.pendingTimers).toBe(0);
    // Reopened: the timed tasks wait in the resume queue (one timer), and close forgets them.
    sup = await createSupervisor({ store, clock, schedule: false });
    expect(clock.pendingTimers).toBeGreaterThan(0);
    await sup.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it('after a write refused while it closes: the task is rolled back, and its expiry is not re-armed', async () => {
    const { clock, held, sup, lease } = await leased();
    const write = held.holdNext();
    const beat = sup.heartbeat('t', { owner: 'w', epoch: lease.epoch, progress: 50 });
    await write.reached;
    const closing = sup.close();
    await untilNoTimer(clock);
    write.fail(new Error('EIO: i/o error'));
    expect((await rejection(beat)).code).toBe('STORE_WRITE_FAILED');
    await closing;
    expect(clock.pendingTimers, 'a timer armed after close').toBe(0);
    // Memory is what the disk holds: the heartbeat never happened.
    expect(sup.get('t')).toMatchObject({ state: 'leased', progress: 0, lease: { expiresAt: lease.expiresAt } });
  });

  it('after losing its ownership while a write is in flight: deposed, that write refused, no timer', async () => {
    const { clock, held, sup, lease } = await leased();
    const write = held.holdNext();
    const beat = sup.heartbeat('t', { owner: 'w', epoch: lease.epoch, progress: 50 });
    await write.reached;
    // Found by a renewal while the heartbeat's write waits: the supervisor closes itself.
    held.lose();
    expect(sup.role).toBe('deposed');
    await untilNoTimer(clock);
    write.fail(new StoreLockedError(held.store.location, 'ownership lost'));
    expect((await rejection(beat)).code).toBe('STORE_LOCKED');
    await sup.closed;
    expect(clock.pendingTimers, 'a timer armed after close').toBe(0);
    expect(sup.role).toBe('deposed');
  });

  it('after a compensation that ends while it closes and whose outcome cannot be written: left for the next open, no timer', async () => {
    const clock = createTestClock(T0, { awaitWork: false });
    const held = heldStore();
    let finish!: () => void;
    const slow: Compensator = () => new Promise<void>((resolve) => (finish = resolve));
    const sup = await createSupervisor({ store: held.store, clock, schedule: false, compensators: { slow }, logger: { warn: () => {} } });
    await sup.create({ id: 't', compensations: [{ action: 'slow' }] });
    await sup.claim('t', { owner: 'w' });
    await sup.fail('t', { owner: 'w', epoch: 1, error: 'gave up' });
    // The attempt is on disk as running and the handler was called.
    for (let turn = 0; turn < 200 && finish === undefined; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(sup.get('t')!.substate).toBe('failed.running');
    const closing = sup.close();
    // Close waits for the running compensation, with its timeout armed on the clock.
    for (let turn = 0; turn < 200 && clock.pendingTimers === 0; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(clock.pendingTimers, 'the close timeout').toBe(1);
    const write = held.holdNext();
    finish();
    await write.reached;
    write.fail(new Error('EIO: i/o error'));
    await closing;
    expect(clock.pendingTimers, 'a timer armed after close').toBe(0);
    expect(sup.get('t')).toMatchObject({ substate: 'failed.running', compensations: [{ status: 'running', attempts: 1 }] });
  });
});
