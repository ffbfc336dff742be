// Clock faults (issue 7, item 5): the production clock (systemClock) while the wall clock
// jumps an hour backward and an hour forward between heartbeats. Node's timers run on the
// monotonic clock and Date.now() on the wall clock; vitest's fake timers model exactly that
// split: `vi.setSystemTime` moves Date.now() without moving any timer, and
// `vi.advanceTimersByTimeAsync` lets real (monotonic) time pass. Deadlines are stored as
// wall-clock instants, so:
//  - after a backward jump no lease is lost early: it lasts until the wall clock reaches its
//    stored deadline again (longer in elapsed time); heartbeats meanwhile are refused
//    `not_extending` (the lease already runs past what they would ask) and the lease stays
//    the holder's — it can still complete; heartbeats extend again once the clock catches up;
//  - after a forward jump every deadline that the jump passed fires, in deadline order, at the
//    next call (each call first fires what is due) or at the clock's next wake-up, at its
//    stored instant (audit times are the deadlines, not the time of the jump);
//  - a forward jump must not let a second supervisor take the lock of a live one (proper-
//    lockfile judges staleness by comparing the lock's mtime with the wall clock).
// Runs on memoryStore and on the JSON file store; the invariant checker runs after each step.
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createSupervisor,
  jsonFileStore,
  LeaseholdError,
  memoryStore,
  systemClock,
  type LifecycleEvent,
  type Store,
  type Supervisor,
} from '../../src/index.js';
import { createInvariantChecker } from '../invariants.js';
import { rejection } from '../support.js';
import { report, tempDir } from './support.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const folders: { remove(): void }[] = [];
const opened: Supervisor[] = [];
beforeEach(() => {
  // Start at the real wall time: the JSON store's lock compares the lock directory's mtime
  // (set by the kernel) with Date.now().
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: Date.now() });
});
afterEach(async () => {
  for (const sup of opened.splice(0)) await sup.close();
  vi.useRealTimers();
  for (const folder of folders.splice(0)) folder.remove();
});

const STORES: Record<string, () => Store> = {
  memoryStore: () => memoryStore(),
  jsonFileStore: () => {
    const folder = tempDir('clock');
    folders.push(folder);
    return jsonFileStore(join(folder.dir, 'store.json'));
  },
};

async function open(store: Store) {
  const events: LifecycleEvent[] = [];
  const sup = await createSupervisor({
    store,
    clock: systemClock(),
    schedule: false,
    logger: { warn: () => {} },
    defaults: { leaseMs: 5 * MINUTE, graceMs: MINUTE },
    on: { expired: (e) => events.push(e), quarantined: (e) => events.push(e) },
  });
  opened.push(sup);
  return { sup, events };
}

/** Real time passes (monotonic timers fire, the wall clock moves with them). */
const elapse = (ms: number) => vi.advanceTimersByTimeAsync(ms);
/**
 * Waits until what the fired timers changed is durable (the JSON store writes with real I/O,
 * which fake timers do not wait for): a write queued behind theirs resolves after them.
 */
let flushes = 0;
const flush = (sup: Supervisor, id: string) => sup.annotate(id, { flush: flushes++ });
/** The wall clock jumps; no timer moves. */
const jump = (ms: number) => vi.setSystemTime(Date.now() + ms);

let checked = 0;

