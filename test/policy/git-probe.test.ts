// The merge-conflict probe against real repositories built in a temp folder with the real
// git binary: a real unmerged conflict, a clean repo, a non-repo, a missing folder, a git
// that fails and a git that hangs (killed at the probe's timeout).
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import { gitMergeConflictProbe, hasUnmergedPaths, type GitMergeConflictProbeOptions, type GraceInput } from '../../src/policy/index.js';
import type { Json } from '../../machines/task.types.js';
import { NOW, task } from './fixtures.js';
import { cleanRepo, conflictedRepo, git } from '../../src/demo/git-repos.js';

let root: string;
let conflicted: string;
let clean: string;
let plain: string;

function script(name: string, body: string): string {
  const file = join(root, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

function input(worktree: Json | undefined, extensions: Record<string, number> = {}): GraceInput {
  const spec: Json = worktree === undefined ? { branch: 'feature/x' } : { worktree, branch: 'feature/x' };
  return { task: task({ state: 'stale', substate: 'stale.grace', spec }), now: NOW, heartbeats: [], extensions };
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'leasehold-git-probe-'));

  clean = cleanRepo(join(root, 'clean'));
  conflicted = conflictedRepo(join(root, 'conflicted'));
  expect(git(conflicted, 'status', '--porcelain').stdout).toContain('UU notes.txt');

  plain = join(root, 'plain');
  mkdirSync(plain);
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('gitMergeConflictProbe on real repositories', () => {
  it('grants 300 s for a real unmerged conflict', async () => {
    await expect(gitMergeConflictProbe()(input(conflicted))).resolves.toEqual({ extendMs: 300_000, reason: 'merge-conflict' });
  });

  it('grants nothing for a clean repository', async () => {
    await expect(gitMergeConflictProbe()(input(clean))).resolves.toBeNull();
  });

  it('grants nothing for a folder that is not a repository, or is missing', async () => {
    await expect(gitMergeConflictProbe()(input(plain))).resolves.toBeNull();
    await expect(gitMergeConflictProbe()(input(join(root, 'missing')))).resolves.toBeNull();
  });

  it('grants nothing without a string spec.worktree', async () => {
    const probe = gitMergeConflictProbe();
    await expect(probe(input(undefined))).resolves.toBeNull();
    await expect(probe(input(42))).resolves.toBeNull();
    await expect(probe(input(''))).resolves.toBeNull();
    await expect(probe({ ...input(conflicted), task: task({ spec: null }) })).resolves.toBeNull();
    await expect(probe({ ...input(conflicted), task: task({ spec: [conflicted] }) })).resolves.toBeNull();
  });

  it('grants at most maxGrants (default 2) per lease, counting only merge-conflict grants', async () => {
    const probe = gitMergeConflictProbe();
    await expect(probe(input(conflicted, { 'merge-conflict': 1 }))).resolves.not.toBeNull();
    await expect(probe(input(conflicted, { 'merge-conflict': 2 }))).resolves.toBeNull();
    await expect(probe(input(conflicted, { cadence: 2 }))).resolves.not.toBeNull();
    await expect(gitMergeConflictProbe({ maxGrants: 0 })(input(conflicted))).resolves.toBeNull();
    await expect(gitMergeConflictProbe({ maxGrants: 3 })(input(conflicted, { 'merge-conflict': 2 }))).resolves.not.toBeNull();
  });

  it('uses a custom extendMs', async () => {
    await expect(gitMergeConflictProbe({ extendMs: 120_000 })(input(conflicted))).resolves.toEqual({ extendMs: 120_000, reason: 'merge-conflict' });
  });
});

describe('gitMergeConflictProbe with a broken git', () => {
  it('answers null within the timeout when git hangs', async () => {
    const wedged = script('wedged-git', 'sleep 30');
    const started = performance.now();
    await expect(gitMergeConflictProbe({ git: wedged, timeoutMs: 300 })(input(conflicted))).resolves.toBeNull();
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('answers null at once when git fails but leaves a child holding its output open', async () => {
    const leaky = script('leaky-git', 'sleep 30 &\nexit 3');
    const started = performance.now();
    await expect(gitMergeConflictProbe({ git: leaky })(input(conflicted))).resolves.toBeNull();
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('ignores the output of a git that exits non-zero', async () => {
    const failing = script('failing-git', 'echo "UU notes.txt"\nexit 1');
    await expect(gitMergeConflictProbe({ git: failing })(input(conflicted))).resolves.toBeNull();
  });

  it('answers null when the git binary does not exist', async () => {
    await expect(gitMergeConflictProbe({ git: join(root, 'no-such-git') })(input(conflicted))).resolves.toBeNull();
  });

  it('reads a stand-in git’s `ls-files --unmerged -z` output (the parse, not the binary, decides)', async () => {
    const fake = script('fake-git', `printf '100644 ${'a'.repeat(40)} 2\\tboth-added.txt\\0100644 ${'b'.repeat(40)} 3\\tboth-added.txt\\0'`);
    await expect(gitMergeConflictProbe({ git: fake })(input(plain))).resolves.toEqual({ extendMs: 300_000, reason: 'merge-conflict' });
  });
});

describe('hasUnmergedPaths', () => {
  it.each(['UU', 'AA', 'DD', 'DU', 'UD', 'AU', 'UA'])('%s is unmerged', (xy) => {
    expect(hasUnmergedPaths(` M other.txt\n${xy} conflicted.txt\n`)).toBe(true);
  });

  it('ignores every other status, and status-like file names', () => {
    expect(hasUnmergedPaths('')).toBe(false);
    expect(hasUnmergedPaths(' M a.txt\nM  b.txt\nA  c.txt\n D d.txt\nR  old -> new\n?? UU.txt\nMM "UU a"\n')).toBe(false);
  });
});

describe('gitMergeConflictProbe option validation', () => {
  const bad: [string, unknown][] = [
    ['a zero timeout', { timeoutMs: 0 }],
    ['a negative extension', { extendMs: -1 }],
    ['a non-finite timeout', { timeoutMs: Number.POSITIVE_INFINITY }],
    ['fractional maxGrants', { maxGrants: 1.5 }],
    ['an empty git', { git: '' }],
    ['an unknown key', { timeout: 1000 }],
  ];
  it.each(bad)('rejects %s', (_what, options) => {
    expect(() => gitMergeConflictProbe(options as GitMergeConflictProbeOptions)).toThrow(InvalidInputError);
  });
});
