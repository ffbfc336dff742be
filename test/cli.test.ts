// The built `leasehold` command against a real store file: readable and JSON output, one
// exit code per error class, and a plain refusal when another supervisor holds the lock.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { createSupervisor, jsonFileStore, type TaskView } from '../src/index.js';
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
    const locked = leasehold('--store', h.file, 'list');
    expect(locked.status).toBe(8);
    expect(locked.stderr).toContain('STORE_LOCKED');
    expect(locked.stderr).toContain(h.file);
  } finally {
    await held.close();
  }
});
