// Compaction of the journaled store while commits go on: the snapshot is written outside the
// commit queue, so commits are acknowledged meanwhile; then the lines the snapshot holds are
// dropped and the ones appended meanwhile kept. The writes are stopped at each step (steno's
// Writer and the journal's rename are wrapped) to take crash images — copies of the files as
// a SIGKILL at that instant would leave them — and to make a step fail.
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { compactionsSettled, jsonFileStore, type JournaledStore } from '../../src/store/json-file-store.js';
import type { Store, TaskRecord } from '../../src/store/types.js';
import { rejection } from '../support.js';
import { record } from './conformance.js';

/** The steps a compaction can be stopped at, in order. */
type Step = 'snapshot write' | 'snapshot renamed' | 'journal tail rename' | 'journal tail renamed';

const hooks = vi.hoisted(() => ({
  /** Called at each step; a rejection fails the step. */
  at: undefined as ((step: Step) => Promise<void> | void) | undefined,
  /** The pieces each snapshot write was handed, in bytes. */
  pieces: [] as number[][],
  /** Makes the next fsync of this directory fail. */
  failDirectorySync: undefined as string | undefined,
  /** Makes the next fdatasync of a journal fail. */
  failJournalDatasync: false,
  /** What happened to the snapshot being written, in order. */
  log: [] as string[],
}));

vi.mock('steno', async (importOriginal) => {
  const real = await importOriginal<typeof import('steno')>();
  class Writer extends real.Writer {
    override async write(data: Parameters<InstanceType<typeof real.Writer>['write']>[0]): Promise<void> {
      await hooks.at?.('snapshot write');
      const lengths: number[] = [];
      hooks.pieces.push(lengths);
      const counted =
        typeof data === 'string'
          ? (lengths.push(Buffer.byteLength(data)), data)
          : (async function* () {
              for await (const piece of data as AsyncIterable<Buffer>) {
                lengths.push(piece.length);
                hooks.log.push('piece');
                yield piece;
              }
            })();
      await super.write(counted);
      hooks.log.push('renamed');
      await hooks.at?.('snapshot renamed');
    }
  }
  return { ...real, Writer };
});

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const rename: typeof real.rename = async (from, to) => {
    const journal = String(to).endsWith('.journal');
    if (journal) await hooks.at?.('journal tail rename');
    await real.rename(from, to);
    if (journal) await hooks.at?.('journal tail renamed');
  };
  const open: typeof real.open = async (path, ...rest) => {
    const handle = await real.open(path, ...rest);
    if (String(path).endsWith('.store.json.tmp')) {
      return Object.assign(Object.create(handle) as typeof handle, {
        datasync: () => (hooks.log.push('temp synced'), handle.datasync()),
      });
    }
    if (String(path).endsWith('.journal')) {
      return Object.assign(Object.create(handle) as typeof handle, {
        datasync: () => {
          if (!hooks.failJournalDatasync) return handle.datasync();
          hooks.failJournalDatasync = false;
          return Promise.reject(new Error('EIO: i/o error, fdatasync'));
        },
      });
    }
    if (hooks.failDirectorySync === undefined || String(path) !== hooks.failDirectorySync) return handle;
    hooks.failDirectorySync = undefined;
    return Object.assign(Object.create(handle) as typeof handle, { sync: () => Promise.reject(new Error('EIO: i/o error, fsync')) });
  };
  return { ...real, rename, open, default: { ...real, rename, open } };
});

let dir: string;
let file: string;
const opened: Store[] = [];

function journaled(path = file, compactBytes = 1 << 30): JournaledStore {
  const store = jsonFileStore(path, { journal: true, compactBytes });
  opened.push(store);
  return store;
}

let images = 0;
/** Every data file of the store as it is now, copied into a fresh folder: what a kill would leave. */
async function crashImage(): Promise<string> {
  const target = join(dir, `crash-${++images}`);
  await mkdir(target);
  for (const name of await readdir(dir)) {
    if (name.startsWith('crash-') || name.endsWith('.lock') || name.endsWith('.lock.owner')) continue;
    await copyFile(join(dir, name), join(target, name));
  }
  return join(target, basename(file));
}

/** The tasks a fresh store reads from `path`, as plain data. */
async function contentsOf(path: string): Promise<Record<string, TaskRecord>> {
  const store = journaled(path);
  try {
    return Object.fromEntries((await store.open()).tasks);
  } finally {
    await store.close();
  }
}

const journalLines = async (path: string) =>
  (await readFile(`${path}.journal`, 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { seq: number }).seq);

const task = (id: string, n: number) => record(id, 'pending', { n, pad: 'p'.repeat(100) });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'leasehold-compaction-'));
  file = join(dir, 'store.json');
  hooks.at = undefined;
  hooks.pieces = [];
  hooks.failDirectorySync = undefined;
  hooks.failJournalDatasync = false;
  hooks.log = [];
});

