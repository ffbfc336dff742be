// Durable reads (`{ durable: true }`, what the HTTP API serves): get, list, page and agents show
// only what the store holds — not a change whose write is in flight, nor one rolled back after a
// failed write, nor a task created but not yet written — while the default reads stay live.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSupervisor, jsonFileStore, type Store, type Supervisor, type SupervisorOptions } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { holdingStore, rejection, T0 } from '../support.js';

const DURABLE = { durable: true } as const;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: Partial<SupervisorOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-durable-reads-'));
  const file = join(dir, 'store.json');
  const holding = holdingStore(file);
  const clock = createTestClock(T0);
  const open = (store: Store) => createSupervisor({ store, clock, schedule: false, logger: { warn: () => {} }, ...options });
  const h = { ...holding, clock, file, sup: await open(holding.store), reopen: async () => (h.sup = await open(jsonFileStore(file))) };
  cleanups.push(async () => {
    await h.sup.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return h;
}

/** Waits (bounded: 2 s) until `count` writes are held; a sweep's archive write comes first, on the real disk. */
async function heldWrites(held: unknown[], count: number) {
  for (let polls = 0; held.length < count; polls++) {
    if (polls > 400) throw new Error(`expected ${count} held writes, saw ${held.length}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const stateOf = (sup: Supervisor, id: string, durable = false) => sup.get(id, { durable })?.state;

describe('durable reads', () => {
  it('show a completion only once its write landed; live reads show it at once', async () => {
    const { sup, held, state } = await setup();
    await sup.create({ id: 't1', labels: ['web'] });
    const lease = await sup.claim('t1', { owner: 'alice' });

    state.holding = true;
    const completing = sup.complete('t1', lease);
    await heldWrites(held, 1);
    // Live: the caller's own call is seen at once. Durable: the store still holds it leased.
    expect(stateOf(sup, 't1')).toBe('completed');
    expect(stateOf(sup, 't1', true)).toBe('leased');
    expect(sup.get('t1', DURABLE)!.lease).toMatchObject({ owner: 'alice', epoch: lease.epoch });
    expect(sup.list({ state: 'completed' }, DURABLE)).toEqual([]);
    expect(sup.list({ state: 'leased', label: 'web' }, DURABLE).map((task) => task.id)).toEqual(['t1']);
    expect(sup.page({ state: 'leased' }, DURABLE)).toMatchObject({ total: 1, tasks: [{ id: 't1', state: 'leased' }] });
    expect(sup.page({ state: 'completed' }, DURABLE).total).toBe(0);
    expect(sup.page({ state: 'completed' }).total).toBe(1);
    expect(sup.agents(DURABLE)).toMatchObject([{ owner: 'alice', completed: 0, leases: [{ taskId: 't1' }] }]);
    expect(sup.agents()).toMatchObject([{ owner: 'alice', completed: 1, leases: [] }]);

    held[0]!.go();
    await completing;
    expect(stateOf(sup, 't1', true)).toBe('completed');
    expect(sup.list({ state: 'completed' }, DURABLE).map((task) => task.id)).toEqual(['t1']);
    expect(sup.agents(DURABLE)).toMatchObject([{ owner: 'alice', completed: 1, leases: [] }]);
    expect(sup.get('t1', DURABLE)).toEqual(sup.get('t1'));
  });

  it('never showed what a failed write rolled back', async () => {
    const { sup, held, state } = await setup();
    await sup.create({ id: 't1' });
    const lease = await sup.claim('t1', { owner: 'alice' });
    const before = sup.get('t1', DURABLE);

    state.holding = true;
    const completing = sup.complete('t1', lease);
    await heldWrites(held, 1);
    expect(sup.get('t1', DURABLE)).toEqual(before);
    held[0]!.fail();
    expect((await rejection(completing)).code).toBe('STORE_WRITE_FAILED');
    // Memory went back to the store: both reads agree, and the durable one never moved.
    expect(sup.get('t1')).toEqual(before);
    expect(sup.get('t1', DURABLE)).toEqual(before);
    expect(sup.list(undefined, DURABLE)).toEqual([before]);
  });

  it('do not see a task created but not yet durable, nor one whose creation failed', async () => {
    const { sup, held, state } = await setup();
    await sup.create({ id: 'kept' });
    state.holding = true;
    const creating = sup.create({ id: 'fresh' });
    await heldWrites(held, 1);
    expect(sup.get('fresh')?.state).toBe('planned');
    expect(sup.get('fresh', DURABLE)).toBeUndefined();
    expect(sup.list(undefined, DURABLE).map((task) => task.id)).toEqual(['kept']);
    expect(sup.page({ search: 'fresh' }, DURABLE).total).toBe(0);
    held[0]!.go();
    await creating;
    expect(sup.get('fresh', DURABLE)?.state).toBe('planned');

    const failing = sup.create({ id: 'lost' });
    await heldWrites(held, 2);
    expect(sup.get('lost', DURABLE)).toBeUndefined();
    held[1]!.fail();
    expect((await rejection(failing)).code).toBe('STORE_WRITE_FAILED');
    expect(sup.get('lost')).toBeUndefined();
    expect(sup.list(undefined, DURABLE).map((task) => task.id)).toEqual(['kept', 'fresh']);
  });

  it('show a task as of the write that landed, not a later change still in flight', async () => {
    const { sup, held, state } = await setup();
    await sup.create({ id: 't1' });
    state.holding = true;
    const first = sup.annotate('t1', { note: 'first' });
    await heldWrites(held, 1);
    // Queued behind the write in flight: the next batch.
    const second = sup.annotate('t1', { note: 'later' });
    await Promise.resolve();
    expect(sup.get('t1')!.metadata).toEqual({ note: 'later' });
    held[0]!.go();
    await first;
    expect(sup.get('t1', DURABLE)!.metadata).toEqual({ note: 'first' });
    await heldWrites(held, 2);
    expect(sup.get('t1', DURABLE)!.metadata).toEqual({ note: 'first' });
    held[1]!.go();
    await second;
    expect(sup.get('t1', DURABLE)!.metadata).toEqual({ note: 'later' });
  });

  it('read everything a reopened store holds', async () => {
    const h = await setup();
    await h.sup.create({ id: 'a' });
    const lease = await h.sup.claim('a', { owner: 'alice' });
    await h.sup.create({ id: 'b' });
    await h.sup.complete('a', lease);
    await h.sup.close();
    const sup = await h.reopen();
    expect(sup.list(undefined, DURABLE)).toEqual(sup.list());
    expect(sup.list(undefined, DURABLE).map((task) => [task.id, task.state])).toEqual([
      ['a', 'completed'],
      ['b', 'planned'],
    ]);
    expect(sup.page(undefined, DURABLE)).toEqual(sup.page());
    expect(sup.agents(DURABLE)).toEqual(sup.agents());
  });

  it('still show a task a sweep removed until its deletion is durable', async () => {
    const { sup, held, state, clock } = await setup({ schedule: { retentionMs: 1_000 } });
    await sup.create({ id: 'old' });
    const lease = await sup.claim('old', { owner: 'alice' });
    await sup.complete('old', lease);
    await clock.advance(2_000);
    const shown = sup.get('old', DURABLE);
    expect(shown?.state).toBe('completed');

    state.holding = true;
    const sweeping = sup.runJob('retain');
    await heldWrites(held, 1);
    expect(sup.get('old')).toBeUndefined();
    expect(sup.get('old', DURABLE)).toEqual(shown);
    expect(sup.list(undefined, DURABLE)).toEqual([shown]);
    held[0]!.go();
    expect(await sweeping).toMatchObject({ count: 1, taskIds: ['old'] });
    expect(sup.get('old', DURABLE)).toBeUndefined();
    expect(sup.list(undefined, DURABLE)).toEqual([]);
  });

  it('refuse bad read options as INVALID_INPUT', async () => {
    const { sup } = await setup();
    expect(() => sup.get('t1', { durable: 'yes' } as never)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => sup.list(undefined, { fresh: true } as never)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});
