// The read-only store reader (issue #12): it reads what the store would open — snapshot plus
// the journal lines it does not hold, a torn last line ignored — without the lock, never
// writing or creating anything, and it keeps reading consistent pictures while a supervisor in
// another process commits and compacts the store continuously.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readTasks } from '../../src/cli/reading.js';
import { jsonFileStore } from '../../src/store/json-file-store.js';
import { readStore } from '../../src/store/reader.js';
import { directoryChecksum, rejection } from '../support.js';
import { record } from './conformance.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const indexModule = fileURLToPath(new URL('../../src/index.ts', import.meta.url));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-reader-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}


describe('readStore', () => {
  it('reads the snapshot plus the journal lines it does not hold, like an open, while the store is held, and changes nothing', async () => {
    const dir = tempDir();
    const file = join(dir, 'store.json');
    const store = jsonFileStore(file, { journal: true, compactBytes: 1 << 30 });
    await store.open();
    cleanups.push(() => store.close());
    await store.commit(new Map([['a', record('a')], ['b', record('b')]]));
    await store.commit(new Map([['a', record('a', 'done')], ['b', null], ['c', record('c')]]), { epochFloor: 3 });
    // A line being written (or cut back after a failed append): not part of the store.
    appendFileSync(`${file}.journal`, '{"seq":3,"changes":{"d":');
    const before = directoryChecksum(dir);

    const reading = await readStore(file);
    expect([...reading.tasks]).toEqual([
      ['a', record('a', 'done')],
      ['c', record('c')],
    ]);
    expect(reading.meta).toEqual({ epochFloor: 3 });
    expect(reading.seq).toBe(2);
    expect(directoryChecksum(dir)).toBe(before);
  });

  it('reads a store without a journal (formatVersion 1)', async () => {
    const dir = tempDir();
    const file = join(dir, 'store.json');
    const store = jsonFileStore(file);
    await store.open();
    await store.commit(new Map([['a', record('a')]]));
    await store.close();
    expect([...(await readStore(file)).tasks.keys()]).toEqual(['a']);
  });

  it('refuses a store that does not exist with INVALID_INPUT and creates nothing', async () => {
    const dir = tempDir();
    const missing = join(dir, 'no', 'such', 'store.json');
    const error = await rejection(readStore(missing));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain(`no store at ${missing}`);
    expect(await rejection(readStore(join(dir, 'store.json')))).toMatchObject({ code: 'INVALID_INPUT' });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses damage with STORE_CORRUPT naming the file, and leaves it as it was', async () => {
    const dir = tempDir();
    const file = join(dir, 'store.json');
    writeFileSync(file, '{ not json');
    const broken = await rejection(readStore(file));
    expect(broken.code).toBe('STORE_CORRUPT');
    expect(broken.message).toContain(`store file ${file} is corrupt`);

    // A journal whose first line is newer than the snapshot's next entry: entries are missing.
    writeFileSync(file, '{"formatVersion":2,"journalSeq":5,"tasks":{}}\n');
    writeFileSync(`${file}.journal`, '{"seq":8,"changes":{}}\n');
    const gap = await rejection(readStore(file, { attempts: 2 }));
    expect(gap.code).toBe('STORE_CORRUPT');
    expect(gap.message).toContain(`${file}.journal is corrupt: line 1 has seq 8, expected at most 6`);

    writeFileSync(`${file}.journal`, '{"seq":6,"changes":{}}\nnot json\n');
    expect((await rejection(readStore(file))).message).toContain('line 2 is not valid JSON');
    expect(readFileSync(`${file}.journal`, 'utf8')).toBe('{"seq":6,"changes":{}}\nnot json\n');

    // Records are validated as a supervisor validates them at start.
    writeFileSync(`${file}.journal`, '');
    writeFileSync(file, '{"formatVersion":1,"tasks":{"x":{"state":"leased","context":{"id":"x"}}}}');
    const invalid = await rejection(readTasks(file, Date.now()));
    expect(invalid.code).toBe('STORE_CORRUPT');
    expect(invalid.message).toContain(`store file ${file} is corrupt: task "x"`);
  });
});

