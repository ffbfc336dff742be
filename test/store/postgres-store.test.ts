// The PostgreSQL store on a real server (test/postgres/server.ts): the store conformance suite,
// then what only it has: migrations, ownership on the database clock, generation fencing.
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createSupervisor, type PostgresStore, type PostgresStoreOptions, type TaskRecord } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { dropSchema, freshSchema, postgresUrl, sql, storeIn } from '../postgres/database.js';
import { rejection, T0 } from '../support.js';
import { describeStoreConformance, record } from './conformance.js';

describeStoreConformance('postgresStore', () => {
  const schema = freshSchema('conformance');
  return Promise.resolve({ connect: () => storeIn(schema), cleanup: () => dropSchema(schema) });
});

const schemas: string[] = [];
const stores: PostgresStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const schema of schemas.splice(0)) await dropSchema(schema);
});

/** A fresh schema for this test, dropped after it. */
function schema(): string {
  const name = freshSchema('own');
  schemas.push(name);
  return name;
}

/** A store in `s`, closed after the test. */
function store(s: string, options: Partial<PostgresStoreOptions> = {}): PostgresStore {
  const made = storeIn(s, options);
  stores.push(made);
  return made;
}

const ownershipRow = async (s: string) =>
  (await sql<{ holder: string | null; generation: string; format_version: number; ttl_ms: number | null }>(`SELECT holder, generation, format_version, ttl_ms FROM ${s}.store`))[0]!;
const taskIds = async (s: string) => (await sql<{ id: string }>(`SELECT id FROM ${s}.tasks ORDER BY id`)).map((row) => row.id);
/** Ages the holder's last renewal by `ms` on the database clock: what `ms` of silence would do. */
const age = (s: string, ms: number) => sql(`UPDATE ${s}.store SET renewed_at = renewed_at - $1 * interval '1 millisecond'`, [ms]);