afterEach(async () => {
  hooks.at = undefined;
  for (const store of opened.splice(0)) await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a compaction under way', () => {
  it('lets commits be acknowledged meanwhile; a kill at any step reopens to exactly what was acknowledged; the lines appended meanwhile are kept', async () => {
    const store = journaled();
    await store.open();
    const acknowledged: Record<string, TaskRecord> = {};
    const commit = async (id: string, n: number) => {
      await store.commit(new Map([[id, task(id, n)]]));
      acknowledged[id] = task(id, n);
    };
    await commit('a', 1);
    await commit('b', 1);

    const checks: { step: string; image: string; expected: Record<string, TaskRecord> }[] = [];
    const image = async (step: string) => checks.push({ step, image: await crashImage(), expected: structuredClone(acknowledged) });
    const queued: Promise<void>[] = [];
    hooks.at = async (step) => {
      await image(`${step}, before the commit made there`);
      if (step === 'snapshot write' || step === 'snapshot renamed') {
        // Outside the commit queue: commits are acknowledged while the snapshot is written.
        await commit(step === 'snapshot write' ? 'c' : 'a', 2);
        await image(`${step}, after the commit made there`);
      } else {
        // Dropping the journal's head is a step of the queue: a commit waits for it.
        queued.push(commit(`during ${step}`, 3));
      }
    };
    await store.compact();
    hooks.at = undefined;
    await Promise.all(queued);

    expect(checks.map((c) => c.step.split(',')[0])).toEqual([
      'snapshot write',
      'snapshot write',
      'snapshot renamed',
      'snapshot renamed',
      'journal tail rename',
      'journal tail renamed',
    ]);
    for (const { step, image: path, expected } of checks) expect(await contentsOf(path), `a kill at: ${step}`).toEqual(expected);

    // The snapshot holds the tasks as of the compaction's start; the journal only what came after.
    const snapshot = JSON.parse(await readFile(file, 'utf8')) as { journalSeq: number; tasks: object };
    expect(snapshot).toEqual({ formatVersion: 2, journalSeq: 2, tasks: { a: task('a', 1), b: task('b', 1) } });
    expect(await journalLines(file)).toEqual([3, 4, 5, 6]);
    expect(await readdir(dir)).not.toContain('.store.json.journal.tmp');
    expect(await contentsOf(await crashImage())).toEqual(acknowledged);

    // The store goes on appending to the new journal, and a reopen has everything.
    await commit('d', 4);
    expect(await journalLines(file)).toEqual([3, 4, 5, 6, 7]);
    await store.close();
    expect(await contentsOf(file)).toEqual(acknowledged);
  });

  it('started by the size trigger runs beside the commits that follow, and close waits for it', async () => {
    const store = journaled(file, 0);
    await store.open();
    let resume: (() => void) | undefined;
    const resumed = new Promise<void>((done) => (resume = done));
    let reached: (() => void) | undefined;
    const started = new Promise<void>((done) => (reached = done));
    hooks.at = async (step) => {
      if (step !== 'snapshot write') return;
      reached!();
      await resumed;
    };
    // The first commit outgrows the empty snapshot: a compaction starts and stops at its write.
    await store.commit(new Map([['a', task('a', 1)]]));
    await started;
    for (let n = 0; n < 5; n++) await store.commit(new Map([[`t${n}`, task(`t${n}`, n)]]));
    const closing = store.close();
    resume!();
    await closing;
    hooks.at = undefined;
    // Close compacted once more after it: one file holds everything, the journal is empty.
    expect(await readFile(`${file}.journal`, 'utf8')).toBe('');
    expect(Object.keys(await contentsOf(file)).sort()).toEqual(['a', 't0', 't1', 't2', 't3', 't4']);
  });

  it('writes the snapshot in pieces, never as one string', async () => {
    const store = journaled();
    await store.open();
    const big = 'x'.repeat(1_000);
    await store.commit(new Map(Array.from({ length: 2_000 }, (_, i) => [`t${i}`, record(`t${i}`, 'pending', { big })])));
    await store.compact();
    // ~2 MB in pieces of at most 256 KiB.
    const pieces = hooks.pieces.at(-1)!;
    expect(pieces.length).toBeGreaterThanOrEqual(8);
    expect(Math.max(...pieces)).toBeLessThanOrEqual(256 * 1024);
    expect(pieces.reduce((sum, n) => sum + n, 0)).toBe((await readFile(file)).length);
  });

  it('fsyncs the snapshot as it is written, a few MiB at a time, and once more before it is renamed into place', async () => {
    const store = journaled();
    await store.open();
    const big = 'x'.repeat(1_000);
    await store.commit(new Map(Array.from({ length: 10_000 }, (_, i) => [`t${i}`, record(`t${i}`, 'pending', { big })])));
    hooks.log = [];
    await store.compact();
    const log = hooks.log.join(' ');
    // ~10 MB: synced after 4 MiB, after 8 MiB, and after the last piece — each before the rename.
    expect(log.match(/temp synced/g)).toHaveLength(3);
    expect(log.endsWith('piece temp synced renamed')).toBe(true);
    expect(log.indexOf('temp synced')).toBeGreaterThan(log.indexOf('piece'));
  });
});