// ---------------------------------------------------------------------------------------
// A writer in another process: a supervisor on a journaled store that compacts as soon as the
// journal outgrows the snapshot. It works on one task at a time, t00000, t00001, …: create,
// claim, heartbeats, complete, and only then the next. So in every state it ever had, the ids
// are a prefix of that sequence and every task but the last is completed.

const WRITER = (path: string) => `
  const { createSupervisor, jsonFileStore } = await import(${JSON.stringify(indexModule)});
  const sup = await createSupervisor({ store: jsonFileStore(${JSON.stringify(path)}, { journal: true, compactBytes: 0 }), schedule: false });
  let stop = false;
  process.stdin.on('end', () => { stop = true; });
  process.stdin.resume();
  process.stdout.write('ready\\n');
  for (let i = 0; i < 2000 && !stop; i++) {
    const id = 't' + String(i).padStart(5, '0');
    await sup.create({ id, spec: { pad: 'x'.repeat(2000) } });
    const lease = await sup.claim(id, { owner: 'writer', leaseMs: 3600000 });
    for (let p = 1; p <= 3; p++) await sup.heartbeat(id, { owner: 'writer', epoch: lease.epoch, progress: p * 25 }).catch(() => {});
    await sup.complete(id, { owner: 'writer', epoch: lease.epoch });
  }
  await sup.close();
  process.exit(0);
`;

async function startWriter(path: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', WRITER(path)], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => ['exited'])])) as string[];
  if (line !== 'ready') throw new Error(`writer process did not start: ${line}`);
  return child;
}

describe('reading while a supervisor in another process commits and compacts', () => {
  it('50 reads and more, each a state the writer had, in order, while the lock is held', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const file = join(dir, 'store.json');
    const writer = await startWriter(file);
    const snapshots = new Set<number>();
    let previous = { seq: 0, count: 0, progress: 0 };
    // At least 50 reads, and on until compactions have replaced the snapshot a few times.
    const deadline = Date.now() + 30_000;
    for (let read = 0; read < 50 || (snapshots.size < 6 && Date.now() < deadline); read++) {
      expect(existsSync(`${file}.lock`), 'the writer holds the lock').toBe(true);
      snapshots.add(statSync(file).ino);
      const reading = await readStore(file);
      // Every record validates as a supervisor would validate it.
      const { tasks } = await readTasks(file, Date.now());
      const ids = [...reading.tasks.keys()].sort();
      expect(ids).toEqual(ids.map((_, index) => `t${String(index).padStart(5, '0')}`));
      const views = new Map(tasks.map((task) => [task.id, task]));
      const last = ids.at(-1);
      for (const id of ids.slice(0, -1)) expect([id, views.get(id)?.state]).toEqual([id, 'completed']);
      // Never older than the read before: a torn or half-compacted picture would be.
      const progress = last === undefined ? 0 : (views.get(last)?.progress ?? 0);
      expect(reading.seq).toBeGreaterThanOrEqual(previous.seq);
      expect(ids.length).toBeGreaterThanOrEqual(previous.count);
      if (ids.length === previous.count) expect(progress).toBeGreaterThanOrEqual(previous.progress);
      previous = { seq: reading.seq, count: ids.length, progress };
      // Back to back: the more reads overlap a compaction, the more races are tried.
      await new Promise((resolve) => setImmediate(resolve));
    }
    // The writer kept going (and compacting: the snapshot was replaced) throughout.
    expect(writer.exitCode).toBe(null);
    expect(snapshots.size).toBeGreaterThanOrEqual(6);
    writer.stdin?.end();
    await once(writer, 'exit');
    // What the writer left reads the same through the store and the reader.
    const store = jsonFileStore(file);
    const opened = await store.open();
    await store.close();
    expect([...(await readStore(file)).tasks]).toEqual([...opened.tasks]);
  });
});
