// A write that fails leaves memory where the disk is: the calls behind it reject with
// STORE_WRITE_FAILED, their tasks read as before (or not at all, if never written), their
// events never fire, and once the disk is back the supervisor carries on.
import { describe, expect, it } from 'vitest';
import { createSupervisor } from '../src/index.js';
import { createTestClock } from '../src/testing.js';
import { flakyStore, harness, rejection, T0 } from './support.js';

describe('a failed write', () => {
  it('rejects the call, keeps memory at the durable state, keeps reads working, and recovers', async () => {
    const h = await harness();
    const file = h.file;
    await h.sup.close();
    const { store, state } = flakyStore(file);
    const clock = createTestClock(T0);
    const sup = await createSupervisor({ store, clock });
    try {
      await sup.create({ id: 't' });
      const lease = await sup.claim('t', { owner: 'a' });
      const before = sup.get('t');
      const heard: string[] = [];
      sup.on('completed', (e) => heard.push(e.taskId));
      const bytes = h.bytes();

      state.failing = true;
      const [done, created] = await Promise.allSettled([
        sup.complete('t', { owner: 'a', epoch: lease.epoch }),
        sup.create({ id: 'new' }),
      ]);
      expect(done).toMatchObject({ status: 'rejected', reason: { code: 'STORE_WRITE_FAILED' } });
      expect(created).toMatchObject({ status: 'rejected', reason: { code: 'STORE_WRITE_FAILED' } });
      expect(sup.get('t')).toEqual(before);
      expect(sup.get('new')).toBeUndefined();
      expect(sup.list().map((t) => t.id)).toEqual(['t']);
      expect(heard).toEqual([]);
      expect(h.bytes()).toBe(bytes);

      // The task still expires on time from its durable lease; with nobody waiting, that
      // write waits out the backoff that follows failed writes (at most 5 s) instead of hammering.
      state.failing = false;
      await clock.advanceTo(lease.expiresAt);
      expect(sup.get('t')!.substate).toBe('stale.grace');
      expect(JSON.parse(h.bytes()).tasks.t.state).toBe('leased');
      await clock.advance(5_000);
      expect(JSON.parse(h.bytes()).tasks.t.state).toEqual({ stale: 'grace' });
      await sup.complete('t', { owner: 'a', epoch: lease.epoch });
      expect(heard).toEqual(['t']);
      expect(JSON.parse(h.bytes()).tasks.t.state).toBe('completed');
    } finally {
      await sup.close();
    }
  });

  it('a refused create leaves no task behind and the id free', async () => {
    const h = await harness();
    await h.sup.close();
    const { store, state } = flakyStore(h.file);
    const sup = await createSupervisor({ store, clock: createTestClock(T0) });
    try {
      state.failing = true;
      expect((await rejection(sup.create({ id: 'x' }))).code).toBe('STORE_WRITE_FAILED');
      state.failing = false;
      expect((await sup.create({ id: 'x' })).state).toBe('planned');
    } finally {
      await sup.close();
    }
  });
});