describe('tasks kept as their place in the snapshot file', () => {
  it('are copied from the file into the next snapshot, byte for byte, beside the texts of tasks changed since', async () => {
    // Hand-written in the one-task-per-line layout, with spacing the store would not write.
    const a = '"a":{ "state": "planned", "context": {"id": "a", "n": 1} }';
    const b = '"b":{ "state": "planned", "context": {"id": "b", "n": 1} }';
    const c = '"c":{ "state": "planned", "context": {"id": "c", "n": 1} }';
    await writeFile(file, `{"formatVersion":2,"journalSeq":0,"tasks":{\n${a},\n${b},\n${c}\n}}\n`);
    const store = journaled();
    await store.open();
    await store.commit(new Map([['b', task('b', 2)], ['d', task('d', 2)]]));
    await store.compact();
    const lines = (await readFile(file, 'utf8')).split('\n');
    expect(lines).toEqual([
      '{"formatVersion":2,"journalSeq":1,"tasks":{',
      `${a},`,
      `"b":${JSON.stringify(task('b', 2))},`,
      `${c},`,
      `"d":${JSON.stringify(task('d', 2))}`,
      '}}',
      '',
    ]);
    // And again from the snapshot just written, whose places the store now keeps.
    await store.commit(new Map<string, TaskRecord | null>([['a', null]]));
    await store.compact();
    expect((await readFile(file, 'utf8')).split('\n').slice(1, -2)).toEqual([`"b":${JSON.stringify(task('b', 2))},`, `${c},`, `"d":${JSON.stringify(task('d', 2))}`]);
  });

  it('as are tasks committed since, from the journal: a journal changed under the store fails the compaction, and the snapshot stays', async () => {
    const store = journaled();
    await store.open();
    await store.commit(new Map([['a', task('a', 1)]]));
    const snapshot = await readFile(file);
    // Someone rewrites the journal in place (the lock says nobody may).
    await writeFile(`${file}.journal`, ' '.repeat((await readFile(`${file}.journal`)).length));
    const error = await rejection(store.compact());
    expect(error.code).toBe('STORE_WRITE_FAILED');
    expect(error.message).toContain('the journal no longer holds a task text');
    expect(await readFile(file)).toEqual(snapshot);
  });

  it('are not copied from a snapshot file changed under the store: the compaction fails and loses nothing', async () => {
    const store = journaled();
    await store.open();
    await store.commit(new Map([['a', task('a', 1)], ['b', task('b', 1)]]));
    await store.compact();
    await store.commit(new Map([['c', task('c', 1)]]));
    // Someone rewrites the snapshot in place (the lock says nobody may).
    await writeFile(file, ' '.repeat((await readFile(file)).length));
    const error = await rejection(store.compact());
    expect(error.code).toBe('STORE_WRITE_FAILED');
    expect(error.message).toContain('no longer holds a task');
    expect(await journalLines(file)).toEqual([2]);
  });
});