for (const [name, makeStore] of Object.entries(STORES)) {
  describe(`wall-clock jumps on the system clock (${name})`, () => {
    it('backward by an hour between heartbeats: the lease is not lost early, the holder keeps it', async () => {
      const { sup, events } = await open(makeStore());
      const checker = createInvariantChecker();
      await sup.create({ id: 'a' });
      const claimed = await sup.claim('a', { owner: 'agent' });
      checker.acknowledge(claimed, Date.now(), 'claim');
      await elapse(2 * MINUTE);
      const renewed = await sup.heartbeat('a', { owner: 'agent', epoch: claimed.epoch, progress: 10 });
      checker.acknowledge(renewed, Date.now(), 'renew');
      const deadline = renewed.expiresAt;

      jump(-HOUR);
      // A heartbeat would now ask for less than the lease already has: refused, lease kept.
      const refused = await rejection(sup.heartbeat('a', { owner: 'agent', epoch: claimed.epoch, progress: 20 }));
      expect(refused).toMatchObject({ code: 'LEASE_CONFLICT', reason: 'not_extending' });
      // Ten real minutes later (twice the lease) the lease is still the holder's.
      await elapse(10 * MINUTE);
      expect(sup.get('a')).toMatchObject({ state: 'leased', lease: { owner: 'agent', expiresAt: deadline } });
      expect((await rejection(sup.claim('a', { owner: 'thief' }))).reason).toBe('held');
      expect(events).toEqual([]);
      checker.check(sup, Date.now());
      // The wall clock catches up with the deadline minus a lease: heartbeats extend again.
      await elapse(deadline - 5 * MINUTE - Date.now() + 1_000);
      const again = await sup.heartbeat('a', { owner: 'agent', epoch: claimed.epoch, progress: 30 });
      checker.acknowledge(again, Date.now(), 'renew');
      expect(again.expiresAt).toBeGreaterThan(deadline);
      // And it expires exactly when the wall clock reaches its deadline, not an hour early.
      await elapse(again.expiresAt - Date.now() - 1);
      expect(sup.get('a')!.state).toBe('leased');
      await elapse(1);
      await flush(sup, 'a');
      expect(sup.get('a')!.state).toBe('stale');
      expect(events.map((e) => [e.type, e.at])).toEqual([['expired', again.expiresAt]]);
      checker.check(sup, Date.now());
      checked++;
    });

    it('backward jump: the holder can still complete its lease', async () => {
      const { sup } = await open(makeStore());
      await sup.create({ id: 'a' });
      const lease = await sup.claim('a', { owner: 'agent' });
      jump(-HOUR);
      await elapse(4 * MINUTE);
      const done = await sup.complete('a', { owner: 'agent', epoch: lease.epoch, result: { ok: true } });
      expect(done.state).toBe('completed');
      checked++;
    });

    it('forward by an hour: every passed deadline fires in deadline order, at its stored instant', async () => {
      const { sup, events } = await open(makeStore());
      const checker = createInvariantChecker();
      // Created in an order unrelated to their deadlines; the last one is a poison task whose
      // grace also ends inside the jump (quarantined after maxStale expiries).
      const minutes = { t3: 3, t1: 1, t5: 5, t2: 2, t4: 4 };
      const deadlines = new Map<string, number>();
      for (const [id, m] of Object.entries(minutes)) {
        await sup.create({ id, maxStale: id === 't5' ? 1 : 3 });
        const lease = await sup.claim(id, { owner: `agent-${id}`, leaseMs: m * MINUTE });
        checker.acknowledge(lease, Date.now(), 'claim');
        deadlines.set(id, lease.expiresAt);
      }
      await elapse(30_000);
      jump(HOUR);
      // The clock's next wake-up (the earliest deadline's remaining monotonic delay) fires them all.
      await elapse(MINUTE);
      const expected = [...deadlines]
        .flatMap(([id, at]) => [{ id, type: 'expired', at }, ...(id === 't5' ? [{ id, type: 'quarantined', at: at + MINUTE }] : [])])
        .sort((a, b) => a.at - b.at);
      const seen = () => events.map((e) => ({ id: e.taskId, type: e.type, at: e.at }));
      // In memory the wake-up alone has made it all durable and heard; on disk, once the I/O is done.
      if (name === 'memoryStore') expect(seen()).toEqual(expected);
      await flush(sup, 't1');
      expect(seen()).toEqual(expected);
      for (const [id, at] of deadlines) {
        const view = sup.get(id)!;
        expect(view.audit.find((a) => a.event === 'expired')?.at).toBe(at);
        expect(view.substate).toBe(id === 't5' ? 'quarantined' : 'stale.expired');
      }
      checker.check(sup, Date.now());
      const next = await sup.claimNext({ owner: 'late' });
      expect(next).not.toBeNull();
      checker.acknowledge(next!, Date.now(), 'claim');
      checker.check(sup, Date.now());
      checked++;
    });

    it('forward jump: the next call fires what is due before it is decided', async () => {
      const { sup, events } = await open(makeStore());
      await sup.create({ id: 'a' });
      await sup.create({ id: 'b' });
      const a = await sup.claim('a', { owner: 'agent', leaseMs: 2 * MINUTE });
      await sup.claim('b', { owner: 'agent', leaseMs: MINUTE });
      jump(HOUR);
      // No timer has woken yet; a claim on the expired lease is decided after its expiry.
      const reclaimed = await sup.claim('a', { owner: 'next' });
      await flush(sup, 'b');
      expect(reclaimed.epoch).toBe(a.epoch + 1);
      expect(reclaimed.recovery).toMatchObject({ previousOwner: 'agent', previousEpoch: a.epoch });
      expect(events.filter((e) => e.type === 'expired').map((e) => e.taskId)).toEqual(['b', 'a']);
      checked++;
    });
  });
}

describe('wall-clock jumps and the store lock', () => {
  // proper-lockfile alone would judge the live lock stale by its mtime against the jumped wall
  // clock; the store asks the holder's pid first.
  it('a forward jump past the stale-lock threshold does not let a second supervisor take a live store', async () => {
    const store = STORES.jsonFileStore!();
    const { sup } = await open(store);
    await sup.create({ id: 'a' });
    jump(HOUR);
    const second = await createSupervisor({ store: jsonFileStore(store.location), schedule: false }).then(
      (other) => {
        opened.push(other);
        return undefined;
      },
      (error: unknown) => error,
    );
    // Two supervisors writing one file would lose acknowledged writes.
    expect(second, 'a second supervisor opened a store held by a live one after a wall-clock jump').toBeInstanceOf(LeaseholdError);
    expect((second as LeaseholdError).code).toBe('STORE_LOCKED');
    checked++;
  });
});

afterAll(() => {
  report(`clock faults: ${checked} wall-clock jump scenarios (±1 h, system clock under fake timers) passed`);
});
