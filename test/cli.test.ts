// The built `leasehold` command against a real store file, each call a child process: a
// task's whole life, readable and JSON output, one exit code per error class, a plain
// refusal when another supervisor holds the lock, diagrams and traces.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { EXIT_CODES } from '../src/cli/exit-codes.js';
import { createSupervisor, jsonFileStore, type Lease, type TaskView } from '../src/index.js';
import { createTestClock } from '../src/testing.js';
import { harness } from './support.js';

const bin = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
const leasehold = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

async function storeWithTasks() {
  // The CLI runs on the wall clock, so the stored lease must be live by the wall clock.
  const h = await harness({}, createTestClock(Date.now()));
  await h.sup.create({ id: 'a' });
  await h.sup.create({ id: 'b' });
  const lease = await h.sup.claim('b', { owner: 'agent-1' });
  await h.sup.heartbeat('b', { owner: 'agent-1', epoch: lease.epoch, progress: 20 }).catch(() => {});
  await h.sup.close();
  return h;
}

test('list, show and stats read the store', async () => {
  const h = await storeWithTasks();
  const list = leasehold('--store', h.file, '--json', 'list');
  expect(list.status).toBe(0);
  const tasks = JSON.parse(list.stdout) as TaskView[];
  expect(tasks.map((t) => [t.id, t.state])).toEqual([
    ['a', 'planned'],
    ['b', 'leased'],
  ]);
  const leased = leasehold('--store', h.file, 'list', '--state', 'leased');
  expect(leased.stdout).toMatch(/^b\s+leased\s+epoch 1\s+agent-1 until/);
  const show = leasehold('--store', h.file, 'show', 'b');
  expect(show.stdout).toContain('claimed agent-1@1');
  const stats = JSON.parse(leasehold('--store', h.file, '--json', 'stats').stdout);
  expect(stats).toMatchObject({ total: 2, byState: { planned: 1, leased: 1 } });
});

test('errors exit with their own code and say what went wrong on stderr', async () => {
  const h = await storeWithTasks();
  const missing = leasehold('--store', h.file, 'show', 'nope');
  expect(missing.status).toBe(3);
  expect(missing.stderr).toContain('TASK_NOT_FOUND');

  const held = await createSupervisor({ store: jsonFileStore(h.file) });
  try {
    // --wait 0: refused at once rather than after the CLI's default 5 s wait for the lock.
    // A command that changes tasks: reading ones take no lock (test/cli-reader.test.ts).
    const locked = leasehold('--store', h.file, '--wait', '0', 'create', 'c');
    expect(locked.status).toBe(8);
    expect(locked.stderr).toContain('STORE_LOCKED');
    expect(locked.stderr).toContain(h.file);
  } finally {
    await held.close();
  }
});

// --- Commands that change tasks, run as a user would: each call a fresh process on the store.

function tempStore() {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-cli-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'store.json');
}
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** Runs the CLI on `store`, expects exit 0, and parses its --json output. */
function json<T>(store: string, ...args: string[]): T {
  const result = leasehold('--store', store, '--json', ...args);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as T;
}