describe('postgresStore migrations', () => {
  it('creates the schema at the current format version on first open, and keeps it on reopen', async () => {
    const s = schema();
    const first = store(s);
    expect((await first.open()).tasks.size).toBe(0);
    expect(await ownershipRow(s)).toMatchObject({ format_version: 2, generation: '1', ttl_ms: 10_000 });
    await first.commit(new Map([['a', record('a')]]), { epochFloor: 3 });
    await first.close();

    const second = store(s);
    const contents = await second.open();
    expect([...contents.tasks.keys()]).toEqual(['a']);
    expect(contents.meta).toEqual({ epochFloor: 3 });
    expect(await ownershipRow(s)).toMatchObject({ format_version: 2, generation: '2' });
  });

  it('lets only one of two racing openers create and own a fresh schema; the other gets STORE_LOCKED', async () => {
    const s = schema();
    const results = await Promise.allSettled([store(s).open(), store(s).open(), store(s).open()]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as { code: string }).code).toBe('STORE_LOCKED');
    expect(await ownershipRow(s)).toMatchObject({ format_version: 2, generation: '1' });
  });

  it('refuses a schema newer than this code with STORE_CORRUPT, changing nothing', async () => {
    const s = schema();
    const first = store(s);
    await first.open();
    await first.commit(new Map([['a', record('a')]]));
    await first.close();
    await sql(`UPDATE ${s}.store SET format_version = 3`);

    const error = await rejection(store(s).open());
    expect(error.code).toBe('STORE_CORRUPT');
    expect(error.message).toContain('format version 3, newer than the 2 this leasehold understands');
    expect(error.message).toContain(`#${s}`);
    expect(await ownershipRow(s)).toMatchObject({ format_version: 3, generation: '1', holder: null });
    expect(await taskIds(s)).toEqual(['a']);
  });

  it('refuses tables that are not a leasehold store with STORE_CORRUPT', async () => {
    const s = schema();
    await sql(`CREATE SCHEMA ${s}; CREATE TABLE ${s}.store (id int, name text)`);
    const error = await rejection(store(s).open());
    expect(error.code).toBe('STORE_CORRUPT');
    expect(error.message).toContain(`${s}.store is not a leasehold store table`);
  });

  it('names its location without the password, and refuses bad options with INVALID_INPUT', async () => {
    const s = schema();
    const url = new URL(postgresUrl());
    expect(url.password.length).toBeGreaterThan(0);
    expect(store(s).location).toBe(`postgres://postgres@${url.host}/postgres#${s}`);
    expect(() => storeIn('Robert"); DROP TABLE x; --')).toThrow(/schema must be/);
    expect(() => storeIn('pg_catalog')).toThrow(/reserved/);
    expect(() => storeIn(s, { ownershipTtlMs: 0 })).toThrow(/ownershipTtlMs/);
  });

  it('keeps the top-level state and the deadlines of each record in their own columns, as stored', async () => {
    const s = schema();
    const opened = store(s);
    await opened.open();
    // A record the store takes as its JSON: the columns follow the text, not the object.
    class Wrapped {
      state = 'planned';
      context = { id: 'w', notBefore: 5 };
      toJSON() {
        return record('w', 'planned', { notBefore: 7 });
      }
    }
    await opened.commit(
      new Map<string, TaskRecord>([
        ['g', record('g', { stale: 'grace' }, { lease: { expiresAt: 1_000 }, graceEndsAt: 2_000 })],
        ['c', record('c', { failed: 'compensating' }, { compensationRetryAt: 3_000, notBefore: 1.5 })],
        ['w', new Wrapped() as unknown as TaskRecord],
      ]),
    );
    const rows = await sql(`SELECT id, state, lease_expires_at, grace_ends_at, not_before, compensation_retry_at FROM ${s}.tasks ORDER BY seq`);
    expect(rows).toEqual([
      { id: 'g', state: 'stale', lease_expires_at: '1000', grace_ends_at: '2000', not_before: null, compensation_retry_at: null },
      { id: 'c', state: 'failed', lease_expires_at: null, grace_ends_at: null, not_before: null, compensation_retry_at: '3000' },
      { id: 'w', state: 'planned', lease_expires_at: null, grace_ends_at: null, not_before: '7', compensation_retry_at: null },
    ]);
  });

  it('refuses ids PostgreSQL text cannot hold with INVALID_INPUT, writing none of the batch', async () => {
    const s = schema();
    const opened = store(s);
    await opened.open();
    for (const id of ['nul\0', 'lone \ud800']) {
      const error = await rejection(opened.commit(new Map([['ok', record('ok')], [id, record(id)]])));
      expect(error.code).toBe('INVALID_INPUT');
    }
    expect(await taskIds(s)).toEqual([]);
  });
});

