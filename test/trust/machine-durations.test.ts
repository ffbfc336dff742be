// Issue #11 item 2: every computed duration is checked where it is made. A lease policy that
// answers NaN, Infinity, a negative or sub-millisecond lease, a non-number, or throws, is
// logged and the task's own limits are used: nothing unwritable reaches a record, so a call
// batched with it is never failed by it. Retry and compensation backoffs stay finite and
// bounded however many attempts there were.
import { describe, expect, it } from 'vitest';
import { COMPENSATION_BACKOFF_CAP_MS, compensationDelayMs, retryDelayMs } from '../../machines/task.durations.js';
import type { TaskContext, TaskLimits } from '../../machines/task.types.js';
import { createSupervisor, memoryStore, type LeasePolicy, type Logger } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { harness, T0 } from '../support.js';

const LIMITS = { leaseMs: 60_000, graceMs: 5_000 };

function recorder() {
  const warnings: string[] = [];
  const logger: Logger = { warn: (message: string) => void warnings.push(message), info: () => {} };
  return { warnings, logger };
}

/** A policy that answers sensibly for every task but "b", for which it answers `bad`. */
function policyBreakingB(which: 'leaseMs' | 'graceMs', bad: () => unknown, on: 'claim' | 'heartbeat' = 'claim'): LeasePolicy {
  const answer = (good: number) => (input: { task: { id: string }; kind?: string }) =>
    (input.task.id === 'b' && (input.kind ?? 'claim') === on ? bad() : good) as number;
  return {
    name: 'breaks-b',
    leaseMs: which === 'leaseMs' ? answer(30_000) : () => 30_000,
    graceMs: which === 'graceMs' ? answer(2_000) : () => 2_000,
  };
}

const BAD: [string, () => unknown][] = [
  ['NaN', () => NaN],
  ['Infinity', () => Infinity],
  ['a negative number', () => -5],
  ['less than 1 ms', () => 0.5],
  ['a string', () => '1000'],
  ['undefined', () => undefined],
  ['a throw', () => { throw new Error('policy bug'); }],
];

describe('lease policy outputs are checked where the supervisor asks', () => {
  it.each(BAD)('a leaseMs of %s for one task falls back to its own leaseMs and fails no batched claim', async (_, bad) => {
    const { warnings, logger } = recorder();
    const h = await harness({ defaults: LIMITS, policy: policyBreakingB('leaseMs', bad), logger });
    await Promise.all([h.sup.create({ id: 'a' }), h.sup.create({ id: 'b' })]);

    const [a, b] = await Promise.all([h.sup.claim('a', { owner: 'x' }), h.sup.claim('b', { owner: 'y' })]);
    expect(a.expiresAt).toBe(T0 + 30_000);
    expect(b).toMatchObject({ leaseMs: 60_000, expiresAt: T0 + 60_000, graceMs: 2_000 });
    expect(warnings.some((w) => w.includes('"b"') && w.includes('leaseMs'))).toBe(true);
    expect(h.durable().tasks.b!.context.lease).toMatchObject({ leaseMs: 60_000, expiresAt: T0 + 60_000 });
  });

  it.each(BAD.filter(([name]) => name !== 'less than 1 ms'))('a graceMs of %s falls back to the task’s own graceMs', async (_, bad) => {
    const { warnings, logger } = recorder();
    const h = await harness({ defaults: LIMITS, policy: policyBreakingB('graceMs', bad), logger });
    await Promise.all([h.sup.create({ id: 'a' }), h.sup.create({ id: 'b' })]);

    const [a, b] = await Promise.all([h.sup.claim('a', { owner: 'x' }), h.sup.claim('b', { owner: 'y' })]);
    expect(a.graceMs).toBe(2_000);
    expect(b.graceMs).toBe(5_000);
    expect(warnings.some((w) => w.includes('"b"') && w.includes('graceMs'))).toBe(true);
  });

  it.each(BAD)('a heartbeat’s leaseMs of %s renews by the lease’s own leaseMs and fails no batched heartbeat', async (_, bad) => {
    const { warnings, logger } = recorder();
    const h = await harness({ defaults: LIMITS, policy: policyBreakingB('leaseMs', bad, 'heartbeat'), logger });
    await Promise.all([h.sup.create({ id: 'a' }), h.sup.create({ id: 'b' })]);
    const [la, lb] = await Promise.all([h.sup.claim('a', { owner: 'x' }), h.sup.claim('b', { owner: 'y' })]);
    await h.clock.advance(10_000);

    const [a, b] = await Promise.all([
      h.sup.heartbeat('a', { owner: 'x', epoch: la.epoch }),
      h.sup.heartbeat('b', { owner: 'y', epoch: lb.epoch, progress: 10 }),
    ]);
    expect(a.expiresAt).toBe(T0 + 40_000);
    expect(b.expiresAt).toBe(T0 + 10_000 + 30_000);
    expect(warnings.some((w) => w.includes('"b"'))).toBe(true);
  });

  it('a grace extension that is not a finite, positive duration within the limits grants nothing, and is logged', async () => {
    const { warnings, logger } = recorder();
    for (const extendMs of [NaN, Infinity, -1, 0, 1e300, '5000'] as unknown[]) {
      const h = await harness({
        defaults: { leaseMs: 1_000, graceMs: 1_000 },
        policy: { name: 'odd-grace', leaseMs: () => 1_000, graceMs: () => 1_000, extendGrace: () => ({ extendMs: extendMs as number, reason: 'odd' }) },
        logger,
      });
      await h.sup.create({ id: 'a' });
      await h.sup.claim('a', { owner: 'x' });
      await h.clock.advance(2_000);
      expect(h.sup.get('a')!.substate).toBe('stale.expired');
    }
    expect(warnings.filter((w) => w.includes('grace extension')).length).toBe(6);
  });
});

