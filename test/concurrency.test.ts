// Serialisation and input handling: racing calls, claimNext's choice, and every way a call
// can be refused before it changes anything (invariants 1, 2 and 5). Run on the plain and on
// the journaled JSON store (vitest.config.ts).
import { describe, expect, it } from 'vitest';
import type { Lease, Priority, Supervisor } from '../src/index.js';
import { createInvariantChecker } from './invariants.js';
import { harness, rejection, T0, type Harness } from './support.js';

// ---------------------------------------------------------------------------------------
// helpers

async function expectCode(promise: Promise<unknown>, code: string, reason?: string) {
  const error = await rejection(promise);
  expect(error.code).toBe(code);
  if (reason !== undefined) expect(error.reason).toBe(reason);
  return error;
}

/** Runs `call` and checks it was refused with `code` without touching the store or the tasks. */
async function expectRefusedUnchanged(h: Harness, what: string, call: () => Promise<unknown>, code: string) {
  const bytes = h.bytes();
  const views = h.sup.list();
  const error = await rejection(call());
  expect(error.code, `${what}: ${error.message}`).toBe(code);
  expect(h.bytes(), `${what}: store file changed`).toBe(bytes);
  expect(h.sup.list(), `${what}: tasks changed`).toEqual(views);
}

/** The task ids claimNext hands out, in order, until it returns null. */
async function drainOrder(sup: Supervisor, labels?: string[]): Promise<string[]> {
  const order: string[] = [];
  for (let lease = await sup.claimNext({ owner: 'w', labels }); lease; lease = await sup.claimNext({ owner: 'w', labels })) {
    order.push(lease.taskId);
  }
  return order;
}

// ---------------------------------------------------------------------------------------

describe('racing calls', () => {
  it('50 concurrent claims on one task: exactly one wins, 49 get LEASE_CONFLICT held', async () => {
    const h = await harness();
    await h.sup.create({ id: 't' });
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => h.sup.claim('t', { owner: `w${i}` })));

    const won = results.filter((r): r is PromiseFulfilledResult<Lease> => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(49);
    for (const { reason } of lost) expect(reason).toMatchObject({ code: 'LEASE_CONFLICT', reason: 'held' });
    const winner = won[0]!.value;
    expect(winner.epoch).toBe(1);
    expect(h.sup.get('t')).toMatchObject({ state: 'leased', epoch: 1, attempts: 1, lease: { owner: winner.owner } });
    expect(h.durable<{ context: { lease: { owner: string } } }>().tasks.t!.context.lease.owner).toBe(winner.owner);
    createInvariantChecker().check(h.sup, h.clock.now());
  });

  it('concurrent creates of one id: one task, the others DUPLICATE_TASK', async () => {
    const h = await harness();
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => h.sup.create({ id: 't', spec: { n: i } })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')) {
      expect(r.reason).toMatchObject({ code: 'DUPLICATE_TASK' });
    }
    expect(h.sup.list()).toHaveLength(1);
  });

  it('20 owners draining 100 tasks with claimNext: each task claimed exactly once and completed', async () => {
    const h = await harness();
    const ids = Array.from({ length: 100 }, (_, i) => `task-${String(i).padStart(3, '0')}`);
    await Promise.all(ids.map((id) => h.sup.create({ id })));
    const claims: Lease[] = [];

    const worker = async (owner: string) => {
      for (let lease = await h.sup.claimNext({ owner }); lease; lease = await h.sup.claimNext({ owner })) {
        claims.push(lease);
        await h.sup.complete(lease.taskId, { owner, epoch: lease.epoch, result: owner });
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, i) => worker(`w${i}`)));

    expect(claims.map((c) => c.taskId).sort()).toEqual(ids);
    expect(claims.every((c) => c.epoch === 1)).toBe(true);
    expect(new Set(claims.map((c) => c.owner)).size).toBeGreaterThan(1);
    for (const task of h.sup.list()) {
      expect(task).toMatchObject({ state: 'completed', epoch: 1, attempts: 1 });
      expect(task.terminal!.result).toBe(claims.find((c) => c.taskId === task.id)!.owner);
    }
    const stored = h.durable();
    expect(Object.values(stored.tasks).every((t) => t.state === 'completed')).toBe(true);
    createInvariantChecker().check(h.sup, h.clock.now());
  });
});

