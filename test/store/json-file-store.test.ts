import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jsonFileStore, type JsonFileStoreOptions } from '../../src/store/json-file-store.js';
import type { Store } from '../../src/store/types.js';
import { rejection } from '../support.js';
import { record } from './conformance.js';
import { createHolders } from './holder.js';

let dir: string;
let file: string;
const opened: Store[] = [];
const holders = createHolders();

function store(options?: JsonFileStoreOptions): Store {
  const created = jsonFileStore(file, { journal: false, ...options });
  opened.push(created);
  return created;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A pid that certainly belonged to a process which has since exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn');
  await once(child, 'exit');
  return pid;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'leasehold-json-store-'));
  file = join(dir, 'store.json');
});

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  await holders.killAll();
  await rm(dir, { recursive: true, force: true });
});

describe('jsonFileStore file format', () => {
  it('writes the empty document durably at the first open, creating missing directories', async () => {
    file = join(dir, 'a', 'b', 'store.json');
    const s = store();
    await s.open();
    expect(s.location).toBe(resolve(file));
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ formatVersion: 1, tasks: {} });
  });

  it('stores the documented format on disk (even though vitest sets NODE_ENV=test)', async () => {
    expect(process.env.NODE_ENV).toBe('test');
    const s = store();
    await s.open();
    await s.commit(new Map([['t1', record('t1', { running: 'leased' }, { attempts: 1 })]]));
    const text = await readFile(file, 'utf8');
    expect(JSON.parse(text)).toEqual({
      formatVersion: 1,
      tasks: { t1: { state: { running: 'leased' }, context: { id: 't1', attempts: 1 } } },
    });
    // Compact, one task per line: readable, and diffable task by task.
    expect(text).toBe('{"formatVersion":1,"tasks":{\n"t1":{"state":{"running":"leased"},"context":{"id":"t1","attempts":1}}\n}}\n');
  });

  it('reads a hand-written file whose ids are prototype names without polluting anything', async () => {
    await writeFile(
      file,
      '{"formatVersion":1,"tasks":{"__proto__":{"state":"pending","context":{"id":"__proto__","admin":true}},' +
        '"constructor":{"state":"done","context":{"id":"constructor"}}}}',
    );
    const { tasks } = await store().open();
    expect([...tasks.keys()].sort()).toEqual(['__proto__', 'constructor']);
    expect(tasks.get('__proto__')).toEqual({ state: 'pending', context: { id: '__proto__', admin: true } });
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('holds a lock directory and an owner sidecar while open, and removes both on close', async () => {
    const s = store();
    await s.open();
    expect((await stat(`${file}.lock`)).isDirectory()).toBe(true);
    const owner = JSON.parse(await readFile(`${file}.lock.owner`, 'utf8')) as Record<string, unknown>;
    expect(owner).toMatchObject({ pid: process.pid, hostname: hostname() });
    expect(typeof owner.startedAt).toBe('string');
    await s.close();
    expect(await exists(`${file}.lock`)).toBe(false);
    expect(await exists(`${file}.lock.owner`)).toBe(false);
  });
});

