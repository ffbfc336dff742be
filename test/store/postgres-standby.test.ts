// Supervisors on a PostgreSQL store beyond one owner: one that loses the store closes itself and
// acknowledges nothing more; a standby waits, takes the store over when it is free or its owner
// went silent, and re-arms every timer from stored deadlines; clock skew holds expiries back.
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSupervisor, jsonFileStore, postgresStore, systemClock, type Clock, type Store, type Supervisor } from '../../src/index.js';
import { createExpiryGate } from '../../src/supervisor/standing.js';
import { createTestClock } from '../../src/testing.js';
import { dropSchema, freshSchema, sql, storeIn } from '../postgres/database.js';
import { rejection, T0 } from '../support.js';

const schemas: string[] = [];
const sups: Supervisor[] = [];
afterEach(async () => {
  for (const sup of sups.splice(0)) await sup.close();
  for (const schema of schemas.splice(0)) await dropSchema(schema);
});

function schema(): string {
  const name = freshSchema('sb');
  schemas.push(name);
  return name;
}

function logs() {
  const lines: string[] = [];
  return { lines, logger: { warn: (m: string) => void lines.push(m), info: (m: string) => void lines.push(m) } };
}

async function open(options: Parameters<typeof createSupervisor>[0]): Promise<Supervisor> {
  const sup = await createSupervisor(options);
  sups.push(sup);
  return sup;
}

/** Polls `check` every 20 ms, at most `ms` (real time: a renewal or a poll on the database). */
async function eventually(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  for (let waited = 0; waited < ms; waited += 20) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`not within ${ms} ms`);
}

/** `inner`, whose next commit can be held before it reaches the database, then let go. */
function holding(inner: Store) {
  let gate: { reached: () => void; go: Promise<void> } | undefined;
  const store: Store = {
    location: inner.location,
    open: () => inner.open(),
    close: () => inner.close(),
    async commit(changes, meta) {
      const held = gate;
      gate = undefined;
      if (held) {
        held.reached();
        await held.go;
      }
      return inner.commit(changes, meta);
    },
    ownership: () => inner.ownership?.(),
    onOwnership: (listener) => inner.onOwnership!(listener),
  };
  const holdNext = () => {
    let reached!: () => void;
    let go!: () => void;
    const entered = new Promise<void>((resolve) => (reached = resolve));
    gate = { reached, go: new Promise<void>((resolve) => (go = resolve)) };
    return { reached: entered, go };
  };
  return { store, holdNext };
}

const ownership = async (s: string) => (await sql<{ holder: string | null; generation: string }>(`SELECT holder, generation FROM ${s}.store`))[0]!;