describe('claimNext', () => {
  it('hands out the highest priority first, then the oldest', async () => {
    const h = await harness();
    const created: [string, Priority][] = [
      ['low', 'low'],
      ['medium', 'medium'],
      ['high-old', 'high'],
      ['critical', 'critical'],
      ['high-new', 'high'],
      ['medium-new', 'medium'],
    ];
    for (const [id, priority] of created) {
      await h.sup.create({ id, priority });
      await h.clock.advance(10);
    }
    expect(await drainOrder(h.sup)).toEqual(['critical', 'high-old', 'high-new', 'medium', 'medium-new', 'low']);
  });

  it('breaks priority ties by age, not by id', async () => {
    const h = await harness();
    for (const id of ['c', 'a', 'b']) {
      await h.sup.create({ id });
      await h.clock.advance(1);
    }
    expect(await drainOrder(h.sup)).toEqual(['c', 'a', 'b']);
  });

  it('keeps age order after a restart, though the file lists integer-like ids in numeric order', async () => {
    const h = await harness();
    for (const id of ['30', '4', '100']) {
      await h.sup.create({ id });
      await h.clock.advance(1);
    }
    await h.restart();
    expect(Object.keys(h.durable().tasks)).toEqual(['4', '30', '100']);
    expect(await drainOrder(h.sup)).toEqual(['30', '4', '100']);
  });

  it('only hands out tasks carrying every requested label', async () => {
    const h = await harness();
    await h.sup.create({ id: 'linux-only', priority: 'critical', labels: ['linux'] });
    await h.sup.create({ id: 'gpu-linux', priority: 'low', labels: ['gpu', 'linux', 'big'] });
    await h.sup.create({ id: 'plain', priority: 'high' });

    expect(await h.sup.claimNext({ owner: 'w', labels: ['gpu', 'linux'] })).toMatchObject({ taskId: 'gpu-linux' });
    expect(await h.sup.claimNext({ owner: 'w', labels: ['gpu'] })).toBeNull();
    expect(await h.sup.claimNext({ owner: 'w', labels: ['linux'] })).toMatchObject({ taskId: 'linux-only' });
    expect(await h.sup.claimNext({ owner: 'w', labels: [] })).toMatchObject({ taskId: 'plain' });
    expect(await h.sup.claimNext({ owner: 'w' })).toBeNull();
  });

  it('skips a task in retry backoff until its notBefore', async () => {
    const h = await harness();
    await h.sup.create({ id: 'retry', priority: 'critical', retryBackoffMs: 5_000 });
    await h.sup.create({ id: 'other', priority: 'low' });
    await h.sup.claim('retry', { owner: 'w1' });
    await h.sup.fail('retry', { owner: 'w1', epoch: 1, error: 'flaky', retryable: true });
    const notBefore = h.sup.get('retry')!.notBefore!;
    expect(notBefore).toBe(T0 + 5_000);

    expect(await h.sup.claimNext({ owner: 'w2' })).toMatchObject({ taskId: 'other' });
    expect(await h.sup.claimNext({ owner: 'w2' })).toBeNull();
    await h.clock.advanceTo(notBefore - 1);
    expect(await h.sup.claimNext({ owner: 'w2' })).toBeNull();
    await h.clock.advance(1);
    expect(await h.sup.claimNext({ owner: 'w2' })).toMatchObject({ taskId: 'retry', epoch: 2 });
  });

  it('takes over stale.expired tasks but leaves stale.grace ones to their holder', async () => {
    const h = await harness();
    await h.sup.create({ id: 't', graceMs: 1_000, spec: { branch: 'fix/bug' } });
    await h.sup.claim('t', { owner: 'w1', leaseMs: 1_000 });
    await h.clock.advance(500);
    await h.sup.heartbeat('t', { owner: 'w1', epoch: 1, progress: 60, message: 'almost' });
    const expiresAt = h.sup.get('t')!.lease!.expiresAt;

    await h.clock.advanceTo(expiresAt);
    expect(h.sup.get('t')!.substate).toBe('stale.grace');
    expect(await h.sup.claimNext({ owner: 'w2' })).toBeNull();
    await h.clock.advanceTo(expiresAt + 1_000 - 1);
    expect(await h.sup.claimNext({ owner: 'w2' })).toBeNull();
    await h.clock.advance(1);
    expect(h.sup.get('t')!.substate).toBe('stale.expired');
    const lease = await h.sup.claimNext({ owner: 'w2' });
    expect(lease).toMatchObject({ taskId: 't', owner: 'w2', epoch: 2 });
    expect(lease!.recovery).toMatchObject({ previousOwner: 'w1', previousEpoch: 1, progress: 60, message: 'almost' });
  });

  it('returns null when nothing is claimable (no tasks, all leased, all terminal)', async () => {
    const h = await harness();
    expect(await h.sup.claimNext({ owner: 'w' })).toBeNull();
    await h.sup.create({ id: 'a' });
    await h.sup.create({ id: 'b' });
    await h.sup.claim('a', { owner: 'w' });
    expect((await h.sup.claimNext({ owner: 'w' }))!.taskId).toBe('b');
    const bytes = h.bytes();
    expect(await h.sup.claimNext({ owner: 'w' })).toBeNull();
    await h.sup.complete('a', { owner: 'w', epoch: 1 });
    await h.sup.quarantine('b', { by: 'ops', reason: 'poison' });
    const terminal = h.bytes();
    expect(terminal).not.toBe(bytes);
    expect(await h.sup.claimNext({ owner: 'w' })).toBeNull();
    expect(h.bytes()).toBe(terminal);
  });
});