describe('postgresStore ownership (a lease on the database clock)', () => {
  it('refuses a second opener while the holder renews, naming the holder', async () => {
    const s = schema();
    await store(s, { holder: 'host-a:1' }).open();
    const error = await rejection(store(s, { holder: 'host-b:2' }).open());
    expect(error.code).toBe('STORE_LOCKED');
    expect(error.message).toContain('owned by host-a:1');
    expect(await ownershipRow(s)).toMatchObject({ holder: 'host-a:1', generation: '1' });
  });

  it("is taken over once the holder has not renewed within its own TTL, bumping the generation", async () => {
    const s = schema();
    const first = store(s, { holder: 'old', ownershipTtlMs: 300 });
    await first.open();
    // A newcomer with a long TTL of its own still goes by the holder's 300 ms.
    await age(s, 250);
    expect((await rejection(store(s, { holder: 'new' }).open())).code).toBe('STORE_LOCKED');
    await age(s, 100);
    const second = store(s, { holder: 'new' });
    await second.open();
    expect(await ownershipRow(s)).toMatchObject({ holder: 'new', generation: '2', ttl_ms: 10_000 });
    expect(second.ownership()).toMatchObject({ generation: 2, lost: false });
  });

  it('renews every third of the TTL on its clock, which keeps newcomers out', async () => {
    const s = schema();
    const clock = createTestClock(T0, { awaitWork: false });
    const holder = store(s, { ownershipTtlMs: 3_000, clock });
    await holder.open();
    await age(s, 2_900);
    await clock.advance(1_000);
    // The renewal is one query in flight: wait for it on the database, boundedly.
    for (let i = 0; i < 100; i++) {
      const [row] = await sql<{ fresh: boolean }>(`SELECT renewed_at > clock_timestamp() - interval '1 second' AS fresh FROM ${s}.store`);
      if (row!.fresh) break;
      await new Promise((resolve) => globalThis.setTimeout(resolve, 20));
    }
    await age(s, 1_000);
    expect((await rejection(store(s).open())).code).toBe('STORE_LOCKED');
    expect(clock.pendingTimers).toBe(1);
    await holder.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it('measures the database clock against its own at open and renewal, and marks ownership lost when a renewal finds it taken', async () => {
    const s = schema();
    const clock = createTestClock(T0, { awaitWork: false });
    const held = store(s, { ownershipTtlMs: 3_000, clock });
    await held.open();
    // The test clock stands at 2026-01-01; the database's is the real time.
    const wall = store(schema());
    await wall.open();
    expect(Math.abs(wall.ownership()!.skewMs)).toBeLessThan(5_000);
    expect(held.ownership()!.skewMs).toBeGreaterThan(Date.now() - T0 - 60_000);

    await sql(`UPDATE ${s}.store SET generation = generation + 1, holder = 'standby'`);
    await clock.advance(1_000);
    for (let i = 0; i < 100 && !held.ownership()!.lost; i++) await new Promise((resolve) => globalThis.setTimeout(resolve, 20));
    expect(held.ownership()!.lost).toBe(true);
    // A lost store stops renewing and refuses commits without asking the database.
    expect(clock.pendingTimers).toBe(0);
    expect((await rejection(held.commit(new Map([['a', record('a')]])))).code).toBe('STORE_LOCKED');
    expect(await taskIds(s)).toEqual([]);
  });

  it('lockWaitMs: open waits, on its clock, for the holder to go silent past its TTL, then takes over', async () => {
    const s = schema();
    // The holder's renewals run on a clock that stands still: it has gone silent.
    const silent = store(s, { ownershipTtlMs: 1_000, clock: createTestClock(T0, { awaitWork: false }) });
    await silent.open();
    const clock = createTestClock(T0, { awaitWork: false });
    const standby = store(s, { holder: 'standby', lockWaitMs: 60_000, clock });
    const opening = standby.open();
    // Bounded: wait for the first refused try to arm its pause.
    for (let i = 0; i < 100 && clock.pendingTimers === 0; i++) await new Promise((resolve) => globalThis.setTimeout(resolve, 10));
    expect(clock.pendingTimers).toBe(1);
    await age(s, 2_000);
    await clock.advance(250);
    await opening;
    expect(await ownershipRow(s)).toMatchObject({ holder: 'standby', generation: '2' });
    expect((await rejection(silent.commit(new Map([['a', record('a')]])))).code).toBe('STORE_LOCKED');
  });

  it('lockWaitMs: gives up with STORE_LOCKED saying how long it waited, taking nothing', async () => {
    const s = schema();
    await store(s, { holder: 'leader' }).open();
    const clock = createTestClock(T0, { awaitWork: false });
    const opening = rejection(store(s, { lockWaitMs: 5_000, clock }).open());
    for (let i = 0; i < 100 && clock.pendingTimers === 0; i++) await new Promise((resolve) => globalThis.setTimeout(resolve, 10));
    await clock.advance(5_000);
    const error = await opening;
    expect(error.code).toBe('STORE_LOCKED');
    expect(error.message).toMatch(/owned by leader.*waited 5000 ms/);
    expect(await ownershipRow(s)).toMatchObject({ holder: 'leader', generation: '1' });
  });

  it('releases ownership on close, so the next opener takes it at once', async () => {
    const s = schema();
    const first = store(s, { ownershipTtlMs: 60_000 });
    await first.open();
    await first.close();
    expect(await ownershipRow(s)).toMatchObject({ holder: null, generation: '1' });
    expect(first.ownership()).toBeUndefined();
    await store(s).open();
    expect(await ownershipRow(s)).toMatchObject({ generation: '2' });
  });
});

describe('postgresStore fencing (the generation checked in every commit)', () => {
  it('refuses every commit once the generation moved behind its back, writing nothing, and leaves the new owner be on close', async () => {
    const s = schema();
    const deposed = store(s);
    await deposed.open();
    await deposed.commit(new Map([['a', record('a')]]));
    await sql(`UPDATE ${s}.store SET generation = generation + 1, holder = 'thief', renewed_at = clock_timestamp()`);

    const error = await rejection(deposed.commit(new Map([['a', record('a', 'done')], ['b', record('b')]]), { epochFloor: 9 }));
    expect(error.code).toBe('STORE_LOCKED');
    expect(error.message).toContain('ownership lost: generation 1 was taken over; thief owns it now; nothing was written');
    expect((await rejection(deposed.commit(new Map([['c', record('c')]])))).code).toBe('STORE_LOCKED');
    expect(deposed.ownership()?.lost).toBe(true);
    expect(await taskIds(s)).toEqual(['a']);
    expect((await sql<{ epoch_floor: string }>(`SELECT epoch_floor FROM ${s}.store`))[0]!.epoch_floor).toBe('0');

    await deposed.close();
    expect(await ownershipRow(s)).toMatchObject({ holder: 'thief', generation: '2' });
  });

  it('a commit racing a takeover waits for it under the share lock, then refuses', async () => {
    const s = schema();
    const deposed = store(s);
    await deposed.open();
    const thief = new pg.Client({ connectionString: postgresUrl() });
    await thief.connect();
    try {
      await thief.query('BEGIN');
      await thief.query(`UPDATE ${s}.store SET generation = generation + 1, holder = 'thief'`);
      const commit = rejection(deposed.commit(new Map([['a', record('a')]])));
      // The commit is blocked on the ownership row until the takeover commits.
      const waiting = async () =>
        (await sql<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`, [`%${s}.store%FOR SHARE%`]))[0]!.n !== '0';
      for (let i = 0; i < 100 && !(await waiting()); i++) await new Promise((resolve) => globalThis.setTimeout(resolve, 10));
      expect(await waiting()).toBe(true);
      await thief.query('COMMIT');
      expect((await commit).code).toBe('STORE_LOCKED');
    } finally {
      await thief.end();
    }
    expect(await taskIds(s)).toEqual([]);
  });
});

describe('a supervisor on postgresStore whose ownership is taken over', () => {
  it('refuses the calls of the fenced commit with STORE_LOCKED, closes itself and writes nothing', async () => {
    const s = schema();
    const clock = createTestClock(T0);
    const sup = await createSupervisor({ store: storeIn(s), clock });
    try {
      await sup.create({ id: 't' });
      const lease = await sup.claim('t', { owner: 'w', leaseMs: 60_000 });
      await clock.advance(1_000);
      const before = await sql(`SELECT record::text FROM ${s}.tasks`);
      await sql(`UPDATE ${s}.store SET generation = generation + 1, holder = 'standby'`);

      const error = await rejection(sup.heartbeat('t', { owner: 'w', epoch: lease.epoch, progress: 50 }));
      expect(error.code).toBe('STORE_LOCKED');
      // It closed itself (test/store/postgres-standby.test.ts): nothing it held is served any more.
      expect(sup.role).toBe('deposed');
      expect((await rejection(sup.create({ id: 'u' }))).code).toBe('STORE_LOCKED');
      expect(await sql(`SELECT record::text FROM ${s}.tasks`)).toEqual(before);
    } finally {
      await sup.close();
    }
    expect(await ownershipRow(s)).toMatchObject({ holder: 'standby', generation: '2' });
  });
});
