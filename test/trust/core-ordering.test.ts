// Promises about order and isolation that an orchestrator takes for granted: calls are
// processed in the order they are made, and one task's fault never fails another task's call.
import { describe, expect, it } from 'vitest';
import { createSupervisor, jsonFileStore, type LeasePolicy, type Store } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { harness, rejection, T0 } from '../support.js';

const quiet = { warn: () => {} };

describe('calls are processed in the order they are made', () => {
  it('a create followed at once by a claim (not awaited) is claimed', async () => {
    const h = await harness();
    const created = h.sup.create({ id: 't' });
    const claimed = h.sup.claim('t', { owner: 'a' });
    await created;
    await expect(claimed).resolves.toMatchObject({ taskId: 't', owner: 'a', epoch: 1 });
  });

  it('a create, claimNext and complete issued in one go run in that order', async () => {
    const h = await harness();
    const calls = [h.sup.create({ id: 'a' }), h.sup.create({ id: 'b', priority: 'high' }), h.sup.claimNext({ owner: 'w' })];
    const results = await Promise.all(calls);
    expect(results[2]).toMatchObject({ taskId: 'b', epoch: 1 });
  });

  it('a call made after close() is refused, even before close resolves', async () => {
    const h = await harness();
    await h.sup.create({ id: 't' });
    const closing = h.sup.close();
    const late = rejection(h.sup.claim('t', { owner: 'a' }));
    await closing;
    expect((await late).code).toBe('SUPERVISOR_CLOSED');
  });

  it('a sweep asked for before a command runs before it', async () => {
    const h = await harness({ defaults: { graceMs: 0 } });
    await h.sup.create({ id: 't' });
    const lease = await h.sup.claim('t', { owner: 'a', leaseMs: 1_000 });
    const report = h.sup.runJob('report');
    const done = h.sup.complete('t', { owner: 'a', epoch: lease.epoch });
    expect((await report).line).toMatch(/leased 1/);
    await done;
  });
});

/** A real JSON store that refuses, as unwritable, any record of task `poisoned` (a machine bug's stand-in). */
function refusingStore(file: string, poisoned: string): Store {
  const inner = jsonFileStore(file);
  return {
    location: inner.location,
    open: () => inner.open(),
    close: () => inner.close(),
    commit: (changes) => {
      const tampered = new Map(changes);
      const record = changes.get(poisoned);
      // NaN is what the store must refuse: JSON would silently turn it into null.
      if (record) tampered.set(poisoned, { ...record, context: { ...record.context, progress: Number.NaN } });
      return inner.commit(tampered);
    },
  };
}

describe("one task's fault fails only the calls that made it", () => {
  it('a policy returning NaN for one task does not fail a heartbeat on another in the same commit', async () => {
    const clock = createTestClock(T0);
    const policy: LeasePolicy = {
      name: 'nan-for-b',
      leaseMs: ({ task }) => (task.id === 'b' ? Number.NaN : 60_000),
      graceMs: () => 1_000,
    };
    const h = await harness({ policy, logger: quiet }, clock);
    await h.sup.create({ id: 'a' });
    await h.sup.create({ id: 'b' });
    const lease = await h.sup.claim('a', { owner: 'w' });
    await clock.advance(1_000);
    const [beat, claim] = await Promise.allSettled([
      h.sup.heartbeat('a', { owner: 'w', epoch: lease.epoch }),
      h.sup.claim('b', { owner: 'w' }),
    ]);
    expect(beat.status).toBe('fulfilled');
    // Either the policy's NaN is caught where it is made (the claim gets a sane lease), or the
    // claim alone fails: never the innocent heartbeat.
    if (claim.status === 'fulfilled') expect(Number.isFinite(claim.value.expiresAt)).toBe(true);
    expect(h.durable().tasks.a).toBeDefined();
  });

  it('a record the store refuses fails its own calls, rolls that task back, and lets the rest of the batch land', async () => {
    const probe = await harness();
    const file = probe.file;
    await probe.sup.close();
    const clock = createTestClock(T0);
    const warnings: string[] = [];
    const sup = await createSupervisor({ store: refusingStore(file, 'b'), clock, logger: { warn: (m) => void warnings.push(m) } });
    try {
      await sup.create({ id: 'a' });
      await sup.claim('a', { owner: 'w' });
      await clock.advance(1_000);
      const heard: string[] = [];
      sup.on('heartbeat', (e) => heard.push(e.taskId));
      const [beat, createB, annotated] = await Promise.allSettled([
        sup.heartbeat('a', { owner: 'w', epoch: 1, progress: 30 }),
        sup.create({ id: 'b' }),
        sup.annotate('a', { note: 'still here' }),
      ]);
      expect(beat.status).toBe('fulfilled');
      expect(annotated.status).toBe('fulfilled');
      expect(createB).toMatchObject({ status: 'rejected', reason: { code: 'INVALID_INPUT' } });
      expect(sup.get('b')).toBeUndefined();
      expect(sup.get('a')).toMatchObject({ state: 'leased', epoch: 1, progress: 30 });
      expect(heard).toEqual(['a']);
      expect(warnings.some((w) => w.includes('"b"'))).toBe(true);
    } finally {
      await sup.close();
    }
    // What was acknowledged is on disk; the refused task is not.
    const reopened = await createSupervisor({ store: jsonFileStore(file), clock });
    expect(reopened.get('a')).toMatchObject({ state: 'leased', epoch: 1, progress: 30, metadata: { note: 'still here' } });
    expect(reopened.get('b')).toBeUndefined();
    await reopened.close();
  });

  it('a task whose timer step the store refuses waits instead of retrying in a loop, and does not hold up others', async () => {
    const first = await harness({ defaults: { graceMs: 0 } });
    const { file, clock } = first;
    await first.sup.create({ id: 'a' });
    await first.sup.create({ id: 'b' });
    await first.sup.claim('a', { owner: 'w', leaseMs: 1_000 });
    await first.sup.claim('b', { owner: 'w', leaseMs: 500 });
    await first.sup.close();

    let refusals = 0;
    const inner = refusingStore(file, 'b');
    const store: Store = {
      ...inner,
      commit: (changes) =>
        inner.commit(changes).catch((error: unknown) => {
          refusals++;
          throw error;
        }),
    };
    const sup = await createSupervisor({ store, clock, logger: quiet });
    try {
      await clock.advance(10_000);
      // a expired and that is durable; b's expiry is refused each time it is tried, every 5 s at most.
      expect(sup.get('a')!.state).toBe('stale');
      expect((first.durable().tasks.a!.state as { stale: string }).stale).toBe('expired');
      expect(sup.get('b')!.state).toBe('leased');
      expect(first.durable().tasks.b!.state).toBe('leased');
      expect(refusals).toBeGreaterThan(0);
      expect(refusals).toBeLessThanOrEqual(3);
    } finally {
      await sup.close();
    }
  });
});

describe('event names', () => {
  it('a Symbol as an event name is INVALID_INPUT, not a TypeError (found by the API fuzzer)', async () => {
    const h = await harness();
    expect(() => h.sup.on(Symbol('s') as never, () => {})).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});
