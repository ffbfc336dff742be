// What a failed task accepts while its compensations run, as the Errors table and the refusal
// itself say: quarantine and annotations, nothing else.
import { expect, it } from 'vitest';
import type { Compensator } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { harness, rejection, T0 } from '../support.js';

it('a failed task refuses a claim with a message that names quarantine, and takes a quarantine', async () => {
  let finish = () => {};
  const undo: Compensator = () => new Promise<void>((resolve) => (finish = resolve));
  const h = await harness({ compensators: { undo }, closeTimeoutMs: 0 }, createTestClock(T0, { awaitWork: false }));
  await h.sup.create({ id: 't', compensations: [{ action: 'undo' }] });
  const lease = await h.sup.claim('t', { owner: 'a' });
  await h.sup.fail('t', { owner: 'a', epoch: lease.epoch, error: 'broken' });
  await h.clock.settle();
  const refused = await rejection(h.sup.claim('t', { owner: 'b' }));
  expect(refused.code).toBe('TERMINAL_TASK');
  expect(refused.message).toBe('task "t" is failed: while its compensations run it accepts only quarantine and annotations');
  await expect(h.sup.quarantine('t', { by: 'ops', reason: 'stop undoing' })).resolves.toMatchObject({ state: 'quarantined' });
  finish();
  const done = await rejection(h.sup.claim('t', { owner: 'b' }));
  expect(done.message).toBe('task "t" is quarantined and accepts only annotations');
});
