// Issue #11, item 17: a Lease is its holder's proof. Every owner call (heartbeat, extend,
// addCompensation, complete, fail, release) takes the lease itself, or the lease spread with
// the call's own fields: the Lease's other fields are accepted and ignored, except `taskId`,
// which must name the task called. Unknown keys are still refused. The types say the same
// (checked by `npm run typecheck`, which includes this file).
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Lease, Supervisor } from '../../src/index.js';
import { harness, rejection } from '../support.js';

describe('a lease as the owner proof (types)', () => {
  it('the natural idioms compile', () => {
    // Only type-checked: never called.
    const idioms = (sup: Supervisor, lease: Lease) => [
      sup.heartbeat(lease.taskId, { ...lease, progress: 40 }),
      sup.heartbeat(lease.taskId, lease),
      sup.extend(lease.taskId, { ...lease, windowMs: 1_000 }),
      sup.addCompensation(lease.taskId, { ...lease, action: 'undo', args: { n: 1 } }),
      sup.complete(lease.taskId, lease),
      sup.complete(lease.taskId, { ...lease, result: { ok: true } }),
      sup.fail(lease.taskId, { ...lease, error: 'boom', retryable: true }),
      sup.release(lease.taskId, lease),
      sup.release(lease.taskId, { owner: lease.owner, epoch: lease.epoch, reason: 'r' }),
      // @ts-expect-error an unknown key is refused at compile time too
      sup.complete(lease.taskId, { ...lease, colour: 'red' }),
      // @ts-expect-error owner and epoch are required
      sup.complete(lease.taskId, { taskId: lease.taskId }),
    ];
    expectTypeOf(idioms).returns.toBeArray();
    expectTypeOf<Lease>().toExtend<Parameters<Supervisor['complete']>[1]>();
    expectTypeOf<Lease>().toExtend<Parameters<Supervisor['release']>[1]>();
    expectTypeOf<Lease>().toExtend<Parameters<Supervisor['heartbeat']>[1]>();
  });
});

describe('a lease as the owner proof (runtime)', () => {
  it('heartbeat, extend, addCompensation and complete take the lease itself or spread', async () => {
    const h = await harness();
    await h.sup.create({ id: 't' });
    const lease = await h.sup.claim('t', { owner: 'w', leaseMs: 10_000 });
    await h.clock.advance(1_000);
    const renewed = await h.sup.heartbeat(lease.taskId, { ...lease, progress: 40 });
    expect(renewed.expiresAt).toBe(lease.acquiredAt + 1_000 + 10_000);
    expect(h.sup.get('t')!.progress).toBe(40);
    await h.clock.advance(1_000);
    await h.sup.heartbeat(lease.taskId, renewed);
    await h.sup.extend(lease.taskId, { ...lease, windowMs: 60_000 });
    await h.sup.addCompensation(lease.taskId, { ...lease, action: 'undo' });
    const done = await h.sup.complete(lease.taskId, lease);
    expect(done.state).toBe('completed');
    expect(done.terminal!.by).toBe('w');
  });

  it('fail and release take it too', async () => {
    const h = await harness();
    await h.sup.create({ id: 't', maxAttempts: 5 });
    let lease = await h.sup.claim('t', { owner: 'w' });
    expect((await h.sup.release(lease.taskId, lease)).state).toBe('planned');
    lease = await h.sup.claim('t', { owner: 'w' });
    expect((await h.sup.fail(lease.taskId, { ...lease, error: 'boom', retryable: true })).substate).toBe('planned.backoff');
  });

  it("refuses a lease of another task (taskId not the id called) and changes nothing", async () => {
    const h = await harness();
    await h.sup.create({ id: 't' });
    await h.sup.create({ id: 'u' });
    const lease = await h.sup.claim('t', { owner: 'w' });
    await h.sup.claim('u', { owner: 'w' });
    const before = h.bytes();
    const error = await rejection(h.sup.complete('u', lease));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain('taskId');
    expect(h.bytes()).toBe(before);
  });

  it('still refuses unknown keys', async () => {
    const h = await harness();
    await h.sup.create({ id: 't' });
    const lease = await h.sup.claim('t', { owner: 'w' });
    const error = await rejection(h.sup.complete('t', { ...lease, colour: 'red' } as unknown as Lease));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain('colour');
  });
});