/** One call of every command that names a task, each with well-formed input. */
function taskCalls(sup: Supervisor, id: string): [string, () => Promise<unknown>][] {
  const fenced = { owner: 'w', epoch: 1 };
  return [
    ['claim', () => sup.claim(id, { owner: 'v' })],
    ['heartbeat', () => sup.heartbeat(id, fenced)],
    ['extend', () => sup.extend(id, { ...fenced, windowMs: 1_000 })],
    ['addCompensation', () => sup.addCompensation(id, { ...fenced, action: 'undo' })],
    ['complete', () => sup.complete(id, fenced)],
    ['fail', () => sup.fail(id, { ...fenced, error: 'x' })],
    ['release', () => sup.release(id, fenced)],
    ['quarantine', () => sup.quarantine(id, { by: 'ops', reason: 'x' })],
    ['annotate', () => sup.annotate(id, { a: 1 })],
  ];
}

describe('refused calls change nothing', () => {
  it('every command after close rejects with SUPERVISOR_CLOSED', async () => {
    const h = await harness();
    await h.sup.create({ id: 't' });
    await h.sup.claim('t', { owner: 'w' });
    const { sup } = h;
    await sup.close();
    const calls: [string, () => Promise<unknown>][] = [
      ['create', () => sup.create({ id: 'u' })],
      ['claimNext', () => sup.claimNext({ owner: 'v' })],
      ...taskCalls(sup, 't'),
    ];
    for (const [what, call] of calls) await expectRefusedUnchanged(h, what, call, 'SUPERVISOR_CLOSED');
    await sup.close(); // closing twice is harmless
  });

  it('invalid inputs reject with INVALID_INPUT, create nothing and leave the file byte-identical', async () => {
    const h = await harness();
    await h.sup.create({ id: 't' });
    await h.sup.claim('t', { owner: 'w' });
    await h.sup.create({ id: 'free' });
    const { sup } = h;
    const fenced = { owner: 'w', epoch: 1 };
    const calls: [string, () => Promise<unknown>][] = [
      ['empty id', () => sup.create({ id: '' })],
      ['whitespace id', () => sup.create({ id: '   ' })],
      ['unknown field', () => sup.create({ id: 'x', colour: 'red' } as never)],
      ['wrong-typed priority', () => sup.create({ id: 'x', priority: 5 } as never)],
      ['wrong-typed labels', () => sup.create({ id: 'x', labels: 'gpu' } as never)],
      ['function spec', () => sup.create({ id: 'x', spec: (() => 1) as never })],
      ['Date inside spec', () => sup.create({ id: 'x', spec: { when: new Date() } as never })],
      ['create leaseMs 0', () => sup.create({ id: 'x', leaseMs: 0 })],
      ['not an object', () => sup.create('x' as never)],
      ['empty owner', () => sup.claim('free', { owner: '' })],
      ['empty claim id', () => sup.claim('', { owner: 'w' })],
      ['whitespace claim id', () => sup.claim(' \t', { owner: 'w' })],
      ...[0, -1, NaN, Infinity].map((leaseMs): [string, () => Promise<unknown>] => [`leaseMs ${leaseMs}`, () => sup.claim('free', { owner: 'w2', leaseMs })]),
      ['claimNext leaseMs NaN', () => sup.claimNext({ owner: 'w2', leaseMs: NaN })],
      ['claimNext empty owner', () => sup.claimNext({ owner: '' })],
      ['epoch 0', () => sup.heartbeat('t', { owner: 'w', epoch: 0 })],
      ['epoch 1.5', () => sup.complete('t', { owner: 'w', epoch: 1.5 })],
      ['epoch as string', () => sup.complete('t', { owner: 'w', epoch: '1' } as never)],
      ['progress 101', () => sup.heartbeat('t', { ...fenced, leaseMs: 600_000, progress: 101 })],
      ['progress -1', () => sup.heartbeat('t', { ...fenced, leaseMs: 600_000, progress: -1 })],
      ['heartbeat unknown field', () => sup.heartbeat('t', { ...fenced, leaseMs: 600_000, colour: 'red' } as never)],
      ['extend windowMs Infinity', () => sup.extend('t', { ...fenced, windowMs: Infinity })],
      ['fail without error', () => sup.fail('t', { ...fenced, error: '' })],
      ['compensation with function args', () => sup.addCompensation('t', { ...fenced, action: 'undo', args: (() => 0) as never })],
      ['quarantine without reason', () => sup.quarantine('t', { by: 'ops', reason: '' })],
      ['annotate non-JSON', () => sup.annotate('t', { f: (() => 0) as never })],
    ];
    for (const [what, call] of calls) await expectRefusedUnchanged(h, what, call, 'INVALID_INPUT');
    expect(sup.list().map((t) => t.id)).toEqual(['t', 'free']);
    expect(sup.get('t')).toMatchObject({ state: 'leased', epoch: 1, progress: 0, compensations: [] });
    // The leased task still accepts its holder's valid calls: the refusals did not disturb it.
    await sup.heartbeat('t', { ...fenced, leaseMs: 600_000, progress: 100 });
    expect(sup.get('t')!.progress).toBe(100);
  });

  it('unknown task ids reject with TASK_NOT_FOUND and change nothing', async () => {
    const h = await harness();
    await h.sup.create({ id: 't' });
    const { sup } = h;
    const calls = taskCalls(sup, 'nope');
    for (const [what, call] of calls) {
      await expectRefusedUnchanged(h, what, call, 'TASK_NOT_FOUND');
      expect((await rejection(call())).message).toContain('nope');
    }
    expect(sup.get('nope')).toBeUndefined();
  });

  it('a duplicate create rejects with DUPLICATE_TASK and leaves the original as it was', async () => {
    const h = await harness();
    await h.sup.create({ id: 't', spec: { v: 1 }, priority: 'high', labels: ['a'] });
    await h.sup.claim('t', { owner: 'w' });
    const original = h.sup.get('t');
    await expectRefusedUnchanged(h, 'same spec', () => h.sup.create({ id: 't', spec: { v: 1 }, priority: 'high', labels: ['a'] }), 'DUPLICATE_TASK');
    await expectRefusedUnchanged(h, 'other spec', () => h.sup.create({ id: 't', spec: { v: 2 }, priority: 'low' }), 'DUPLICATE_TASK');
    expect(h.sup.get('t')).toEqual(original);
    await expectCode(h.sup.claim('t', { owner: 'v' }), 'LEASE_CONFLICT', 'held');
  });
});