test('a task lives its whole life through the CLI, JSON parsed back at every step', () => {
  const store = tempStore();
  const created = json<TaskView>(store, 'create', 'fix-login', '--priority', 'high', '--label', 'backend', '--spec', '{"branch":"agent/login"}');
  expect(created).toMatchObject({ id: 'fix-login', state: 'planned', priority: 'high', labels: ['backend'], spec: { branch: 'agent/login' } });

  const lease = json<Lease>(store, 'claim', 'fix-login', '--owner', 'agent-1', '--lease-ms', '60000');
  expect(lease).toMatchObject({ taskId: 'fix-login', owner: 'agent-1', epoch: 1, leaseMs: 60_000 });
  const epoch = String(lease.epoch);
  const beat = json<Lease>(store, 'heartbeat', 'fix-login', '--owner', 'agent-1', '--epoch', epoch, '--progress', '40', '--message', 'tests written');
  expect(beat.renewals).toBe(1);
  const extended = json<Lease>(store, 'extend', 'fix-login', '--owner', 'agent-1', '--epoch', epoch, '--window-ms', '600000');
  expect(extended.expiresAt).toBeGreaterThan(beat.expiresAt);
  const withUndo = json<TaskView>(store, 'add-compensation', 'fix-login', '--owner', 'agent-1', '--epoch', epoch, '--action', 'delete-branch', '--args', '{"branch":"agent/login"}');
  expect(withUndo.compensations).toMatchObject([{ action: 'delete-branch', args: { branch: 'agent/login' }, status: 'pending' }]);
  const released = json<TaskView>(store, 'release', 'fix-login', '--owner', 'agent-1', '--epoch', epoch, '--reason', 'out of budget');
  expect(released).toMatchObject({ state: 'planned', lease: null, progress: 40 });

  const next = json<Lease>(store, 'claim-next', '--owner', 'agent-2', '--label', 'backend');
  expect(next).toMatchObject({ taskId: 'fix-login', owner: 'agent-2', epoch: 2, recovery: { previousOwner: 'agent-1', progress: 40, message: 'tests written' } });
  expect(json<Lease | null>(store, 'claim-next', '--owner', 'agent-3')).toBeNull();
  const done = json<TaskView>(store, 'complete', 'fix-login', '--owner', 'agent-2', '--epoch', '2', '--result', '{"pr":42}');
  expect(done).toMatchObject({ state: 'completed', terminal: { state: 'completed', by: 'agent-2', result: { pr: 42 } } });
  const annotated = json<TaskView>(store, 'annotate', 'fix-login', 'ticket=OPS-12', 'reviewed=true', 'note=two words');
  expect(annotated.metadata).toEqual({ ticket: 'OPS-12', reviewed: true, note: 'two words' });

  expect(json<TaskView[]>(store, 'list', '--state', 'completed').map((t) => t.id)).toEqual(['fix-login']);
  expect(json<{ total: number }>(store, 'stats').total).toBe(1);
  const shown = json<TaskView>(store, 'show', 'fix-login');
  expect(shown.audit.map((a) => a.event)).toEqual([
    'created', 'claimed', 'heartbeat', 'extended', 'compensation-added', 'released', 'claimed', 'completed', 'annotated',
  ]);

  // Readable output, the same calls without --json.
  const show = leasehold('--store', store, 'show', 'fix-login');
  expect(show.stdout).toMatch(/^fix-login\s+completed\s+epoch 2\s+40%\n/);
  expect(show.stdout).toContain('compensation #1 delete-branch: pending');
  expect(show.stdout).toContain('released agent-1@1 — out of budget');
  const trace = leasehold('--store', store, 'trace', 'fix-login');
  expect(trace.status).toBe(0);
  expect(trace.stdout).toContain('participant P1 as agent-1\n  participant P2 as agent-2\n');
  expect(trace.stdout).toContain('P1->>S: +');
  expect(trace.stdout).toMatch(/P2->>S: \+\S+ complete, epoch 2/);
  const quarantine = leasehold('--store', store, 'create', 'poison');
  expect(quarantine.stdout).toMatch(/^poison\s+planned\.ready\s+epoch 0\n$/);
  const killed = leasehold('--store', store, 'quarantine', 'poison', '--by', 'ops', '--reason', 'crashes every agent');
  expect(killed.stdout).toMatch(/^poison\s+quarantined\s+epoch 0\n$/);
  const readable = leasehold('--store', store, 'claim', '--owner', 'agent-9', 'fix-login');
  expect(readable.status).toBe(6);
});