describe('jsonFileStore refuses corrupt files', () => {
  const good = '{"formatVersion":1,"tasks":{"a":{"state":"pending","context":{"id":"a"}}}}';
  const cases: { name: string; content: string; mentions: string[] }[] = [
    { name: 'garbage', content: 'this is not json\n', mentions: ['JSON'] },
    { name: 'truncated JSON', content: good.slice(0, 40), mentions: ['JSON'] },
    { name: 'an empty file', content: '', mentions: ['empty'] },
    { name: 'JSON null', content: 'null', mentions: ['not a JSON object'] },
    { name: 'an array', content: '[]', mentions: ['not a JSON object'] },
    { name: 'a newer formatVersion', content: '{"formatVersion":3,"tasks":{}}', mentions: ['formatVersion 3', 'formatVersion 1 and 2'] },
    { name: 'formatVersion 2 without journalSeq', content: '{"formatVersion":2,"tasks":{}}', mentions: ['journalSeq'] },
    { name: 'formatVersion 1 with a journalSeq', content: '{"formatVersion":1,"journalSeq":0,"tasks":{}}', mentions: ['journalSeq'] },
    { name: 'a missing formatVersion', content: '{"tasks":{}}', mentions: ['formatVersion is missing'] },
    {
      name: 'a context.id that differs from its key',
      content: '{"formatVersion":1,"tasks":{"a":{"state":"pending","context":{"id":"b"}}}}',
      mentions: ['tasks["a"].context.id', '"b"'],
    },
    { name: 'tasks that is an array', content: '{"formatVersion":1,"tasks":[]}', mentions: ['tasks'] },
    { name: 'tasks that is a string', content: '{"formatVersion":1,"tasks":"a"}', mentions: ['tasks'] },
    { name: 'a record without context', content: '{"formatVersion":1,"tasks":{"a":{"state":"pending"}}}', mentions: ['tasks["a"].context'] },
    {
      name: 'a numeric state',
      content: '{"formatVersion":1,"tasks":{"a":{"state":7,"context":{"id":"a"}}}}',
      mentions: ['tasks["a"].state'],
    },
    {
      name: 'a number too large for a double (it would read as Infinity)',
      content: '{"formatVersion":1,"tasks":{"a":{"state":"pending","context":{"id":"a","n":1e400}}}}',
      mentions: ['tasks["a"].context.n', 'Infinity'],
    },
    {
      name: 'a bad task in the one-task-per-line layout',
      content: '{"formatVersion":1,"tasks":{\n"b":{"state":"pending","context":{"id":"b"}},\n"a":{"state":"pending","context":{"id":"a","n":-1e999}}\n}}\n',
      mentions: ['tasks["a"].context.n', 'Infinity'],
    },
    {
      name: 'a missing comma in the one-task-per-line layout',
      content: '{"formatVersion":1,"tasks":{\n"b":{"state":"pending","context":{"id":"b"}}\n"a":{"state":"pending","context":{"id":"a"}}\n}}\n',
      mentions: ['JSON'],
    },
    {
      name: 'a mismatched "__proto__" entry',
      content: '{"formatVersion":1,"tasks":{"__proto__":{"state":"pending","context":{"id":"x"}}}}',
      mentions: ['tasks["__proto__"]'],
    },
  ];

  for (const { name, content, mentions } of cases) {
    it(`with STORE_CORRUPT for ${name}, leaving the file untouched and unlocked`, async () => {
      await writeFile(file, content);
      const before = await readFile(file);
      const listing = (await readdir(dir)).sort();

      const error = await rejection(store().open());
      expect(error.code).toBe('STORE_CORRUPT');
      expect(error.message).toContain(resolve(file));
      for (const text of mentions) expect(error.message).toContain(text);

      expect((await readFile(file)).equals(before)).toBe(true);
      expect((await readdir(dir)).sort()).toEqual(listing);

      await writeFile(file, good);
      const { tasks } = await store().open();
      expect(tasks.get('a')).toEqual(record('a'));
    });
  }

  it('with STORE_CORRUPT when the path is a directory', async () => {
    await mkdir(file);
    const error = await rejection(store().open());
    expect(error.code).toBe('STORE_CORRUPT');
    expect(error.message).toContain('not a regular file');
    expect(await exists(`${file}.lock`)).toBe(false);
  });
});

