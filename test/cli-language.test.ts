// The CLI speaks one language (issue 12, part 5): every error, commander's usage errors
// included, is `leasehold: CODE: message` on stderr, or with --json one JSON object
// `{"error":{code, reason?, message, issues?}}`, with nothing on stdout; `--version` prints
// the package's version; counts are worded for their number ("1 task", "2 tasks").
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { EXIT_CODES } from '../src/cli/exit-codes.js';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'dist', 'src', 'cli', 'main.js');
const leasehold = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});
function tempStore() {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-cli-language-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'store.json');
}

/** Usage errors: each one commander itself detects, before any store is opened. */
const usageErrors: [string, string[], string][] = [
  ['an unknown option', ['list', '--bogus'], "unknown option '--bogus'"],
  ['an unknown command', ['frobnicate'], "unknown command 'frobnicate'"],
  ['an invalid --priority', ['create', 'x', '--priority', 'urgent'], "option '--priority <priority>' argument 'urgent' is invalid"],
  ['a missing argument', ['show'], "missing required argument 'id'"],
  ['a missing required option', ['claim', 'x'], "required option '--owner <owner>' not specified"],
];

for (const [what, args, message] of usageErrors) {
  test(`${what}: "leasehold: INVALID_INPUT: …" on stderr, exit ${EXIT_CODES.INVALID_INPUT}, nothing on stdout`, () => {
    const result = leasehold('--store', tempStore(), ...args);
    expect({ status: result.status, stdout: result.stdout }).toEqual({ status: EXIT_CODES.INVALID_INPUT, stdout: '' });
    const [first, ...rest] = result.stderr.trimEnd().split('\n');
    expect(first).toMatch(/^leasehold: INVALID_INPUT: /);
    expect(first).toContain(message);
    expect(result.stderr).not.toMatch(/^error: /m);
    // Anything after it is a hint in the same voice, never commander's own format.
    for (const line of rest) expect(line).toMatch(/^leasehold: /);
  });

  test(`${what} under --json: one JSON error object on stderr, same exit code, nothing on stdout`, () => {
    const result = leasehold('--store', tempStore(), '--json', ...args);
    expect({ status: result.status, stdout: result.stdout }).toEqual({ status: EXIT_CODES.INVALID_INPUT, stdout: '' });
    const parsed = JSON.parse(result.stderr) as { error: { code: string; message: string } };
    expect(Object.keys(parsed)).toEqual(['error']);
    expect(parsed.error.code).toBe('INVALID_INPUT');
    expect(parsed.error.message).toContain(message);
  });
}

test('errors of the library keep their code, reason and issues under --json', () => {
  const store = tempStore();
  expect(leasehold('--store', store, 'create', 'a').status).toBe(0);
  expect(leasehold('--store', store, 'claim', 'a', '--owner', 'agent-1').status).toBe(0);

  const held = leasehold('--store', store, '--json', 'claim', 'a', '--owner', 'agent-2');
  expect([held.status, held.stdout]).toEqual([EXIT_CODES.LEASE_CONFLICT, '']);
  expect(JSON.parse(held.stderr)).toEqual({
    error: { code: 'LEASE_CONFLICT', reason: 'held', message: 'task "a": the task is already leased (held)' },
  });

  const invalid = leasehold('--store', store, '--json', 'heartbeat', 'a', '--owner', 'agent-1', '--epoch', '0');
  expect([invalid.status, invalid.stdout]).toEqual([EXIT_CODES.INVALID_INPUT, '']);
  const { error } = JSON.parse(invalid.stderr) as { error: { code: string; message: string; issues: string[] } };
  expect(error.code).toBe('INVALID_INPUT');
  expect(error.message).toMatch(/^invalid heartbeat input: epoch/);
  expect(error.issues[0]).toMatch(/^epoch/);

  const missing = leasehold('--store', store, '--json', 'show', 'nope');
  expect([missing.status, JSON.parse(missing.stderr)]).toEqual([
    EXIT_CODES.TASK_NOT_FOUND,
    { error: { code: 'TASK_NOT_FOUND', message: 'task "nope" does not exist' } },
  ]);
});

test('--version and -V print the package version', () => {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const result = leasehold(flag);
    expect([result.status, result.stdout, result.stderr]).toEqual([0, `${version}\n`, '']);
  }
});

test('--help still prints help on stdout and exits 0', () => {
  const help = leasehold('--help');
  expect([help.status, help.stderr]).toEqual([0, '']);
  expect(help.stdout).toMatch(/^Usage: leasehold /);
});

test('counts are worded for their number: "1 task", "2 tasks", "1 attempt"', () => {
  const store = tempStore();
  expect(leasehold('--store', store, 'create', 'a', '--compensation', 'undo').status).toBe(0);
  expect(leasehold('--store', store, 'stats').stdout).toMatch(/^1 task\n/);
  const lease = JSON.parse(leasehold('--store', store, '--json', 'claim', 'a', '--owner', 'agent-1').stdout) as { epoch: number };
  const failed = leasehold('--store', store, 'fail', 'a', '--owner', 'agent-1', '--epoch', String(lease.epoch), '--error', 'broken');
  expect(failed.status).toBe(0);
  const show = leasehold('--store', store, 'show', 'a').stdout;
  expect(show).toContain('1 attempt, expired 0 times,');
  expect(show).toContain('compensation #1 undo: running (1 attempt)');
  expect(leasehold('--store', store, 'create', 'b').status).toBe(0);
  expect(leasehold('--store', store, 'stats').stdout).toMatch(/^2 tasks\n/);
});