test('a task failed through the CLI keeps its compensations for a supervisor that has compensators', async () => {
  const store = tempStore();
  json(store, 'create', 'deploy', '--compensation', 'rollback={"to":"v1"}');
  const { epoch } = json<Lease>(store, 'claim', 'deploy', '--owner', 'ci');
  const retrying = json<TaskView>(store, 'fail', 'deploy', '--owner', 'ci', '--epoch', String(epoch), '--error', 'flaky', '--retryable');
  expect(retrying).toMatchObject({ state: 'planned', substate: 'planned.backoff' });
  const failed = leasehold('--store', store, 'release', 'deploy', '--owner', 'ci', '--epoch', String(epoch));
  expect([failed.status, failed.stderr]).toEqual([5, expect.stringContaining('(no_lease)')]);

  json(store, 'create', 'migrate', '--compensation', 'restore-backup');
  const lease = json<Lease>(store, 'claim', 'migrate', '--owner', 'ci');
  const view = json<TaskView>(store, 'fail', 'migrate', '--owner', 'ci', '--epoch', String(lease.epoch), '--error', 'schema mismatch');
  expect(view).toMatchObject({ state: 'failed', compensations: [{ action: 'restore-backup', status: 'running', attempts: 1 }] });
  expect(json<TaskView>(store, 'show', 'migrate').state).toBe('failed'); // reopening does not quarantine it

  const undone: string[] = [];
  let done = () => {};
  const compensated = new Promise<void>((resolve) => (done = resolve));
  const sup = await createSupervisor({
    store: jsonFileStore(store),
    compensators: { 'restore-backup': () => void undone.push('restored') },
    on: { compensated: () => done() },
  });
  await compensated;
  await sup.close();
  expect(undone).toEqual(['restored']);
  expect(json<TaskView>(store, 'show', 'migrate')).toMatchObject({ state: 'compensated', compensations: [{ status: 'done', attempts: 1 }] });
});

test('each error class exits with its own code and says what went wrong on stderr', async () => {
  const store = tempStore();
  json(store, 'create', 'a');
  json(store, 'claim', 'a', '--owner', 'agent-1');
  const cases: [string[], number, string][] = [
    [['heartbeat', 'a', '--owner', 'agent-1', '--epoch', '0'], 2, 'leasehold: INVALID_INPUT: invalid heartbeat input: epoch'],
    [['heartbeat', 'a', '--owner', 'agent-1', '--epoch', 'one'], 2, "option '--epoch <n>' argument 'one' is invalid"],
    [['claim', 'a'], 2, "required option '--owner <owner>' not specified"],
    [['create', 'b', '--spec', '{oops'], 2, 'expected JSON'],
    [['claim', 'nope', '--owner', 'agent-1'], 3, 'leasehold: TASK_NOT_FOUND: task "nope" does not exist'],
    [['create', 'a'], 4, 'leasehold: DUPLICATE_TASK: task "a" already exists'],
    [['claim', 'a', '--owner', 'agent-2'], 5, 'leasehold: LEASE_CONFLICT: task "a": the task is already leased (held)'],
    [['complete', 'a', '--owner', 'agent-2', '--epoch', '1'], 5, '(not_owner)'],
    [['complete', 'a', '--owner', 'agent-1', '--epoch', '7'], 5, '(stale_epoch)'],
  ];
  for (const [args, status, message] of cases) {
    const result = leasehold('--store', store, ...args);
    expect({ args, status: result.status, stdout: result.stdout }).toEqual({ args, status, stdout: '' });
    expect(result.stderr).toContain(message);
  }
  json(store, 'complete', 'a', '--owner', 'agent-1', '--epoch', '1');
  const terminal = leasehold('--store', store, 'heartbeat', 'a', '--owner', 'agent-1', '--epoch', '1');
  expect([terminal.status, terminal.stderr]).toEqual([6, 'leasehold: TERMINAL_TASK: task "a" is completed and accepts only annotations\n']);

  const corrupt = join(dirname(store), 'corrupt.json');
  writeFileSync(corrupt, '{ not json');
  const broken = leasehold('--store', corrupt, 'list');
  expect(broken.status).toBe(7);
  expect(broken.stderr).toContain(`leasehold: STORE_CORRUPT: store file ${corrupt} is corrupt`);
  expect(readFileSync(corrupt, 'utf8')).toBe('{ not json');

  const notADir = join(dirname(store), 'plain-file');
  writeFileSync(notADir, '');
  const unwritable = leasehold('--store', join(notADir, 'store.json'), 'create', 'x');
  expect(unwritable.status).toBe(9);
  expect(unwritable.stderr).toContain('leasehold: STORE_WRITE_FAILED: could not create the directory');

  const held = await createSupervisor({ store: jsonFileStore(store) });
  try {
    const locked = leasehold('--store', store, '--wait', '0', 'claim', 'a', '--owner', 'agent-1');
    expect(locked.status).toBe(8);
    expect(locked.stderr).toContain(`leasehold: STORE_LOCKED: store file ${store} is locked by another supervisor`);
    expect(locked.stderr).toContain('never writes around the lock');
  } finally {
    await held.close();
  }
  expect(new Set(Object.values(EXIT_CODES)).size).toBe(Object.keys(EXIT_CODES).length);
});