describe('retry backoff', () => {
  it('stays finite with retryBackoffMs 0 after more than 1,024 attempts: every retryable fail is accepted', async () => {
    const sup = await createSupervisor({ store: memoryStore(), clock: createTestClock(T0), schedule: false, logger: recorder().logger });
    await sup.create({ id: 'a', retryBackoffMs: 0, maxAttempts: 1_200 });
    // Every call enters the mailbox at once, in order; the epoch of the i-th claim is i.
    const calls: Promise<unknown>[] = [];
    for (let epoch = 1; epoch <= 1_100; epoch++) {
      calls.push(sup.claim('a', { owner: 'x' }));
      calls.push(sup.fail('a', { owner: 'x', epoch, error: 'flaky', retryable: true }));
    }
    const results = await Promise.allSettled(calls);
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)).slice(0, 1)).toEqual([]);
    expect(sup.get('a')).toMatchObject({ state: 'planned', attempts: 1_100, notBefore: expect.any(Number) });
    await sup.close();
  });

  it('never exceeds maxRetryBackoffMs and is never NaN, whatever the attempt count', () => {
    for (const retryBackoffMs of [0, 1, 30_000, 315_360_000_000]) {
      for (const attempts of [0, 1, 2, 40, 1_024, 1_025, 1_100, 1_000_000]) {
        const delay = retryDelayMs(context({ retryBackoffMs, maxRetryBackoffMs: 600_000 }, attempts));
        expect(Number.isFinite(delay) && delay >= 0 && delay <= 600_000).toBe(true);
      }
    }
  });
});

describe('compensation backoff', () => {
  it('with compensationBackoffMs 0 and more than 1,024 attempts, a failing compensation still ends quarantined', async () => {
    let calls = 0;
    const clock = createTestClock(T0);
    const sup = await createSupervisor({
      store: memoryStore(),
      clock,
      schedule: false,
      logger: recorder().logger,
      compensators: {
        undo: () => {
          calls++;
          throw new Error('still broken');
        },
      },
    });
    await sup.create({ id: 'a', compensations: [{ action: 'undo' }], compensationBackoffMs: 0, compensationAttempts: 1_100 });
    const lease = await sup.claim('a', { owner: 'x' });
    await sup.fail('a', { owner: 'x', epoch: lease.epoch, error: 'broken' });
    for (let i = 0; i < 1_300 && sup.get('a')!.state !== 'quarantined'; i++) await clock.advance(1);
    expect(sup.get('a')).toMatchObject({ state: 'quarantined', compensations: [{ attempts: 1_100, status: 'failed' }] });
    expect(calls).toBe(1_100);
    await sup.close();
  }, 60_000);

  it(`doubles up to a cap of ${COMPENSATION_BACKOFF_CAP_MS / 60_000} min (or the configured backoff, if longer), never Infinity`, async () => {
    const h = await harness({ compensators: { undo: () => Promise.reject(new Error('down')) } });
    await h.sup.create({ id: 'a', compensations: [{ action: 'undo' }], compensationBackoffMs: 1_000, compensationAttempts: 40 });
    const lease = await h.sup.claim('a', { owner: 'x' });
    await h.sup.fail('a', { owner: 'x', epoch: lease.epoch, error: 'broken' });
    await h.clock.settle();
    for (let attempt = 1; attempt < 40; attempt++) {
      const { compensationRetryAt } = h.durable<{ context: { compensationRetryAt: number } }>().tasks.a!.context;
      expect(compensationRetryAt - h.clock.now()).toBe(Math.min(1_000 * 2 ** (attempt - 1), COMPENSATION_BACKOFF_CAP_MS));
      await h.clock.advanceTo(compensationRetryAt);
    }
    expect(h.sup.get('a')!.state).toBe('quarantined');

    for (const base of [0, 1_000, 7_200_000]) {
      for (const attempts of [0, 1, 60, 1_024, 1_025, 1_000_000]) {
        const delay = compensationDelayMs(context({ compensationBackoffMs: base }), attempts);
        expect(Number.isFinite(delay) && delay >= 0 && delay <= Math.max(base, COMPENSATION_BACKOFF_CAP_MS)).toBe(true);
      }
    }
  }, 30_000);
});

function context(limits: Partial<TaskLimits>, attempts = 0): TaskContext {
  return { attempts, limits: { retryBackoffMs: 30_000, maxRetryBackoffMs: 600_000, compensationBackoffMs: 1_000, ...limits } } as TaskContext;
}
