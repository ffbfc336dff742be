// Issue #11 item 13: the merge-conflict probe reads an agent's worktree, which is hostile
// input. A real repository whose own config asks git to run programs (fsmonitor, filters,
// hooks, an external diff) must never get them run, and a real conflict is still detected.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanRepo, conflictedRepo, git, must } from '../../src/demo/git-repos.js';
import { gitMergeConflictProbe, hasUnmergedEntries, type GraceInput } from '../../src/policy/index.js';
import { NOW, task } from '../policy/fixtures.js';

let root: string;
let marker: string;

const input = (worktree: string): GraceInput => ({
  task: task({ state: 'stale', substate: 'stale.grace', spec: { worktree } }),
  now: NOW,
  heartbeats: [],
  extensions: {},
});

/** A script that, if anything ever runs it, appends its name to the marker file. */
function trap(name: string): string {
  const file = join(root, name);
  writeFileSync(file, `#!/bin/sh\necho ${name} >> "${marker}"\nexit 0\n`);
  chmodSync(file, 0o755);
  return file;
}

/** Makes `dir` (a repository) hostile: every config-driven command git knows points at a trap. */
function poison(dir: string): string {
  const hooks = join(root, `hooks-${dir.split('/').pop()}`);
  mkdirSync(hooks, { recursive: true });
  for (const hook of ['post-index-change', 'pre-commit', 'post-checkout', 'reference-transaction', 'fsmonitor-watchman']) {
    writeFileSync(join(hooks, hook), readFileSync(trap(`hook-${hook}`)));
    chmodSync(join(hooks, hook), 0o755);
  }
  // A tracked file whose stat no longer matches the index: `git status` re-reads it through
  // the clean filter to compare.
  writeFileSync(join(dir, 'other.txt'), 'other\n');
  must(dir, 'add', 'other.txt');
  writeFileSync(join(dir, 'other.txt'), 'other\n');
  const later = new Date(Date.now() + 3_600_000);
  utimesSync(join(dir, 'other.txt'), later, later);
  writeFileSync(join(dir, '.gitattributes'), '* filter=x diff=x\n');
  must(dir, 'config', 'core.fsmonitor', trap('fsmonitor'));
  must(dir, 'config', 'core.hooksPath', hooks);
  must(dir, 'config', 'filter.x.clean', trap('filter-clean'));
  must(dir, 'config', 'filter.x.smudge', trap('filter-smudge'));
  must(dir, 'config', 'filter.x.process', trap('filter-process'));
  must(dir, 'config', 'diff.external', trap('diff-external'));
  must(dir, 'config', 'diff.x.textconv', trap('diff-textconv'));
  must(dir, 'config', 'diff.x.command', trap('diff-command'));
  must(dir, 'config', 'core.pager', trap('pager'));
  must(dir, 'config', 'core.untrackedCache', 'true');
  return dir;
}

const ran = () => (existsSync(marker) ? readFileSync(marker, 'utf8') : '');

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'leasehold-hostile-git-'));
  marker = join(root, 'MARKER');
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('gitMergeConflictProbe on a hostile worktree', () => {
  it('runs nothing the repository configures, and still sees a real merge conflict', async () => {
    const conflicted = poison(conflictedRepo(join(root, 'conflicted')));
    rmSync(marker, { force: true });

    await expect(gitMergeConflictProbe()(input(conflicted))).resolves.toEqual({ extendMs: 300_000, reason: 'merge-conflict' });
    expect(ran()).toBe('');
  });

  it('runs nothing on a hostile clean repository either, and grants nothing', async () => {
    const clean = poison(cleanRepo(join(root, 'clean')));
    rmSync(marker, { force: true });

    await expect(gitMergeConflictProbe()(input(clean))).resolves.toBeNull();
    expect(ran()).toBe('');

    // The traps are live: a plain `git status` there runs the repository's programs.
    git(clean, 'status', '--porcelain');
    expect(ran()).toContain('fsmonitor');
    expect(ran()).toContain('filter-');
  });

  it('ignores GIT_DIR and friends inherited from the supervisor’s environment', async () => {
    const conflicted = conflictedRepo(join(root, 'env-conflicted'));
    const clean = cleanRepo(join(root, 'env-clean'));
    const saved = { GIT_DIR: process.env.GIT_DIR, GIT_WORK_TREE: process.env.GIT_WORK_TREE, GIT_CONFIG_PARAMETERS: process.env.GIT_CONFIG_PARAMETERS };
    process.env.GIT_DIR = join(clean, '.git');
    process.env.GIT_WORK_TREE = clean;
    process.env.GIT_CONFIG_PARAMETERS = `'core.fsmonitor'='${trap('env-fsmonitor')}'`;
    try {
      rmSync(marker, { force: true });
      await expect(gitMergeConflictProbe()(input(conflicted))).resolves.not.toBeNull();
      expect(ran()).toBe('');
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});

describe('hasUnmergedEntries', () => {
  const id = 'c'.repeat(40);
  const NUL = '\0';
  it('counts entries at conflict stages 1–3, never stage 0 or anything else', () => {
    expect(hasUnmergedEntries(`100644 ${id} 1\tnotes.txt${NUL}100644 ${id} 2\tnotes.txt${NUL}`)).toBe(true);
    expect(hasUnmergedEntries(`100644 ${id} 3\tnew.txt${NUL}`)).toBe(true);
    expect(hasUnmergedEntries('')).toBe(false);
    expect(hasUnmergedEntries(`100644 ${id} 0\tmerged.txt${NUL}`)).toBe(false);
    expect(hasUnmergedEntries('UU notes.txt\n')).toBe(false);
    // A path holding a newline and a fake record cannot make a merged entry look unmerged.
    expect(hasUnmergedEntries(`100644 ${id} 0\tx\n100644 ${id} 2\ty${NUL}`)).toBe(false);
  });
});
