// The built `leasehold` command when several processes want the store at once (issue #12):
// each waits its turn for the lock instead of exiting 8, and `--wait 0` keeps the old
// fail-at-once refusal (commands that change tasks: reading ones take no lock, see
// test/cli-reader.test.ts). Every call is a real child process on a real store file.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { EXIT_CODES } from '../src/cli/exit-codes.js';
import { createSupervisor, jsonFileStore, type Lease } from '../src/index.js';

const bin = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
const leasehold = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

/** Runs the CLI without blocking this process, so several run at once. */
async function leaseholdAsync(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, stdout, stderr };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function tempStore() {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-cli-wait-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'store.json');
}

async function storeWith(ids: string[]) {
  const file = tempStore();
  const sup = await createSupervisor({ store: jsonFileStore(file) });
  for (const id of ids) await sup.create({ id });
  await sup.close();
  return file;
}

test('four concurrent claim-next calls on an idle store all succeed, each with its own task', async () => {
  const file = await storeWith(['t1', 't2', 't3', 't4', 't5']);
  const owners = ['agent-1', 'agent-2', 'agent-3', 'agent-4'];
  const results = await Promise.all(owners.map((owner) => leaseholdAsync('--store', file, '--json', 'claim-next', '--owner', owner)));
  expect(results.map((r) => [r.status, r.stderr])).toEqual(owners.map(() => [0, '']));
  const leases = results.map((r) => JSON.parse(r.stdout) as Lease);
  expect(new Set(leases.map((l) => l.taskId)).size).toBe(4);
  expect(leases.map((l) => l.epoch)).toEqual([1, 1, 1, 1]);
  expect(leases.map((l) => l.owner).sort()).toEqual(owners);
});

test('--wait 0 refuses a held store at once with exit 8', async () => {
  const file = await storeWith(['t1']);
  const held = await createSupervisor({ store: jsonFileStore(file) });
  try {
    const started = performance.now();
    const locked = leasehold('--store', file, '--wait', '0', 'create', 't2');
    const elapsed = performance.now() - started;
    expect(locked.status).toBe(EXIT_CODES.STORE_LOCKED);
    expect(locked.stderr).toContain('STORE_LOCKED');
    // Process start-up included; far below the CLI's default wait of 5 s.
    expect(elapsed).toBeLessThan(4_000);
  } finally {
    await held.close();
  }
});

test('a held store is refused with exit 8 only after --wait, and the message says how long it waited', async () => {
  const file = await storeWith(['t1']);
  const held = await createSupervisor({ store: jsonFileStore(file) });
  try {
    const started = performance.now();
    const locked = leasehold('--store', file, '--wait', '300', 'create', 't2');
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    expect(locked.status).toBe(EXIT_CODES.STORE_LOCKED);
    expect(locked.stderr).toContain('waited 300 ms');
  } finally {
    await held.close();
  }
});

test('a --wait that is not a number of milliseconds is a usage error', () => {
  const file = tempStore();
  for (const wait of ['-1', 'soon', '1e12']) {
    const result = leasehold('--store', file, '--wait', wait, 'create', 't1');
    expect([wait, result.status]).toEqual([wait, EXIT_CODES.INVALID_INPUT]);
    expect(result.stderr).toMatch(/wait/i);
  }
});
