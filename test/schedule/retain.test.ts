// The retain sweep: terminal tasks older than the retention period move into the archive
// file beside the store (durable there first), then leave the store; young and unfinished
// tasks stay. Archived tasks are still readable with the built `leasehold show`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { archivePathOf, createSupervisor, memoryStore, type TaskView } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { harness, rejection, T0, type Harness } from '../support.js';

const S = 1_000;
const DAY = 24 * 3_600 * S;

const bin = join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'main.js');
const leasehold = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

type Document = { formatVersion: number; tasks: Record<string, { state: unknown; context: { id: string; terminal: { at: number } | null } }> };
const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Document;

/** old-done, old-quarantined and boundary end at T0; young ends a day later; active and planned never end. */
async function scenario(h: Harness) {
  const { sup, clock } = h;
  for (const id of ['old-done', 'old-quarantined', 'boundary', 'young', 'active', 'planned']) await sup.create({ id, spec: { branch: `agent/${id}` } });
  const done = await sup.claim('old-done', { owner: 'w1' });
  await sup.heartbeat('old-done', { owner: 'w1', epoch: done.epoch, leaseMs: 600 * S, progress: 80, message: 'tests pass' });
  await sup.complete('old-done', { owner: 'w1', epoch: done.epoch, result: { pr: 42 } });
  await sup.quarantine('old-quarantined', { by: 'ops', reason: 'poison' });
  await clock.advance(1);
  const boundary = await sup.claim('boundary', { owner: 'w1' });
  await sup.complete('boundary', { owner: 'w1', epoch: boundary.epoch });
  await clock.advance(DAY - 1);
  const young = await sup.claim('young', { owner: 'w2' });
  await sup.complete('young', { owner: 'w2', epoch: young.epoch });
  await sup.claim('active', { owner: 'w3', leaseMs: 10 * DAY });
  // Now: T0 + 1 day. With 1 day of retention, only what ended strictly before T0 + 1 ms goes.
  await clock.advance(1);
}

describe('retain', () => {
  it('moves old terminal tasks to the archive file and out of the store, leaving young and unfinished ones', async () => {
    const h = await harness({ schedule: { retentionMs: DAY } });
    await scenario(h);
    const archive = archivePathOf(h.file);
    expect(archive).toBe(h.file.replace(/store\.json$/, 'store.archive.json'));
    const before = read(h.file);

    const result = await h.sup.runJob('retain');
    expect(result).toEqual({ job: 'retain', at: h.clock.now(), count: 2, taskIds: ['old-done', 'old-quarantined'], archive });

    // The archive holds the records exactly as the store held them, in the store's format.
    const archived = read(archive);
    expect(archived.formatVersion).toBe(before.formatVersion);
    expect(Object.keys(archived.tasks)).toEqual(['old-done', 'old-quarantined']);
    expect(archived.tasks['old-done']).toEqual(before.tasks['old-done']);
    expect(archived.tasks['old-quarantined']).toEqual(before.tasks['old-quarantined']);
    // The store no longer does, on disk and in memory.
    expect(Object.keys(read(h.file).tasks).sort()).toEqual(['active', 'boundary', 'planned', 'young']);
    expect(h.sup.get('old-done')).toBeUndefined();
    expect(h.sup.list().map((t) => t.id)).toEqual(['boundary', 'young', 'active', 'planned']);
    expect(h.sup.stats()).toMatchObject({ total: 4, sweeps: { retain: { runs: 1, count: 2 } } });

    // Nothing more to do; the archive is left as it was.
    const archiveBytes = readFileSync(archive, 'utf8');
    expect((await h.sup.runJob('retain')).count).toBe(0);
    expect(readFileSync(archive, 'utf8')).toBe(archiveBytes);

    // A day later the rest of the finished ones follow, added to the same archive.
    await h.clock.advance(DAY);
    expect((await h.sup.runJob('retain')).taskIds).toEqual(['boundary', 'young']);
    expect(Object.keys(read(archive).tasks)).toEqual(['old-done', 'old-quarantined', 'boundary', 'young']);

    // A restart does not bring them back.
    await h.restart();
    expect(h.sup.list().map((t) => t.id)).toEqual(['active', 'planned']);
  });

  it('leaves the store untouched when the archive cannot be written', async () => {
    const h = await harness({ schedule: { retentionMs: DAY } });
    await scenario(h);
    writeFileSync(archivePathOf(h.file), '{ not json');
    const before = h.bytes();
    const error = await rejection(h.sup.runJob('retain'));
    expect(error.code).toBe('STORE_CORRUPT');
    expect(readFileSync(archivePathOf(h.file), 'utf8')).toBe('{ not json');
    expect(h.bytes()).toBe(before);
    expect(h.sup.get('old-done')).toBeDefined();
  });

  it('a store that is not a file needs an explicit archivePath', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-archive-'));
    dirs.push(dir);
    const error = await rejection(createSupervisor({ store: memoryStore(), schedule: { retain: '0 3 * * *' } }));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain('archivePath');

    // Without an archive, retain run by hand is refused too.
    const clock = createTestClock(T0);
    const plain = await createSupervisor({ store: memoryStore(), clock });
    expect((await rejection(plain.runJob('retain'))).code).toBe('INVALID_INPUT');
    await plain.close();

    const archivePath = join(dir, 'archive.json');
    const sup = await createSupervisor({ store: memoryStore(), clock, schedule: { retain: '0 3 * * *', retentionMs: 0, archivePath } });
    try {
      await sup.create({ id: 't' });
      await sup.quarantine('t', { by: 'ops', reason: 'done with it' });
      await clock.advance(1);
      expect((await sup.runJob('retain')).taskIds).toEqual(['t']);
      expect(Object.keys(read(archivePath).tasks)).toEqual(['t']);
      expect(sup.list()).toEqual([]);
    } finally {
      await sup.close();
    }
  });
});

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('leasehold show', () => {
  it('finds a task in the archive once it has left the store', async () => {
    expect(existsSync(bin), 'run `npm run build` first').toBe(true);
    const h = await harness({ schedule: { retentionMs: DAY } });
    await scenario(h);
    await h.sup.runJob('retain');
    await h.sup.close();

    const text = leasehold('--store', h.file, 'show', 'old-done');
    expect(text.stderr).toBe('');
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^old-done\s+completed/);
    expect(text.stdout).toContain('claimed w1@1');
    expect(text.stdout).toContain(`archived in ${archivePathOf(h.file)}`);

    const json = leasehold('--store', h.file, '--json', 'show', 'old-done');
    expect(json.status).toBe(0);
    const task = JSON.parse(json.stdout) as TaskView;
    expect(task).toMatchObject({ id: 'old-done', state: 'completed', progress: 80, message: 'tests pass', terminal: { state: 'completed', result: { pr: 42 } } });

    // Tasks still in the store come from the store; unknown ones are still not found.
    expect(leasehold('--store', h.file, 'show', 'active').stdout).not.toContain('archived in');
    const missing = leasehold('--store', h.file, 'show', 'nope');
    expect(missing.status).toBe(3);
    expect(missing.stderr).toContain('TASK_NOT_FOUND');
  });
});
