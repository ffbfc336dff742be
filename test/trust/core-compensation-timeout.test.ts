// A compensation handler that never settles must not hold its task in `failed` for ever:
// each attempt is bounded by compensationTimeoutMs on the supervisor's clock, counts as failed
// when it runs out, is retried after the backoff, and the task is finally quarantined.
import { expect, it } from 'vitest';
import type { Compensator } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { harness, T0 } from '../support.js';

it('a hanging compensator times out, is retried, and the task ends quarantined', async () => {
  let runs = 0;
  const hang: Compensator = () => {
    runs++;
    return new Promise<void>(() => {});
  };
  const clock = createTestClock(T0, { awaitWork: false });
  const h = await harness(
    { compensators: { hang }, compensationTimeoutMs: 60_000, closeTimeoutMs: 0, defaults: { compensationAttempts: 2, compensationBackoffMs: 1_000 } },
    clock,
  );
  await h.sup.create({ id: 't', compensations: [{ action: 'hang' }] });
  const lease = await h.sup.claim('t', { owner: 'a' });
  await h.sup.fail('t', { owner: 'a', epoch: lease.epoch, error: 'broken' });
  await clock.settle();
  expect(runs).toBe(1);
  expect(h.sup.get('t')!.substate).toBe('failed.running');

  await clock.advance(60_000);
  expect(h.sup.get('t')!.compensations[0]).toMatchObject({ status: 'failed', attempts: 1, lastError: 'did not finish within 60000 ms' });
  await clock.advance(1_000);
  expect(runs).toBe(2);
  await clock.advance(60_000);
  const view = h.sup.get('t')!;
  expect(view.state).toBe('quarantined');
  expect(view.terminal!.reason).toContain('failed 2 times: did not finish within 60000 ms');
  expect((h.durable().tasks.t!.state as string)).toBe('quarantined');
});