describe('a compaction that fails', () => {
  it('does not make the size trigger try again at every commit: the journal must grow as much again first', async () => {
    const store = journaled(file, 2_000);
    await store.open();
    let attempts = 0;
    hooks.at = (step) => {
      if (step !== 'snapshot write') return;
      attempts++;
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    // ~60 KB of journal in 300 commits of ~200 bytes: past 2,000 bytes at about the tenth.
    for (let n = 0; n < 300; n++) {
      await store.commit(new Map([[`t${n % 7}`, task(`t${n % 7}`, n)]]));
      await compactionsSettled(store);
    }
    // Tried at 2 KB, then again each time the journal grew by another 2 KB: ~30, not ~290.
    expect(attempts).toBeGreaterThan(10);
    expect(attempts).toBeLessThan(60);
    hooks.at = undefined;
    await store.commit(new Map([['last', task('last', 0)]]));
    await compactionsSettled(store);
    await store.compact();
    expect(await readFile(`${file}.journal`, 'utf8')).toBe('');
    expect(Object.keys(await contentsOf(await crashImage())).sort()).toEqual(['last', 't0', 't1', 't2', 't3', 't4', 't5', 't6']);
  });

  it('when the cut journal cannot be synced: the store goes on from the journal as it is, and the next compaction keeps the right tail', async () => {
    const store = journaled();
    await store.open();
    await store.commit(new Map([['a', task('a', 1)]]));
    // Nothing is appended during this compaction: the journal is cut to nothing, and its sync fails.
    hooks.failJournalDatasync = true;
    expect((await rejection(store.compact())).code).toBe('STORE_WRITE_FAILED');
    expect(await readFile(`${file}.journal`, 'utf8')).toBe('');
    await store.commit(new Map([['b', task('b', 1)]]));
    hooks.at = async (step) => {
      if (step === 'snapshot write') await store.commit(new Map([['c', task('c', 1)]]));
    };
    await store.compact();
    hooks.at = undefined;
    expect(await journalLines(file)).toEqual([3]);
    await store.close();
    expect(await contentsOf(file)).toEqual({ a: task('a', 1), b: task('b', 1), c: task('c', 1) });
  });

  it('while writing the snapshot: rejects with STORE_WRITE_FAILED, loses nothing, and the next one succeeds', async () => {
    const store = journaled();
    await store.open();
    await store.commit(new Map([['a', task('a', 1)]]));
    const before = await readFile(file, 'utf8');
    hooks.at = (step) => {
      if (step === 'snapshot write') throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    const error = await rejection(store.compact());
    expect(error.code).toBe('STORE_WRITE_FAILED');
    expect(error.message).toContain(`${file}.journal`);
    expect(error.message).toContain('ENOSPC');
    hooks.at = undefined;
    expect(await readFile(file, 'utf8')).toBe(before);
    expect(await journalLines(file)).toEqual([1]);

    await store.commit(new Map([['b', task('b', 1)]]));
    expect(await contentsOf(await crashImage())).toEqual({ a: task('a', 1), b: task('b', 1) });
    await store.compact();
    expect((JSON.parse(await readFile(file, 'utf8')) as { journalSeq: number }).journalSeq).toBe(2);
    expect(await readFile(`${file}.journal`, 'utf8')).toBe('');
  });

  it('while dropping the journal lines the new snapshot holds: the journal keeps them, they are skipped, and the next compaction drops them', async () => {
    const store = journaled();
    await store.open();
    await store.commit(new Map([['a', task('a', 1)]]));
    await store.commit(new Map([['b', task('b', 1)]]));
    hooks.at = async (step) => {
      // A commit during the snapshot write makes the journal's head be cut by a rename.
      if (step === 'snapshot write') await store.commit(new Map([['c', task('c', 1)]]));
      if (step === 'journal tail rename') throw Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' });
    };
    const error = await rejection(store.compact());
    hooks.at = undefined;
    expect(error.code).toBe('STORE_WRITE_FAILED');
    expect(error.message).toContain('EIO');
    // The snapshot is the new one; the journal still holds every line, the temp copy is gone.
    expect((JSON.parse(await readFile(file, 'utf8')) as { journalSeq: number }).journalSeq).toBe(2);
    expect(await journalLines(file)).toEqual([1, 2, 3]);
    expect(await readdir(dir)).not.toContain('.store.json.journal.tmp');
    const all = { a: task('a', 1), b: task('b', 1), c: task('c', 1) };
    expect(await contentsOf(await crashImage())).toEqual(all);

    // Commits go on; the next compaction leaves only what came after it.
    await store.commit(new Map([['d', task('d', 1)]]));
    expect(await journalLines(file)).toEqual([1, 2, 3, 4]);
    await store.compact();
    expect(await readFile(`${file}.journal`, 'utf8')).toBe('');
    await store.close();
    expect(await contentsOf(file)).toEqual({ ...all, d: task('d', 1) });
  });

  it('when the directory cannot be synced after the journal was renamed: the next append syncs it before writing to the new journal', async () => {
    const store = journaled();
    await store.open();
    await store.commit(new Map([['a', task('a', 1)]]));
    hooks.at = async (step) => {
      if (step === 'snapshot write') await store.commit(new Map([['b', task('b', 1)]]));
      if (step === 'journal tail renamed') hooks.failDirectorySync = dir;
    };
    const error = await rejection(store.compact());
    expect(error.code).toBe('STORE_WRITE_FAILED');
    expect(error.message).toContain('fsync');
    hooks.at = undefined;
    expect(await journalLines(file)).toEqual([2]);
    // Until the directory is synced, the rename could be undone by a power cut: no line may
    // go to the new journal before that, and a commit that cannot sync it fails.
    hooks.failDirectorySync = dir;
    expect((await rejection(store.commit(new Map([['c', task('c', 0)]])))).code).toBe('STORE_WRITE_FAILED');
    expect(await journalLines(file)).toEqual([2]);
    await store.commit(new Map([['c', task('c', 1)]]));
    expect(await journalLines(file)).toEqual([2, 3]);
    expect(await contentsOf(await crashImage())).toEqual({ a: task('a', 1), b: task('b', 1), c: task('c', 1) });
  });
});
