// The journaled JSON-file store: commits append to the journal, compaction folds it into the
// snapshot, recovery replays it and refuses damage. Crashes are simulated with "crash images":
// copies of an open store's files, which is what a killed process leaves behind.
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compactionsSettled, jsonFileStore, type JournaledStore } from '../../src/store/json-file-store.js';
import type { Store, TaskRecord } from '../../src/store/types.js';
import { durableDocument, rejection } from '../support.js';
import { record } from './conformance.js';

let dir: string;
let file: string;
const opened: Store[] = [];

function journaled(path = file, compactBytes?: number): JournaledStore {
  const store = jsonFileStore(path, compactBytes === undefined ? { journal: true } : { journal: true, compactBytes });
  opened.push(store);
  return store;
}

const journalOf = (path: string) => `${path}.journal`;
const text = (path: string) => readFile(path, 'utf8');
const json = async (path: string) => JSON.parse(await text(path)) as { formatVersion: number; journalSeq?: number; tasks: Record<string, TaskRecord> };
const size = async (path: string) => (await stat(path)).size;
const lines = async (path: string) => (await text(path)).split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { seq: number; changes: Record<string, TaskRecord | null> });
const bothFiles = async (path: string) => [await readFile(path), await readFile(journalOf(path))] as const;

let images = 0;
/** Copies the store's files as they are now into a fresh folder: what a crash would leave. */
async function crashImage(parts: { snapshot?: string; journal?: string } = {}): Promise<string> {
  const target = join(dir, `crash-${++images}`);
  await mkdir(target);
  const copy = join(target, 'store.json');
  await copyFile(parts.snapshot ?? file, copy);
  await copyFile(parts.journal ?? journalOf(file), journalOf(copy)).catch(() => undefined);
  return copy;
}

async function tasksOf(path: string, store: Store = journaled(path)) {
  const { tasks } = await store.open();
  return Object.fromEntries([...tasks].map(([id, r]) => [id, r.context]));
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'leasehold-journal-'));
  file = join(dir, 'store.json');
});

afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('commits', () => {
  it('append one line per commit to the journal and leave the snapshot alone', async () => {
    const store = journaled();
    await store.open();
    expect(await json(file)).toEqual({ formatVersion: 2, journalSeq: 0, tasks: {} });
    const snapshot = await text(file);

    await store.commit(new Map([['a', record('a', 'pending', { n: 1 })], ['b', record('b')]]));
    await store.commit(new Map<string, TaskRecord | null>([['a', null], ['__proto__', record('__proto__')]]));
    expect(await text(file)).toBe(snapshot);
    const journal = await text(journalOf(file));
    expect(journal.endsWith('\n')).toBe(true);
    expect(journal.split('\n')).toHaveLength(3);
    expect(await lines(journalOf(file))).toEqual([
      { seq: 1, changes: { a: record('a', 'pending', { n: 1 }), b: record('b') } },
      { seq: 2, changes: JSON.parse('{"a":null,"__proto__":{"state":"pending","context":{"id":"__proto__"}}}') },
    ]);
    expect(({} as Record<string, unknown>).state).toBeUndefined();
  });

  it('are replayed after the snapshot by the next open, in order', async () => {
    const store = journaled();
    await store.open();
    for (let i = 0; i < 5; i++) await store.commit(new Map([['counter', record('counter', 'pending', { value: i })], [`t${i}`, record(`t${i}`)]]));
    await store.commit(new Map([['t0', null]]));

    const image = await crashImage();
    expect((await json(image)).tasks).toEqual({});
    const tasks = await tasksOf(image);
    expect(Object.keys(tasks).sort()).toEqual(['counter', 't1', 't2', 't3', 't4']);
    expect(tasks.counter).toEqual({ id: 'counter', value: 4 });
    // Appends continue the sequence.
    await opened.at(-1)!.commit(new Map([['t5', record('t5')]]));
    expect((await lines(journalOf(image))).map((l) => l.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('of nothing write nothing', async () => {
    const store = journaled();
    await store.open();
    await store.commit(new Map());
    expect(await size(journalOf(file)).catch(() => 0)).toBe(0);
  });
});

describe('a torn last line', () => {
  for (const [name, tail] of [
    ['incomplete JSON', '{"seq":3,"changes":{"c":{"state":"pen'],
    ['complete JSON without its newline', '{"seq":3,"changes":{"c":{"state":"pending","context":{"id":"c"}}}}'],
    ['bytes of garbage', '\u0000\u0000\u0000'],
  ] as const) {
    it(`(${name}) is ignored, cut away, and the next commit starts a clean line`, async () => {
      const store = journaled();
      await store.open();
      await store.commit(new Map([['a', record('a')]]));
      await store.commit(new Map([['b', record('b')]]));
      const image = await crashImage();
      const complete = await text(journalOf(image));
      await writeFile(journalOf(image), complete + tail);
      const snapshot = await text(image);

      const reopened = journaled(image);
      expect(Object.keys(await tasksOf(image, reopened)).sort()).toEqual(['a', 'b']);
      expect(await text(journalOf(image))).toBe(complete);
      expect(await text(image)).toBe(snapshot);

      await reopened.commit(new Map([['c', record('c', 'again')]]));
      expect((await lines(journalOf(image))).map((l) => l.seq)).toEqual([1, 2, 3]);
      const again = await crashImage({ snapshot: image, journal: journalOf(image) });
      expect((await tasksOf(again)).c).toEqual({ id: 'c' });
    });
  }

  it('is left alone by a store without a journal, which still reads the lines before it', async () => {
    const store = journaled();
    await store.open();
    await store.commit(new Map([['a', record('a')]]));
    const image = await crashImage();
    await writeFile(journalOf(image), `${await text(journalOf(image))}{"seq":2,`);
    const before = await bothFiles(image);
    const plain = jsonFileStore(image, { journal: false });
    opened.push(plain);
    expect(Object.keys(await tasksOf(image, plain))).toEqual(['a']);
    await plain.close();
    expect(await bothFiles(image)).toEqual(before);
  });
});

describe('damage other than a torn last line', () => {
  const a = '{"seq":1,"changes":{"a":{"state":"pending","context":{"id":"a"}}}}';
  const b = '{"seq":2,"changes":{"b":{"state":"pending","context":{"id":"b"}}}}';
  const cases: { name: string; journal: string; mentions: string[] }[] = [
    { name: 'garbage in the middle', journal: `${a}\nnot json at all\n${b}\n`, mentions: ['line 2', 'not valid JSON'] },
    { name: 'a torn line followed by another', journal: `${a}\n{"seq":2,"chan\n${b}\n`, mentions: ['line 2', 'not valid JSON'] },
    { name: 'an empty line', journal: `${a}\n\n${b}\n`, mentions: ['line 2'] },
    { name: 'a gap in the sequence', journal: `${a}\n${b.replace('"seq":2', '"seq":4')}\n`, mentions: ['line 2', 'seq 4', 'expected 2'] },
    { name: 'a first line past the snapshot', journal: `${b}\n`, mentions: ['line 1', 'seq 2', 'at most 1'] },
    { name: 'a repeated seq', journal: `${a}\n${a}\n`, mentions: ['line 2', 'seq 1'] },
    {
      name: 'a record whose id differs from its key',
      journal: `${a}\n${b.replace('"id":"b"', '"id":"x"')}\n`,
      mentions: ['line 2', 'changes["b"].context.id'],
    },
    { name: 'a record without context', journal: `${a}\n{"seq":2,"changes":{"b":{"state":"pending"}}}\n`, mentions: ['line 2', 'changes["b"]'] },
    { name: 'changes that is an array', journal: `${a}\n{"seq":2,"changes":[]}\n`, mentions: ['line 2', 'changes'] },
    { name: 'an unknown field', journal: `${a}\n{"seq":2,"changes":{},"extra":1}\n`, mentions: ['line 2', 'extra'] },
    { name: 'a line that is not an object', journal: `${a}\n[2]\n`, mentions: ['line 2'] },
  ];
  for (const { name, journal, mentions } of cases) {
    it(`is refused with STORE_CORRUPT naming the journal and the line: ${name}; both files untouched`, async () => {
      await writeFile(file, '{"formatVersion":2,"journalSeq":0,"tasks":{}}');
      await writeFile(journalOf(file), journal);
      const before = await bothFiles(file);
      const listing = (await readdir(dir)).sort();

      for (const store of [journaled(), jsonFileStore(file, { journal: false })]) {
        const error = await rejection(store.open());
        expect(error.code).toBe('STORE_CORRUPT');
        expect((error as unknown as { file: string }).file).toBe(journalOf(file));
        expect(error.message).toContain(journalOf(file));
        for (const mention of mentions) expect(error.message).toContain(mention);
        expect(await bothFiles(file)).toEqual(before);
        expect((await readdir(dir)).sort()).toEqual(listing);
      }
    });
  }

  it('is refused when the snapshot is missing but the journal is not empty', async () => {
    await writeFile(journalOf(file), `${a}\n`);
    const error = await rejection(journaled().open());
    expect(error.code).toBe('STORE_CORRUPT');
    expect(error.message).toContain(file);
    expect(error.message).toContain('missing');
    expect(await readdir(dir)).toEqual(['store.json.journal']);
  });

  it('is refused when the journal is a directory', async () => {
    await writeFile(file, '{"formatVersion":2,"journalSeq":0,"tasks":{}}');
    await mkdir(journalOf(file));
    const error = await rejection(journaled().open());
    expect(error.code).toBe('STORE_CORRUPT');
    expect(error.message).toContain('not a regular file');
  });
});

describe('compaction', () => {
  async function expectCompacted(path: string, tasks: Record<string, TaskRecord>, journalSeq: number) {
    const snapshot = await text(path);
    // Human-readable: one task per line, everything in the one file.
    const lines = snapshot.split('\n');
    expect(lines[0]).toBe(`{"formatVersion":2,"journalSeq":${journalSeq},"tasks":{`);
    expect(lines.slice(-2)).toEqual(['}}', '']);
    expect(lines.slice(1, -2).map((line) => JSON.parse(`{${line.replace(/,$/, '')}}`) as unknown)).toEqual(
      Object.entries(tasks).map(([id, task]) => ({ [id]: task })),
    );
    expect(JSON.parse(snapshot)).toEqual({ formatVersion: 2, journalSeq, tasks });
    expect(await size(journalOf(path))).toBe(0);
  }

  it('explicit: folds the journal into the snapshot and empties the journal', async () => {
    const store = journaled();
    await store.open();
    await store.commit(new Map([['a', record('a')], ['b', record('b')]]));
    await store.commit(new Map<string, TaskRecord | null>([['b', null], ['c', record('c', 'done')]]));
    await store.compact();
    await expectCompacted(file, { a: record('a'), c: record('c', 'done') }, 2);

    await store.commit(new Map([['d', record('d')]]));
    expect(await lines(journalOf(file))).toEqual([{ seq: 3, changes: { d: record('d') } }]);
    expect(Object.keys(await tasksOf(await crashImage())).sort()).toEqual(['a', 'c', 'd']);
  });

  it('at close: the closed store is one readable file', async () => {
    const store = journaled();
    await store.open();
    await store.commit(new Map([['a', record('a', 'pending', { n: 1 })]]));
    await store.close();
    await expectCompacted(file, { a: record('a', 'pending', { n: 1 }) }, 1);
  });

  it('is skipped when there is nothing to fold: open and close write nothing', async () => {
    const store = journaled();
    await store.open();
    await store.commit(new Map([['a', record('a')]]));
    await store.close();
    const before = await bothFiles(file);
    const { mtimeMs } = await stat(file);
    await store.open();
    await store.compact();
    await store.close();
    expect(await bothFiles(file)).toEqual(before);
    expect((await stat(file)).mtimeMs).toBe(mtimeMs);
  });

  it('size-triggered: once the journal passes compactBytes, after the commit that passed it', async () => {
    const store = journaled(file, 300);
    await store.open();
    const commit = (i: number) => store.commit(new Map([[`t${i}`, record(`t${i}`, 'pending', { payload: 'x'.repeat(40) })]]));
    await commit(0);
    await commit(1);
    expect(await size(journalOf(file))).toBeGreaterThan(0);
    expect((await json(file)).tasks).toEqual({});
    let i = 2;
    while ((await json(file)).journalSeq === 0) {
      await commit(i++);
      // The compaction starts behind the commit that triggered it and runs beside later ones.
      await compactionsSettled(store);
      expect(i, 'compaction never triggered').toBeLessThan(20);
    }
    const snapshot = await json(file);
    expect(Object.keys(snapshot.tasks)).toHaveLength(i);
    expect(snapshot.journalSeq).toBe(i);
    expect(await size(journalOf(file))).toBe(0);
    expect(Object.keys(await tasksOf(await crashImage()))).toHaveLength(i);
  });

  it('size-triggered: waits for the journal to outgrow the snapshot too, so each compaction is paid for', async () => {
    const store = journaled(file, 0);
    await store.open();
    const payload = 'x'.repeat(1_000);
    // A snapshot of ~20 KB.
    await store.commit(new Map(Array.from({ length: 20 }, (_, i) => [`big${i}`, record(`big${i}`, 'pending', { payload })])));
    await compactionsSettled(store);
    const snapshotBytes = await size(file);
    expect(snapshotBytes).toBeGreaterThan(20_000);
    expect((await json(file)).journalSeq).toBe(1);

    // Small commits: no compaction until the journal holds more bytes than the snapshot.
    let commits = 0;
    while ((await json(file)).journalSeq === 1) {
      const before = await size(journalOf(file));
      await store.commit(new Map([['small', record('small', 'pending', { n: commits++, pad: 'y'.repeat(200) })]]));
      await compactionsSettled(store);
      if ((await json(file)).journalSeq === 1) expect(await size(journalOf(file))).toBeLessThanOrEqual(snapshotBytes + 400);
      else expect(before).toBeLessThanOrEqual(snapshotBytes);
      expect(commits, 'compaction never triggered').toBeLessThan(200);
    }
    expect(commits).toBeGreaterThan(20_000 / 400);
    expect(await size(journalOf(file))).toBe(0);
    await store.close();
    expect(Object.keys(await tasksOf(file))).toHaveLength(21);
  });

  it('compactBytes 0 compacts as soon as the journal outgrows the snapshot', async () => {
    const store = journaled(file, 0);
    await store.open();
    await store.commit(new Map([['a', record('a')]]));
    await compactionsSettled(store);
    await expectCompacted(file, { a: record('a') }, 1);
  });

  it('interrupted after the snapshot but before the journal was cut replays nothing twice', async () => {
    const store = journaled();
    await store.open();
    await store.commit(new Map([['a', record('a', 'pending', { v: 1 })]]));
    await store.commit(new Map([['a', null], ['b', record('b')]]));
    await store.commit(new Map([['b', record('b', 'done', { v: 2 })]]));
    const journalBefore = await crashImage();
    await store.compact();
    await store.commit(new Map([['a', record('a', 'again', { v: 3 })]]));
    const afterwards = await crashImage();

    // The new snapshot (journalSeq 3, then the commit of seq 4 in the journal) next to the old
    // journal holding 1..3, as a crash between the two steps would leave it.
    const crashed = await crashImage({ snapshot: file, journal: journalOf(journalBefore) });
    expect((await json(crashed)).journalSeq).toBe(3);
    const expected = { a: { id: 'a', v: 3 }, b: { id: 'b', v: 2 } };
    expect(await tasksOf(afterwards)).toEqual(expected);
    const store2 = opened.at(-1)!;
    await store2.close();

    const reopened = journaled(crashed);
    expect(await tasksOf(crashed, reopened)).toEqual({ b: { id: 'b', v: 2 } });
    // New lines follow the stale ones, and only they are replayed next time.
    await reopened.commit(new Map([['c', record('c')]]));
    expect((await lines(journalOf(crashed))).map((l) => l.seq)).toEqual([1, 2, 3, 4]);
    expect(await tasksOf(await crashImage({ snapshot: crashed, journal: journalOf(crashed) }))).toEqual({ b: { id: 'b', v: 2 }, c: { id: 'c' } });
    await reopened.close();
    await expectCompacted(crashed, { b: record('b', 'done', { v: 2 }), c: record('c') }, 4);
  });

  it('is refused with STORE_WRITE_FAILED before open and after close', async () => {
    const store = journaled();
    expect((await rejection(store.compact())).code).toBe('STORE_WRITE_FAILED');
    await store.open();
    await store.close();
    expect((await rejection(store.compact())).code).toBe('STORE_WRITE_FAILED');
  });
});

describe('formats and modes', () => {
  it('a formatVersion 1 store gets a journal: the snapshot is rewritten as formatVersion 2 once, then commits append', async () => {
    await writeFile(file, '{"formatVersion":1,"tasks":{"a":{"state":"pending","context":{"id":"a"}}}}');
    const store = journaled();
    expect(Object.keys(await tasksOf(file, store))).toEqual(['a']);
    expect((await json(file)).formatVersion).toBe(1);
    await store.commit(new Map([['b', record('b')]]));
    expect(await json(file)).toEqual({ formatVersion: 2, journalSeq: 0, tasks: { a: record('a'), b: record('b') } });
    expect(await size(journalOf(file)).catch(() => 0)).toBe(0);
    await store.commit(new Map([['c', record('c')]]));
    expect((await lines(journalOf(file))).map((l) => l.seq)).toEqual([1]);
  });

  it('a store without a journal reads a journaled one whole, and keeps journalSeq so nothing is replayed twice', async () => {
    const store = journaled();
    await store.open();
    await store.commit(new Map([['a', record('a')]]));
    await store.commit(new Map([['b', record('b')]]));
    const image = await crashImage();

    const plain = jsonFileStore(image, { journal: false });
    opened.push(plain);
    expect(Object.keys(await tasksOf(image, plain)).sort()).toEqual(['a', 'b']);
    await plain.commit(new Map([['a', null]]));
    expect(await json(image)).toEqual({ formatVersion: 2, journalSeq: 2, tasks: { b: record('b') } });
    await plain.close();
    expect(Object.keys(await tasksOf(image))).toEqual(['b']);
  });

  it('a store that never had a journal keeps writing formatVersion 1', async () => {
    const plain = jsonFileStore(file, { journal: false });
    opened.push(plain);
    await plain.open();
    await plain.commit(new Map([['a', record('a')]]));
    expect(await json(file)).toEqual({ formatVersion: 1, tasks: { a: record('a') } });
    expect('compact' in plain).toBe(false);
  });

  it('durableDocument (the tests’ own reader) agrees with the store', async () => {
    const store = journaled();
    await store.open();
    await store.commit(new Map([['a', record('a')], ['b', record('b')]]));
    await store.commit(new Map<string, TaskRecord | null>([['a', null]]));
    expect(durableDocument(file)).toEqual({ formatVersion: 2, journalSeq: 2, tasks: { b: record('b') } });
  });

  it('refuses bad options with INVALID_INPUT', () => {
    for (const options of [{ journal: 'yes' }, { journal: true, compactBytes: -1 }, { journal: true, compactBytes: Number.NaN }]) {
      expect(() => jsonFileStore(file, options as never)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    }
  });
});
