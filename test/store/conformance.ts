// One contract suite that every Store implementation must pass; each store's test file runs
// it with a fixture that knows how to build that store and how to "restart" it.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store, TaskRecord } from '../../src/store/types.js';
import { rejection } from '../support.js';

export interface StoreFixture {
  /** A store over the fixture's data, as a restarted supervisor would get it. */
  connect(): Store;
  cleanup(): Promise<void>;
}

export function record(id: string, state: TaskRecord['state'] = 'pending', extra: Record<string, unknown> = {}): TaskRecord {
  return { state, context: { id, ...extra } };
}

export function describeStoreConformance(name: string, makeFixture: () => Promise<StoreFixture>): void {
  describe(`Store conformance: ${name}`, () => {
    let fixture: StoreFixture;
    const opened: Store[] = [];

    function connect(): Store {
      const store = fixture.connect();
      opened.push(store);
      return store;
    }

    beforeEach(async () => {
      fixture = await makeFixture();
    });

    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
      await fixture.cleanup();
    });

    it('opens empty and names its location', async () => {
      const store = connect();
      const contents = await store.open();
      expect(contents.tasks.size).toBe(0);
      expect(store.location.length).toBeGreaterThan(0);
    });

    it('keeps committed records across close and reopen', async () => {
      const store = connect();
      await store.open();
      await store.commit(
        new Map([
          ['a', record('a', 'pending', { attempts: 0, tags: ['x', 'y'] })],
          ['b', record('b', { running: 'leased' }, { lease: { owner: 'w1', epoch: 3 }, note: null })],
        ]),
      );
      await store.close();

      const restarted = connect();
      const { tasks } = await restarted.open();
      expect([...tasks.keys()].sort()).toEqual(['a', 'b']);
      expect(tasks.get('a')).toEqual(record('a', 'pending', { attempts: 0, tags: ['x', 'y'] }));
      expect(tasks.get('b')).toEqual(record('b', { running: 'leased' }, { lease: { owner: 'w1', epoch: 3 }, note: null }));
    });

    it('keeps the meta committed with a batch, and refuses a malformed one with nothing applied', async () => {
      const store = connect();
      expect((await store.open()).meta?.epochFloor ?? 0).toBe(0);
      await store.commit(new Map([['a', record('a')], ['gone', null]]), { epochFloor: 7 });
      await store.commit(new Map([['b', record('b')]]));
      const refused = await rejection(store.commit(new Map([['c', record('c')]]), { epochFloor: -1 }));
      expect(refused.code).toBe('INVALID_INPUT');
      await store.close();
      const restarted = connect();
      const contents = await restarted.open();
      expect(contents.meta?.epochFloor).toBe(7);
      expect([...contents.tasks.keys()].sort()).toEqual(['a', 'b']);
    });

    it('hands tasks back in the order they were first stored: an update keeps its place, a re-created id goes last', async () => {
      // The supervisor breaks claim-order ties by creation order, which a restart rebuilds from this order.
      const store = connect();
      await store.open();
      await store.commit(new Map([['m', record('m')], ['z', record('z')], ['a', record('a')]]));
      await store.commit(new Map([['b', record('b')], ['m', record('m', 'done')]]));
      await store.commit(new Map<string, TaskRecord | null>([['z', null]]));
      await store.commit(new Map([['z', record('z')]]));
      await store.close();
      const { tasks } = await connect().open();
      expect([...tasks.keys()]).toEqual(['m', 'a', 'b', 'z']);
    });

    it('can be opened again through the same object after close', async () => {
      const store = connect();
      await store.open();
      await store.commit(new Map([['a', record('a')]]));
      await store.close();
      const { tasks } = await store.open();
      expect(tasks.get('a')).toEqual(record('a'));
    });

    it('replaces records, deletes with null, and ignores deleting an unknown id', async () => {
      const store = connect();
      await store.open();
      await store.commit(new Map([['a', record('a')], ['b', record('b')]]));
      await store.commit(
        new Map<string, TaskRecord | null>([
          ['a', record('a', 'done', { result: 42 })],
          ['b', null],
          ['never-existed', null],
        ]),
      );
      await store.close();
      const { tasks } = await connect().open();
      expect([...tasks.keys()]).toEqual(['a']);
      expect(tasks.get('a')).toEqual(record('a', 'done', { result: 42 }));
    });

    it('refuses a second open while open with STORE_LOCKED', async () => {
      const store = connect();
      await store.open();
      const other = await rejection(connect().open());
      expect(other.code).toBe('STORE_LOCKED');
      expect(other.message).toContain(store.location);
      const same = await rejection(store.open());
      expect(same.code).toBe('STORE_LOCKED');
    });

    it('rejects commit before open and after close with STORE_WRITE_FAILED', async () => {
      const store = connect();
      expect((await rejection(store.commit(new Map([['a', record('a')]])))).code).toBe('STORE_WRITE_FAILED');
      await store.open();
      await store.close();
      expect((await rejection(store.commit(new Map([['a', record('a')]])))).code).toBe('STORE_WRITE_FAILED');
      const { tasks } = await connect().open();
      expect(tasks.size).toBe(0);
    });

    it('treats close as idempotent', async () => {
      const store = connect();
      await store.open();
      await store.close();
      await store.close();
      await expect(connect().open()).resolves.toBeDefined();
    });

    it('stores "__proto__" and other prototype names as ordinary ids', async () => {
      const store = connect();
      await store.open();
      const ids = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
      await store.commit(new Map(ids.map((id) => [id, record(id, 'pending', { polluted: 'no' })])));
      await store.close();
      const { tasks } = await connect().open();
      expect([...tasks.keys()].sort()).toEqual([...ids].sort());
      for (const id of ids) expect(tasks.get(id)).toEqual(record(id, 'pending', { polluted: 'no' }));
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    });

    it('does not share objects with its callers', async () => {
      const store = connect();
      const first = await store.open();
      const mine = record('a', 'pending', { list: [1] });
      await store.commit(new Map([['a', mine]]));
      (mine.context.list as number[]).push(2);
      mine.state = 'tampered';
      await store.close();

      const reopened = await store.open();
      expect(reopened.tasks.get('a')).toEqual(record('a', 'pending', { list: [1] }));
      const fromOpen = reopened.tasks.get('a');
      if (fromOpen) (fromOpen.context.list as number[]).push(3);
      reopened.tasks.delete('a');
      expect(first.tasks.size).toBe(0);
      await store.close();

      const again = await store.open();
      expect(again.tasks.get('a')).toEqual(record('a', 'pending', { list: [1] }));
    });

    it('rejects a malformed batch with INVALID_INPUT and applies none of it', async () => {
      const store = connect();
      await store.open();
      const bad: [string, TaskRecord][] = [
        ['ok', record('ok')],
        ['mismatch', record('someone-else')],
      ];
      const error = await rejection(store.commit(new Map(bad)));
      expect(error.code).toBe('INVALID_INPUT');
      expect(error.message).toContain('mismatch');

      const notJson = [
        ['nan', record('nan', 'pending', { n: Number.NaN })],
        ['date', record('date', 'pending', { at: new Date(0) })],
        ['fn', record('fn', 'pending', { f: () => 1 })],
        ['emptyState', record('emptyState', '')],
        ['', record('')],
      ] as const;
      for (const [id, rec] of notJson) {
        expect((await rejection(store.commit(new Map([[id, rec]])))).code, id).toBe('INVALID_INPUT');
      }
      await store.close();
      const { tasks } = await connect().open();
      expect(tasks.size).toBe(0);
    });

    it('accepts exactly the records that survive a JSON round trip', async () => {
      const store = connect();
      await store.open();
      const circular: Record<string, unknown> = { id: 'circular' };
      circular.self = circular;
      const refused: [string, TaskRecord][] = [
        ['infinity', record('infinity', 'pending', { n: -Infinity })],
        ['undefinedInArray', record('undefinedInArray', 'pending', { list: [1, undefined] })],
        // eslint-disable-next-line no-sparse-arrays
        ['hole', record('hole', 'pending', { list: [1, , 2] })],
        ['circular', { state: 'pending', context: circular }],
        ['map', record('map', 'pending', { m: new Map([[1, 2]]) })],
        ['bigint', record('bigint', 'pending', { n: 1n })],
        ['toJSON', record('toJSON', 'pending', { o: { toJSON: () => 'x' } })],
        ['extraKey', { ...record('extraKey'), extra: true } as TaskRecord],
      ];
      for (const [id, rec] of refused) {
        expect((await rejection(store.commit(new Map([[id, rec]])))).code, id).toBe('INVALID_INPUT');
      }
      const withProto = JSON.parse('{"id":"proto","__proto__":{"polluted":true}}') as Record<string, unknown>;
      const accepted = new Map<string, TaskRecord>([
        ['proto', { state: 'pending', context: withProto }],
        ['bare', record('bare', 'pending', { bare: Object.assign(Object.create(null) as object, { a: 1 }), gone: undefined })],
        ['text', record('text', { running: 'leased' }, { s: 'quote " backslash \\ newline \n ✓ \ud800', big: 1e308 })],
      ]);
      await store.commit(accepted);
      await store.close();
      const { tasks } = await connect().open();
      expect([...tasks.keys()].sort()).toEqual(['bare', 'proto', 'text']);
      for (const [id, rec] of accepted) expect(JSON.stringify(tasks.get(id)), id).toBe(JSON.stringify(rec));
      expect(Object.hasOwn(tasks.get('proto')!.context, '__proto__')).toBe(true);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('serialises concurrent commits in call order', async () => {
      const store = connect();
      await store.open();
      const commits: Promise<void>[] = [];
      for (let i = 0; i < 20; i++) {
        commits.push(
          store.commit(
            new Map([
              ['counter', record('counter', 'pending', { value: i })],
              [`t${i}`, record(`t${i}`)],
            ]),
          ),
        );
      }
      await Promise.all(commits);
      await store.close();
      const { tasks } = await connect().open();
      expect(tasks.size).toBe(21);
      expect(tasks.get('counter')?.context.value).toBe(19);
    });

    it('lets close wait for commits already requested', async () => {
      const store = connect();
      await store.open();
      const pending = store.commit(new Map([['a', record('a')]]));
      await store.close();
      await pending;
      const { tasks } = await connect().open();
      expect(tasks.get('a')).toEqual(record('a'));
    });
  });
}