describe('jsonFileStore locking', () => {
  it('is refused while another process holds the store, and available once it closes', async () => {
    const holder = await holders.hold(file);
    const error = await rejection(store().open());
    expect(error.code).toBe('STORE_LOCKED');
    expect(error.message).toContain(resolve(file));
    expect(error.message).toContain(`pid ${holder.pid}`);

    holder.stdin?.end();
    await once(holder, 'exit');
    await expect(store().open()).resolves.toBeDefined();
  });

  it('takes over a lock left by a holder that was killed', async () => {
    const holder = await holders.hold(file);
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    expect(await exists(`${file}.lock`)).toBe(true);

    await expect(store().open()).resolves.toBeDefined();
    const owner = JSON.parse(await readFile(`${file}.lock.owner`, 'utf8')) as { pid: number };
    expect(owner.pid).toBe(process.pid);
  });

  it('takes over a fresh lock whose sidecar names a dead process on this host', async () => {
    const pid = await deadPid();
    await mkdir(`${file}.lock`);
    await writeFile(`${file}.lock.owner`, JSON.stringify({ pid, hostname: hostname(), startedAt: new Date().toISOString() }));
    await expect(store().open()).resolves.toBeDefined();
  });

  it('takes over a lock whose sidecar names this process when no store here holds it', async () => {
    // What a restarted container sees: the same pid, a lock from the previous incarnation.
    await mkdir(`${file}.lock`);
    await writeFile(`${file}.lock.owner`, JSON.stringify({ pid: process.pid, hostname: hostname(), startedAt: 'earlier' }));
    await expect(store().open()).resolves.toBeDefined();
  });

  it('does not judge a pid from another host, nor a sidecar written for an earlier lock', async () => {
    const pid = await deadPid();
    await mkdir(`${file}.lock`);
    await writeFile(`${file}.lock.owner`, JSON.stringify({ pid, hostname: `not-${hostname()}`, startedAt: 'x' }));
    expect((await rejection(store().open())).code).toBe('STORE_LOCKED');

    await writeFile(`${file}.lock.owner`, JSON.stringify({ pid, hostname: hostname(), startedAt: 'x', lockId: '1:2' }));
    expect((await rejection(store().open())).code).toBe('STORE_LOCKED');
    expect(await exists(`${file}.lock`)).toBe(true);
  });

  it('treats a lock without a sidecar as held until its mtime goes stale', async () => {
    await mkdir(`${file}.lock`);
    const error = await rejection(store({ staleLockMs: 2_000 }).open());
    expect(error.code).toBe('STORE_LOCKED');
    const old = new Date(0);
    await utimes(`${file}.lock`, old, old);
    await expect(store({ staleLockMs: 2_000 }).open()).resolves.toBeDefined();
  });

  for (const journal of [false, true]) {
    it(`reports a lost lock through commit instead of crashing the process${journal ? ', and with a journal writes nothing more' : ''}`, async () => {
      const s = store({ staleLockMs: 2_000, journal });
      await s.open();
      await s.commit(new Map([['a', record('a')]]));
      await rmdir(`${file}.lock`);

      // proper-lockfile refreshes the lock every staleLockMs / 2 and notices it is gone then.
      let error: (Error & { code?: string }) | undefined;
      for (let i = 0; i < 40 && error === undefined; i++) {
        await new Promise((done) => setTimeout(done, 100));
        error = await s.commit(new Map([['b', record('b')]])).then(
          () => undefined,
          (e: unknown) => e as Error & { code?: string },
        );
      }
      expect(error?.code).toBe('STORE_WRITE_FAILED');
      expect(error?.message).toContain('lock');
      const files = async () => [await readFile(file), await readFile(`${file}.journal`).catch(() => undefined)];
      const before = await files();
      // Neither an explicit compaction nor the one at close may write over a successor's files.
      if (journal) expect((await rejection(s.compact!())).code).toBe('STORE_WRITE_FAILED');
      await s.close();
      expect(await files()).toEqual(before);
    });
  }

  it('lets two stores over different files be open at once', async () => {
    const other = jsonFileStore(join(dir, 'other.json'));
    opened.push(other);
    await store().open();
    await expect(other.open()).resolves.toBeDefined();
  });
});

describe('jsonFileStore write failures', () => {
  // steno writes `.store.json.tmp` and renames it into place; a directory squatting on that
  // name makes the write fail even for root, who ignores permission bits.
  const blockWrites = () => mkdir(join(dir, '.store.json.tmp'));
  const unblockWrites = () => rmdir(join(dir, '.store.json.tmp'));

  it('rejects with STORE_WRITE_FAILED and a reopen shows the data from before', async () => {
    const s = store();
    await s.open();
    await s.commit(new Map([['a', record('a')]]));
    await blockWrites();

    const error = await rejection(s.commit(new Map([['a', null], ['b', record('b')]])));
    expect(error.code).toBe('STORE_WRITE_FAILED');
    expect(error.message).toContain(resolve(file));
    expect(error.cause).toBeInstanceOf(Error);
    await s.close();
    await unblockWrites();

    const { tasks } = await store().open();
    expect([...tasks.keys()]).toEqual(['a']);
  });

  it('does not let a failed batch reach the disk with the next successful commit', async () => {
    const s = store();
    await s.open();
    await s.commit(new Map([['a', record('a')]]));
    await blockWrites();
    expect((await rejection(s.commit(new Map([['a', null], ['b', record('b')]])))).code).toBe('STORE_WRITE_FAILED');
    await unblockWrites();
    await s.commit(new Map([['c', record('c')]]));
    await s.close();

    const { tasks } = await store().open();
    expect([...tasks.keys()].sort()).toEqual(['a', 'c']);
  });

  it('with a journal, a failed compaction loses nothing: commits go on, close still releases, the journal replays', async () => {
    const s = store({ journal: true });
    await s.open();
    await s.commit(new Map([['a', record('a')]]));
    await blockWrites();
    const error = await rejection(s.compact!());
    expect(error.code).toBe('STORE_WRITE_FAILED');
    expect(error.message).toContain(`${resolve(file)}.journal`);
    await s.commit(new Map([['b', record('b')]]));
    await s.close();
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ formatVersion: 2, journalSeq: 0, tasks: {} });
    await unblockWrites();
    const { tasks } = await store({ journal: true }).open();
    expect([...tasks.keys()].sort()).toEqual(['a', 'b']);
  });

  it('fails open with STORE_WRITE_FAILED, and unlocked, when the first write cannot happen', async () => {
    await blockWrites();
    const error = await rejection(store().open());
    expect(error.code).toBe('STORE_WRITE_FAILED');
    expect(await exists(`${file}.lock`)).toBe(false);
    expect(await exists(file)).toBe(false);
  });
});
