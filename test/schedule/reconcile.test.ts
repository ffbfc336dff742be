// The reconcile sweep, the safety net: with every timer in place it finds nothing (count 0);
// when a timer is lost, a lease, grace period or backoff whose deadline passed is moved on,
// persisted, reported through the lifecycle events and counted in the stats.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import type { Clock, LifecycleEvent } from '../../src/index.js';
import { createTestClock, type TestClock } from '../../src/testing.js';
import { harness, T0 } from '../support.js';

const S = 1_000;

/** The test clock as the supervisor sees it, with a way to lose every timer armed so far. */
function lossy(clock: TestClock): { clock: Clock; loseTimers(): void } {
  const armed = new Set<number>();
  return {
    clock: {
      now: () => clock.now(),
      setTimeout(fn, ms) {
        const handle = clock.setTimeout(fn, ms);
        armed.add(handle);
        return handle;
      },
      clearTimeout(handle) {
        armed.delete(handle);
        clock.clearTimeout(handle);
      },
      runDue: () => clock.runDue(),
      attach: (settled) => clock.attach(settled),
    },
    loseTimers() {
      for (const handle of armed) clock.clearTimeout(handle);
      armed.clear();
    },
  };
}

const storedState = (file: string, id: string) => (JSON.parse(readFileSync(file, 'utf8')) as { tasks: Record<string, { state: unknown }> }).tasks[id]?.state;

it('finds nothing to do when every timer fired: the count stays 0', async () => {
  const h = await harness({ defaults: { leaseMs: 60 * S, graceMs: 10 * S, retryBackoffMs: 120 * S } });
  for (const id of ['leased', 'stale', 'expired', 'backoff', 'planned']) await h.sup.create({ id });
  const leased = await h.sup.claim('leased', { owner: 'w', leaseMs: 600 * S });
  await h.sup.claim('stale', { owner: 'w' });
  await h.sup.claim('expired', { owner: 'w', leaseMs: S });
  const backoff = await h.sup.claim('backoff', { owner: 'w' });
  await h.sup.fail('backoff', { owner: 'w', epoch: backoff.epoch, error: 'flaky', retryable: true });
  await h.clock.advance(61 * S);
  await h.sup.heartbeat('leased', { owner: 'w', epoch: leased.epoch });
  expect(h.sup.list().map((t) => [t.id, t.substate])).toEqual([
    ['leased', 'leased'],
    ['stale', 'stale.grace'],
    ['expired', 'stale.expired'],
    ['backoff', 'planned.backoff'],
    ['planned', 'planned.ready'],
  ]);
  const before = h.bytes();

  const result = await h.sup.runJob('reconcile');
  expect(result).toEqual({ job: 'reconcile', at: h.clock.now(), count: 0, taskIds: [] });
  expect(h.bytes()).toBe(before);
  expect(h.sup.stats().sweeps.reconcile).toEqual({ runs: 1, count: 0, lastAt: h.clock.now() });
});

it('moves a lease whose timer was lost, persists it, publishes `expired` and counts it', async () => {
  const testClock = createTestClock(T0);
  const timers = lossy(testClock);
  const warnings: string[] = [];
  const expired: LifecycleEvent[] = [];
  const h = await harness(
    {
      clock: timers.clock,
      defaults: { leaseMs: 60 * S, graceMs: 10 * S },
      logger: { warn: (message: string) => void warnings.push(message) },
      on: { expired: (event) => void expired.push(event) },
    },
    testClock,
  );
  await h.sup.create({ id: 'lost' });
  await h.sup.create({ id: 'fine' });
  await h.sup.claim('lost', { owner: 'w' });
  timers.loseTimers();
  await h.sup.claim('fine', { owner: 'w', leaseMs: 600 * S });
  expect(testClock.pendingTimers).toBe(1);

  await h.clock.advance(61 * S);
  // Nothing moved it: its deadline passed, its state did not.
  expect(h.sup.get('lost')!.substate).toBe('leased');
  expect(expired).toEqual([]);

  const result = await h.sup.runJob('reconcile');
  expect(result).toMatchObject({ job: 'reconcile', count: 1, taskIds: ['lost'] });
  expect(h.sup.get('lost')!.substate).toBe('stale.grace');
  expect(storedState(h.file, 'lost')).toEqual({ stale: 'grace' });
  // Expired at its stored deadline, not at the time the sweep found it.
  expect(expired).toMatchObject([{ type: 'expired', taskId: 'lost', at: T0 + 60 * S }]);
  expect(h.sup.get('lost')!.lease!.graceEndsAt).toBe(T0 + 70 * S);
  expect(warnings.some((w) => w.includes('reconcile moved 1 task') && w.includes('lost'))).toBe(true);
  expect(h.sup.stats().sweeps.reconcile).toMatchObject({ runs: 1, count: 1 });

  // The re-armed grace timer works again on its own.
  await h.clock.advance(10 * S);
  expect(h.sup.get('lost')!.substate).toBe('stale.expired');
  expect((await h.sup.runJob('reconcile')).count).toBe(0);
  expect(h.sup.stats().sweeps.reconcile).toMatchObject({ runs: 2, count: 1 });
});

it('carries a task through every deadline it missed, and handles backoffs too', async () => {
  const testClock = createTestClock(T0);
  const timers = lossy(testClock);
  const h = await harness(
    { clock: timers.clock, defaults: { leaseMs: 60 * S, graceMs: 10 * S, retryBackoffMs: 30 * S }, logger: { warn: () => {} } },
    testClock,
  );
  await h.sup.create({ id: 'lease' });
  await h.sup.create({ id: 'backoff' });
  await h.sup.claim('lease', { owner: 'w' });
  const b = await h.sup.claim('backoff', { owner: 'w' });
  await h.sup.fail('backoff', { owner: 'w', epoch: b.epoch, error: 'flaky', retryable: true });
  timers.loseTimers();
  await h.clock.advance(3_600 * S);
  expect(h.sup.list().map((t) => t.substate)).toEqual(['leased', 'planned.backoff']);

  const result = await h.sup.runJob('reconcile');
  // Oldest deadline first: the backoff (30 s) before the lease (60 s).
  expect(result.taskIds).toEqual(['backoff', 'lease']);
  expect(h.sup.list().map((t) => t.substate)).toEqual(['stale.expired', 'planned.ready']);
  expect(storedState(h.file, 'lease')).toEqual({ stale: 'expired' });
});
