// Real git repositories for the demo and the tests, built with the real git binary and
// isolated from the machine's global and system git config: a clean one, and one with a
// real unmerged conflict (what an agent resolving a merge looks like to the git probe).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Runs git, isolated from the machine's global and system config. */
export function git(cwd: string, ...args: string[]): { status: number | null; stdout: string } {
  const result = spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' },
  });
  return { status: result.status, stdout: result.stdout };
}

export function must(cwd: string, ...args: string[]): void {
  const { status } = git(cwd, ...args);
  if (status !== 0) throw new Error(`git ${args.join(' ')} exited ${status}`);
}

/** A repository with one commit of notes.txt on main. */
export function cleanRepo(dir: string): string {
  mkdirSync(dir, { recursive: true });
  must(dir, 'init', '--quiet', '--initial-branch=main');
  must(dir, 'config', 'user.name', 'Leasehold Test');
  must(dir, 'config', 'user.email', 'test@leasehold.invalid');
  must(dir, 'config', 'commit.gpgsign', 'false');
  writeFileSync(join(dir, 'notes.txt'), 'base\n');
  must(dir, 'add', 'notes.txt');
  must(dir, 'commit', '--quiet', '-m', 'base');
  return dir;
}

/** Two branches change the same line; merging them leaves notes.txt unmerged (UU). */
export function conflictedRepo(dir: string): string {
  cleanRepo(dir);
  must(dir, 'checkout', '--quiet', '-b', 'feature');
  writeFileSync(join(dir, 'notes.txt'), 'feature\n');
  must(dir, 'commit', '--quiet', '-am', 'feature');
  must(dir, 'checkout', '--quiet', 'main');
  writeFileSync(join(dir, 'notes.txt'), 'main\n');
  must(dir, 'commit', '--quiet', '-am', 'main');
  if (git(dir, 'merge', 'feature').status !== 1) throw new Error('expected a merge conflict');
  return dir;
}