test('diagrams from the CLI: the committed files, the live view, the Stately export', async () => {
  const committed = (name: string) => readFileSync(join(import.meta.dirname, '..', 'visualizations', name), 'utf8');
  expect(leasehold('diagram').stdout).toBe(committed('task-lifecycle.mmd'));
  expect(leasehold('diagram', '--machine', 'supervisor', '--format', 'dot').stdout).toBe(committed('supervisor.dot'));
  expect(leasehold('diagram', '--format', 'svg').stdout).toBe(committed('task-lifecycle.svg'));
  expect(leasehold('diagram', '--detail', 'compact').stdout).toBe(committed('task-lifecycle.compact.mmd'));
  expect(leasehold('diagram', '--detail', 'full').stdout).toContain('[not isOwner] / reject(not_owner)');
  const stately = leasehold('diagram', '--format', 'stately');
  expect(stately.stdout).toContain("export const taskMachine = createMachine({\n  id: 'task',");

  const h = await storeWithTasks();
  const out = join(h.dir, 'live.svg');
  const live = leasehold('--store', h.file, 'diagram', '--format', 'svg', '--out', out);
  expect([live.status, live.stdout]).toEqual([0, `wrote ${out}\n`]);
  const svg = readFileSync(out, 'utf8');
  expect(svg).toContain('<svg');
  expect(svg).toContain('>1 task: a</text>');
  expect(svg).toContain('>1 task: b</text>');
  expect(svg).toContain('>live: 2 tasks in '); // Graphviz writes the path's dashes as &#45;
  const mermaid = json<{ live: boolean; text: string }>(h.file, 'diagram');
  expect(mermaid.live).toBe(true);
  expect(mermaid.text).toContain(`· live: 2 tasks in ${h.file} at `);
  expect(mermaid.text).toContain('state "leased · 1 task: b" as task_leased');

  const wrong = leasehold('--store', h.file, 'diagram', '--machine', 'supervisor');
  expect([wrong.status, wrong.stderr]).toEqual([2, 'leasehold: INVALID_INPUT: the live view draws the task lifecycle: use --machine task\n']);
});

test('help lists every command, with examples', () => {
  const help = leasehold('--help');
  expect(help.status).toBe(0);
  for (const command of ['create', 'claim', 'claim-next', 'heartbeat', 'extend', 'add-compensation', 'complete', 'fail', 'release', 'quarantine', 'annotate', 'list', 'show', 'stats', 'diagram', 'trace']) {
    expect(help.stdout).toMatch(new RegExp(`\\n  ${command} `));
  }
  expect(help.stdout).toContain('Examples:\n  $ leasehold create fix-login');
  expect(help.stdout).toContain('8 store locked by another process');
  const heartbeat = leasehold('heartbeat', '--help');
  expect(heartbeat.status).toBe(0);
  expect(heartbeat.stdout).toContain('--progress <percent>');
  expect(heartbeat.stdout).toContain('$ leasehold heartbeat fix-login --owner agent-7 --epoch 1 --progress 40');
});