describe('a supervisor that loses its store', () => {
  it('closes itself when a commit finds the generation taken: the call is refused, later ones too, it says why and writes nothing', async () => {
    const s = schema();
    const clock = createTestClock(T0, { awaitWork: false });
    const { lines, logger } = logs();
    const sup = await open({ store: storeIn(s), clock, logger });
    await sup.create({ id: 't' });
    const lease = await sup.claim('t', { owner: 'w', leaseMs: 60_000 });
    expect(sup.role).toBe('leader');
    await clock.advance(1_000);
    const before = await sql(`SELECT record::text FROM ${s}.tasks`);
    await sql(`UPDATE ${s}.store SET generation = generation + 1, holder = 'other'`);

    expect((await rejection(sup.heartbeat('t', { owner: 'w', epoch: lease.epoch, progress: 50 }))).code).toBe('STORE_LOCKED');
    expect(sup.role).toBe('deposed');
    const later = await rejection(sup.create({ id: 'u' }));
    expect([later.code, later.message]).toEqual(['STORE_LOCKED', expect.stringContaining('ownership lost')]);
    expect(lines.filter((l) => l.includes('ownership lost'))).toHaveLength(1);
    await sup.close();
    expect(clock.pendingTimers).toBe(0);
    // The lease's expiry is not acted on: nothing more is written.
    await clock.advance(120_000);
    expect(await sql(`SELECT record::text FROM ${s}.tasks`)).toEqual(before);
    expect(await ownership(s)).toEqual({ holder: 'other', generation: '2' });
  });

  it('closes itself when its renewal finds the store taken over, before any call tries to write', async () => {
    const s = schema();
    const clock = createTestClock(T0, { awaitWork: false });
    const storeClock = createTestClock(T0, { awaitWork: false });
    const { lines, logger } = logs();
    const sup = await open({ store: storeIn(s, { ownershipTtlMs: 3_000, clock: storeClock }), clock, logger });
    await sup.create({ id: 't' });
    await sql(`UPDATE ${s}.store SET generation = generation + 1, holder = 'other'`);
    await storeClock.advance(1_000);
    await eventually(() => sup.role === 'deposed');
    expect((await rejection(sup.claim('t', { owner: 'w' }))).code).toBe('STORE_LOCKED');
    expect(lines.some((l) => l.includes('ownership lost'))).toBe(true);
  });

  it('deposed by its renewal while a write is in flight: that write is refused and rolled back, and no timer outlives the close', async () => {
    const s = schema();
    const clock = createTestClock(T0, { awaitWork: false });
    const storeClock = createTestClock(T0, { awaitWork: false });
    const { store, holdNext } = holding(storeIn(s, { ownershipTtlMs: 3_000, clock: storeClock }));
    const sup = await open({ store, clock, logger: logs().logger });
    await sup.create({ id: 't' });
    const lease = await sup.claim('t', { owner: 'w', leaseMs: 60_000 });
    await clock.advance(1_000);
    const before = await sql(`SELECT record::text FROM ${s}.tasks`);
    // The heartbeat's write waits (as in a paused process) while a renewal finds the store taken.
    const release = holdNext();
    const beat = sup.heartbeat('t', { owner: 'w', epoch: lease.epoch, progress: 50 });
    await release.reached;
    await sql(`UPDATE ${s}.store SET generation = generation + 1, holder = 'other'`);
    await storeClock.advance(1_000);
    await eventually(() => sup.role === 'deposed');
    // Bounded: the close under way cancels the lease's timer before its last write returns.
    for (let turn = 0; turn < 200 && clock.pendingTimers > 0; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(clock.pendingTimers).toBe(0);
    release.go();
    expect((await rejection(beat)).code).toBe('STORE_LOCKED');
    await sup.closed;
    // Rolled back to what the store holds without re-arming the lease's expiry: a deposed
    // process on the wall clock would otherwise stay alive until that expiry.
    expect(clock.pendingTimers, 'a timer armed after close').toBe(0);
    expect(sup.get('t')).toMatchObject({ progress: 0, lease: { expiresAt: lease.expiresAt } });
    expect(await sql(`SELECT record::text FROM ${s}.tasks`)).toEqual(before);
  });
});

describe('a supervisor whose renewals fail', () => {
  it('counts ownership lost once no renewal has succeeded for a whole TTL, and closes itself', async () => {
    const s = schema();
    const storeClock = createTestClock(T0, { awaitWork: false });
    const { lines, logger } = logs();
    const sup = await open({ store: storeIn(s, { ownershipTtlMs: 3_000, clock: storeClock }), clock: createTestClock(T0), logger });
    // Every renewal now fails (as with an unreachable database): the table is gone from under it.
    await sql(`ALTER TABLE ${s}.store RENAME TO store_gone`);
    for (let turn = 1; turn <= 3; turn++) {
      await storeClock.advance(1_000);
      // The renewal is a query in flight: wait (boundedly) until it is answered and the next armed.
      await eventually(() => storeClock.pendingTimers === 1 || sup.role === 'deposed');
      expect(sup.role).toBe(turn < 3 ? 'leader' : 'deposed');
    }
    expect(lines.some((l) => l.includes('ownership lost'))).toBe(true);
    expect((await rejection(sup.create({ id: 'x' }))).code).toBe('STORE_LOCKED');
  });
});

describe('a standby supervisor', () => {
  it('waits for a database it cannot reach yet, saying why', async () => {
    const { lines, logger } = logs();
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const standby = await open({ store: postgresStore({ connectionString: `postgres://nobody@127.0.0.1:${port}/none` }), standby: true, logger });
    expect(standby.role).toBe('standby');
    expect(standby.leader).toMatchObject({ holder: null, url: null, problem: expect.stringContaining('ECONNREFUSED') as string });
    expect(lines).toEqual([expect.stringContaining('cannot reach the store')]);
    await standby.close();
    expect((await rejection(standby.ready)).code).toBe('SUPERVISOR_CLOSED');
  });


  it('waits while the leader holds the store, refusing calls with NOT_LEADER naming it, then takes over and re-arms the lease expiry', async () => {
    const s = schema();
    const clock = createTestClock(T0, { awaitWork: false });
    const leader = await open({ store: storeIn(s, { holder: 'a', advertisedUrl: 'http://127.0.0.1:1111', ownershipTtlMs: 1_000 }), clock, logger: logs().logger });
    await leader.create({ id: 't' });
    const lease = await leader.claim('t', { owner: 'w', leaseMs: 10_000 });

    const standby = await open({ store: storeIn(s, { holder: 'b', ownershipTtlMs: 1_000 }), clock, standby: true, logger: logs().logger });
    expect(standby.role).toBe('standby');
    expect(standby.leader).toEqual({ holder: 'a', url: 'http://127.0.0.1:1111' });
    const refused = await rejection(standby.claim('t', { owner: 'x' }));
    expect(refused).toMatchObject({ code: 'NOT_LEADER', leader: 'http://127.0.0.1:1111' });
    expect(() => standby.get('t')).toThrow(expect.objectContaining({ code: 'NOT_LEADER' }) as Error);

    await leader.close();
    await standby.ready;
    expect([standby.role, standby.leader]).toEqual(['leader', undefined]);
    expect(await ownership(s)).toEqual({ holder: 'b', generation: '2' });
    expect(standby.get('t')).toMatchObject({ state: 'leased', lease: { epoch: lease.epoch, expiresAt: lease.expiresAt } });
    await clock.advance(10_000);
    expect(standby.get('t')?.state).toBe('stale');
    const next = await standby.claim('t', { owner: 'x' }).catch((e: { reason?: string }) => e.reason);
    expect(next).toBe('in_grace');
  });

  it('takes over a leader silent past its TTL on the database clock, whose next commit is then refused', async () => {
    const s = schema();
    const clock = createTestClock(T0, { awaitWork: false });
    // The leader's renewals are on a clock nobody advances: it goes silent, as if paused.
    const frozen = createTestClock(T0, { awaitWork: false });
    const leader = await open({ store: storeIn(s, { holder: 'a', ownershipTtlMs: 500, clock: frozen }), clock, logger: logs().logger });
    await leader.create({ id: 't' });
    const started = Date.now();
    const standby = await open({ store: storeIn(s, { holder: 'b', ownershipTtlMs: 500 }), clock, standby: true, logger: logs().logger });
    await standby.ready;
    expect(Date.now() - started).toBeLessThan(500 + 2_000);
    expect(standby.get('t')?.state).toBe('planned');
    expect((await rejection(leader.create({ id: 'u' }))).code).toBe('STORE_LOCKED');
    expect(leader.role).toBe('deposed');
    const lease = await standby.claim('t', { owner: 'w' });
    expect(lease.epoch).toBeGreaterThan(0);
  });

  it('opens at once as the leader when the store is free', async () => {
    const sup = await open({ store: storeIn(schema()), clock: createTestClock(T0), standby: true, logger: logs().logger });
    expect(sup.role).toBe('leader');
    await sup.ready;
    await sup.create({ id: 't' });
  });

  it('closed while waiting: stops waiting, takes nothing, ready rejects with SUPERVISOR_CLOSED', async () => {
    const s = schema();
    await open({ store: storeIn(s, { holder: 'a' }), clock: createTestClock(T0) });
    const standby = await createSupervisor({ store: storeIn(s, { holder: 'b' }), clock: createTestClock(T0), standby: true });
    expect(standby.role).toBe('standby');
    await standby.close();
    expect(standby.role).toBe('closed');
    expect((await rejection(standby.ready)).code).toBe('SUPERVISOR_CLOSED');
    expect((await rejection(standby.create({ id: 'x' }))).code).toBe('SUPERVISOR_CLOSED');
    expect(await ownership(s)).toEqual({ holder: 'a', generation: '1' });
  });

  it('is refused for a store that cannot be taken over (a file), which keeps STORE_LOCKED', async () => {
    const error = await rejection(createSupervisor({ store: jsonFileStore('/nonexistent/x.json'), standby: true }));
    expect([error.code, error.message]).toEqual(['INVALID_INPUT', expect.stringContaining('standby: this store cannot be taken over')]);
  });
});

describe('clock skew between the supervisor and the database', () => {
  it('past the bound: warns and holds expiries back until the clocks agree again', async () => {
    const s = schema();
    const clock = createTestClock(T0, { awaitWork: false });
    const first = await open({ store: storeIn(s), clock });
    await first.create({ id: 't' });
    // Leased on the test clock (January 2026): the expiry is long past on the real clock.
    await first.claim('t', { owner: 'w', leaseMs: 60_000 });
    await first.close();

    let offset = 30_000;
    const real = systemClock();
    const skewed: Clock = { ...real, now: () => real.now() - offset };
    const { lines, logger } = logs();
    // No `clock`: the supervisor runs on the system clock, so its skew against the database is checked.
    const sup = await open({ store: storeIn(s, { clock: skewed, ownershipTtlMs: 300 }), logger, maxClockSkewMs: 2_000 });
    expect(lines.some((l) => /clock is \d+ ms off the clock of store .* lease expiries and grace ends are held back/.test(l))).toBe(true);
    expect(sup.get('t')?.state).toBe('leased');
    // Still held after renewals, and calls do not fire the overdue expiry either.
    await expect(sup.claim('t', { owner: 'x' })).rejects.toMatchObject({ reason: 'held' });
    offset = 0;
    await eventually(() => sup.get('t')?.state === 'stale');
    expect(lines.some((l) => l.includes('agree again'))).toBe(true);
  });

  it('the gate keeps timers that fire while held, runs them on release, and drops one cleared meanwhile', async () => {
    const clock = createTestClock(T0, { awaitWork: false });
    const gate = createExpiryGate(clock);
    const fired: string[] = [];
    gate.hold();
    gate.clock.setTimeout(() => fired.push('a'), 10);
    const b = gate.clock.setTimeout(() => fired.push('b'), 20);
    await clock.advance(30);
    expect(fired).toEqual([]);
    gate.clock.clearTimeout(b);
    gate.release();
    expect(fired).toEqual(['a']);
    gate.clock.setTimeout(() => fired.push('c'), 10);
    await clock.advance(10);
    expect(fired).toEqual(['a', 'c']);
  });
});
