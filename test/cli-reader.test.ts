// The built `leasehold` command's reading commands (issue #12): list, show, stats,
// diagram --live and trace read the store without its lock, so they work while another process
// holds it, and never change a byte of it — not even when a lease has expired, which they show
// as overdue instead of processing. A store that does not exist is an error and is not created.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { EXIT_CODES } from '../src/cli/exit-codes.js';
import { archivePathOf, createSupervisor, jsonFileStore, type TaskView } from '../src/index.js';
import { jsonArchive } from '../src/schedule/archive.js';
import { createTestClock } from '../src/testing.js';
import { createHolders } from './store/holder.js';
import { directoryChecksum } from './support.js';

const bin = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
const leasehold = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000 });

const holders = createHolders();
const cleanups: (() => void)[] = [];
afterEach(async () => {
  await holders.killAll();
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-cli-reader-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}


const HOUR = 3_600_000;

/**
 * A store whose task `late` holds a lease that expired an hour ago by the wall clock (the
 * issue's repro: `list` used to fire that expiry and rewrite the file), `live` a lease good
 * for an hour, `todo` planned; and an archive holding `old`.
 */
async function storeWithAnExpiredLease(options: { journal?: boolean } = {}) {
  const dir = tempDir();
  const file = join(dir, 'store.json');
  const clock = createTestClock(Date.now() - 2 * HOUR);
  const sup = await createSupervisor({ store: jsonFileStore(file, { journal: options.journal === true }), clock, schedule: false });
  await sup.create({ id: 'late' });
  await sup.claim('late', { owner: 'agent-1', leaseMs: HOUR });
  await sup.create({ id: 'todo' });
  await sup.create({ id: 'live' });
  await sup.claim('live', { owner: 'agent-2', leaseMs: 3 * HOUR });
  await sup.create({ id: 'old' });
  const lease = await sup.claim('old', { owner: 'agent-3' });
  await sup.complete('old', { owner: 'agent-3', epoch: lease.epoch });
  await sup.close();
  // Moved to the archive by hand, as the retain sweep would.
  const store = jsonFileStore(file);
  const { tasks } = await store.open();
  await jsonArchive(archivePathOf(file)).put([['old', tasks.get('old')!]]);
  await store.commit(new Map([['old', null]]));
  await store.close();
  return { dir, file };
}

const READS = (file: string, out: string) => [
  ['--store', file, 'list'],
  ['--store', file, '--json', 'list', '--state', 'leased'],
  ['--store', file, 'show', 'late'],
  ['--store', file, 'show', 'old'],
  ['--store', file, '--json', 'stats'],
  ['--store', file, 'stats'],
  ['--store', file, 'diagram', '--live'],
  ['--store', file, 'diagram', '--live', '--format', 'dot', '-o', out],
  ['--store', file, 'trace', 'late'],
];

test.each([
  ['a store without a journal', false],
  ['a journaled store with a torn last line', true],
])('list, show, stats, diagram --live and trace leave %s byte-for-byte as it was, an expired lease included', async (_, journal) => {
  const { dir, file } = await storeWithAnExpiredLease({ journal });
  if (journal) {
    // One complete line the snapshot does not hold (a commit not compacted yet), then a torn
    // one (a crash mid-append): a store that opens cuts the torn line; a reader leaves it.
    const snapshot = JSON.parse(readFileSync(file, 'utf8')) as { journalSeq: number; tasks: Record<string, { context: object }> };
    const todo = snapshot.tasks.todo!;
    const line = { seq: snapshot.journalSeq + 1, changes: { todo: { ...todo, context: { ...todo.context, metadata: { ticket: 'OPS-1' } } } } };
    appendFileSync(`${file}.journal`, `${JSON.stringify(line)}\n{"seq":${line.seq + 1},"changes":{"x":`);
  }
  const out = join(tempDir(), 'live.dot');
  const before = directoryChecksum(dir);
  for (const args of READS(file, out)) {
    const result = leasehold(...args);
    expect([args.join(' '), result.status, result.stderr]).toEqual([args.join(' '), 0, '']);
    expect([args.join(' '), directoryChecksum(dir)]).toEqual([args.join(' '), before]);
  }
});

test('an expired lease is shown as overdue, not acted on', async () => {
  const { file } = await storeWithAnExpiredLease();
  const list = leasehold('--store', file, 'list');
  expect(list.stdout).toMatch(/^late\s+leased\s+epoch 1\s+agent-1 until \S+ — lease expired at \S+ \(not yet processed\)$/m);
  expect(list.stdout).toMatch(/^live\s+leased\s+epoch 1\s+agent-2 until \S+$/m);
  const tasks = JSON.parse(leasehold('--store', file, '--json', 'list').stdout) as (TaskView & { overdue?: { deadline: string; at: number } })[];
  const late = tasks.find((task) => task.id === 'late')!;
  expect(late).toMatchObject({ state: 'leased', staleCount: 0, overdue: { deadline: 'lease', at: late.lease!.expiresAt } });
  expect(tasks.find((task) => task.id === 'live')).not.toHaveProperty('overdue');
  expect(leasehold('--store', file, 'show', 'late').stdout).toContain('lease expired at');
  const stats = JSON.parse(leasehold('--store', file, '--json', 'stats').stdout) as { total: number; byState: Record<string, number>; overdue: number };
  expect(stats).toMatchObject({ total: 3, byState: { planned: 1, leased: 2, stale: 0 }, overdue: 1 });
  expect(leasehold('--store', file, 'stats').stdout).toContain('1 overdue');
});

test('reading commands work while another process holds the store (exit 0, not 8), and writes are still refused', async () => {
  const { file } = await storeWithAnExpiredLease();
  await holders.hold(file);
  const list = leasehold('--store', file, '--wait', '0', '--json', 'list');
  expect([list.status, list.stderr]).toEqual([0, '']);
  expect((JSON.parse(list.stdout) as TaskView[]).map((task) => task.id)).toEqual(['late', 'todo', 'live']);
  for (const args of [['show', 'late'], ['show', 'old'], ['stats'], ['diagram', '--live'], ['trace', 'live']]) {
    const result = leasehold('--store', file, '--wait', '0', ...args);
    expect([args.join(' '), result.status, result.stderr]).toEqual([args.join(' '), 0, '']);
  }
  const write = leasehold('--store', file, '--wait', '0', 'create', 'new');
  expect(write.status).toBe(EXIT_CODES.STORE_LOCKED);
});

test('a store that does not exist is an error for every reading command, and nothing is created', () => {
  const dir = tempDir();
  const missing = join(dir, 'typo', 'store.json');
  for (const args of [['list'], ['show', 'a'], ['stats'], ['diagram', '--live'], ['trace', 'a']]) {
    const result = leasehold('--store', missing, ...args);
    expect([args.join(' '), result.status, result.stderr]).toEqual([
      args.join(' '),
      EXIT_CODES.INVALID_INPUT,
      `leasehold: INVALID_INPUT: invalid store path: no store at ${missing} (nothing was created)\n`,
    ]);
  }
  expect(existsSync(join(dir, 'typo'))).toBe(false);
  expect(readdirSync(dir)).toEqual([]);
});
