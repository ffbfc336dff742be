// Durability of what is acknowledged: an answer never rests on a write that may still fail,
// close() lets running compensations finish and record, and a failed delete loses nothing.
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSupervisor, jsonFileStore, type Compensator, type SupervisorOptions } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { flakyStore, harness, rejection, T0 } from '../support.js';

const quiet = { warn: () => {} };
const DAY = 24 * 3_600_000;

/** A supervisor on a real store file whose writes the test can make fail; closed after the test. */
async function onFlakyDisk(options: Partial<SupervisorOptions> = {}) {
  const h = await harness();
  await h.sup.close();
  const { store, state } = flakyStore(h.file);
  const clock = createTestClock(T0);
  const sup = await createSupervisor({ store, clock, logger: quiet, ...options });
  onTestFinished(() => sup.close());
  return { sup, state, clock, file: h.file };
}

describe('an answer that changes nothing waits for the writes before it', () => {
  it('an extend that does not lengthen the lease is not acknowledged with a heartbeat the disk refused', async () => {
    const { sup, state, clock } = await onFlakyDisk();
    await sup.create({ id: 't' });
    const lease = await sup.claim('t', { owner: 'a', leaseMs: 60_000 });
    await clock.advance(10_000);
    state.failing = true;
    const beat = rejection(sup.heartbeat('t', { owner: 'a', epoch: lease.epoch, leaseMs: 600_000 }));
    const extend = rejection(sup.extend('t', { owner: 'a', epoch: lease.epoch, windowMs: 1_000 }));
    expect((await beat).code).toBe('STORE_WRITE_FAILED');
    // Before the fix, extend resolved with the heartbeat's expiry (T0 + 610 s) while disk said T0 + 60 s.
    expect((await extend).code).toBe('STORE_WRITE_FAILED');
    expect(sup.get('t')!.lease!.expiresAt).toBe(T0 + 60_000);
    state.failing = false;
    await expect(sup.extend('t', { owner: 'a', epoch: lease.epoch, windowMs: 1_000 })).resolves.toMatchObject({ expiresAt: T0 + 60_000 });
  });

  it('a refusal that rests on a change the disk refused reports the write failure, not the refusal', async () => {
    const { sup, state } = await onFlakyDisk();
    await sup.create({ id: 't' });
    state.failing = true;
    const first = rejection(sup.claim('t', { owner: 'a' }));
    const second = rejection(sup.claim('t', { owner: 'b' }));
    expect((await first).code).toBe('STORE_WRITE_FAILED');
    // "held" would be a lie: the lease it points at never reached the disk.
    expect((await second).code).toBe('STORE_WRITE_FAILED');
    state.failing = false;
    await expect(sup.claim('t', { owner: 'b' })).resolves.toMatchObject({ owner: 'b', epoch: 1 });
  });

  it('claimNext finding nothing waits for the claim before it, and a call on another task does not', async () => {
    const { sup, state } = await onFlakyDisk();
    await sup.create({ id: 'only' });
    await sup.create({ id: 'other' });
    const lease = await sup.claim('other', { owner: 'x' });
    state.failing = true;
    const claim = rejection(sup.claim('only', { owner: 'a' }));
    const next = rejection(sup.claimNext({ owner: 'b' }));
    // Reads of a task with nothing pending answer without waiting for the failing write.
    const refusal = rejection(sup.claim('other', { owner: 'y' }));
    expect((await refusal).reason).toBe('held');
    expect((await claim).code).toBe('STORE_WRITE_FAILED');
    expect((await next).code).toBe('STORE_WRITE_FAILED');
    state.failing = false;
    expect(lease.epoch).toBe(1);
  });
});

describe('close() and running compensations', () => {
  /** A compensator that waits until the test lets it finish, counting runs and overlaps. */
  function gated() {
    const runs = { started: 0, finished: 0, running: 0, maxRunning: 0 };
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const undo: Compensator = async () => {
      runs.started++;
      runs.running++;
      runs.maxRunning = Math.max(runs.maxRunning, runs.running);
      await gate;
      runs.running--;
      runs.finished++;
    };
    return { runs, undo, open: () => open() };
  }

  async function failedWithCompensation(compensators: Record<string, Compensator>) {
    // The test holds the handler open, so settling must not wait for it.
    const h = await harness({ compensators, logger: quiet }, createTestClock(T0, { awaitWork: false }));
    await h.sup.create({ id: 't', compensations: [{ action: 'undo' }] });
    const lease = await h.sup.claim('t', { owner: 'a' });
    await h.sup.fail('t', { owner: 'a', epoch: lease.epoch, error: 'broken' });
    await h.clock.settle();
    return h;
  }

  it('waits for a running compensation to finish and be recorded; the next supervisor never runs it again', async () => {
    const { runs, undo, open } = gated();
    const h = await failedWithCompensation({ undo });
    expect(runs.started).toBe(1);
    let closed = false;
    const closing = h.sup.close().then(() => (closed = true));
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    open();
    await closing;
    expect(runs.finished).toBe(1);

    const again = gated();
    again.open();
    const sup = await h.restart({ compensators: { undo: again.undo } });
    await h.clock.settle();
    expect(again.runs.started).toBe(0);
    expect(sup.get('t')).toMatchObject({ state: 'compensated' });
    expect(sup.get('t')!.compensations[0]).toMatchObject({ status: 'done', attempts: 1 });
  });

  it('gives up after closeTimeoutMs on the clock and leaves the attempt to run again at the next open', async () => {
    const { runs, undo } = gated();
    const warnings: string[] = [];
    const clock = createTestClock(T0, { awaitWork: false });
    const h = await harness({ compensators: { undo }, logger: { warn: (m) => void warnings.push(m) }, closeTimeoutMs: 5_000 }, clock);
    await h.sup.create({ id: 't', compensations: [{ action: 'undo' }] });
    const lease = await h.sup.claim('t', { owner: 'a' });
    await h.sup.fail('t', { owner: 'a', epoch: lease.epoch, error: 'broken' });
    await clock.settle();
    expect(runs.started).toBe(1);
    const closing = h.sup.close();
    await h.clock.advance(5_000);
    await closing;
    expect(warnings.some((w) => w.includes('gave up'))).toBe(true);
    expect(h.durable<{ context: { compensations: { status: string }[] } }>().tasks.t!.context.compensations[0]!.status).toBe('running');
  });
});

describe('a failed write that deletes a task', () => {
  it('keeps the task in memory, so a later create of its id is refused and nothing on disk is overwritten', async () => {
    const { sup, state, clock, file } = await onFlakyDisk({ schedule: { retentionMs: DAY } });
    await sup.create({ id: 'old', spec: { v: 1 } });
    const lease = await sup.claim('old', { owner: 'a' });
    await sup.complete('old', { owner: 'a', epoch: lease.epoch, result: { pr: 7 } });
    await clock.advance(DAY + 1);
    state.failing = true;
    expect((await rejection(sup.runJob('retain'))).code).toBe('STORE_WRITE_FAILED');
    expect(sup.get('old')).toMatchObject({ state: 'completed', epoch: 1 });
    state.failing = false;
    expect((await rejection(sup.create({ id: 'old', spec: { v: 2 } }))).code).toBe('DUPLICATE_TASK');
    await sup.close();
    const reopened = await createSupervisor({ store: jsonFileStore(file), clock, logger: quiet });
    expect(reopened.get('old')).toMatchObject({ state: 'completed', spec: { v: 1 } });
    await reopened.close();
  });
});
