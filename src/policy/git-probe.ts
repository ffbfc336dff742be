// The merge-conflict extension probe: an agent resolving a merge conflict looks silent (it is
// reading diffs, not reporting), so at grace end we look at its worktree, and an unmerged
// path buys it a bounded extension. This module owns running git safely: a bounded time, no
// shell, no locks taken, and every failure mapped to "no extension" — it never throws.
import { execFile } from 'node:child_process';
import { z } from 'zod';
import { count, parseOptions, positiveDuration } from './options.js';
import type { ExtensionProbe, GraceExtension } from './types.js';

export interface GitMergeConflictProbeOptions {
  /** Kill git after this long and grant nothing. Default 10 s. */
  timeoutMs?: number;
  /** Length of each extension. Default 300 s. */
  extendMs?: number;
  /** Grants per lease, at most (counted in `extensions['merge-conflict']`, which the supervisor persists). Default 2. */
  maxGrants?: number;
  /** The git executable. Default `git` (looked up on PATH). */
  git?: string;
}

export const GIT_PROBE_REASON = 'merge-conflict';

export const GIT_PROBE_DEFAULTS = { timeoutMs: 10_000, extendMs: 300_000, maxGrants: 2, git: 'git' } as const;

export const gitProbeOptionsSchema = z.strictObject({
  timeoutMs: positiveDuration.optional(),
  extendMs: positiveDuration.optional(),
  maxGrants: count.optional(),
  git: z.string().min(1).optional(),
});

/** Porcelain v1 XY codes of an unmerged path (git-status(1), "Short Format"). */
const UNMERGED = new Set(['DD', 'AU', 'UD', 'UA', 'DU', 'AA', 'UU']);

/** True when any line of `git status --porcelain` (v1) names an unmerged path. */
export function hasUnmergedPaths(porcelain: string): boolean {
  // Without -z every entry is one line starting with XY (paths with odd characters are
  // quoted, renames are "R  old -> new" on the same line), so the first two characters of
  // each line are always the status and never part of a file name.
  return porcelain.split('\n').some((line) => UNMERGED.has(line.slice(0, 2)));
}

/**
 * Runs `git status --porcelain` in the task's `spec.worktree` and grants
 * `{ extendMs, reason: 'merge-conflict' }` when a path is unmerged, at most `maxGrants`
 * times per lease. A task without a string `spec.worktree`, a missing directory, a
 * directory that is not a repository, a failing or hung git → null.
 */
export function gitMergeConflictProbe(options?: GitMergeConflictProbeOptions): ExtensionProbe {
  const parsed = parseOptions(gitProbeOptionsSchema, options, 'git merge-conflict probe options');
  const timeoutMs = parsed.timeoutMs ?? GIT_PROBE_DEFAULTS.timeoutMs;
  const extendMs = parsed.extendMs ?? GIT_PROBE_DEFAULTS.extendMs;
  const maxGrants = parsed.maxGrants ?? GIT_PROBE_DEFAULTS.maxGrants;
  const git = parsed.git ?? GIT_PROBE_DEFAULTS.git;

  return async (input): Promise<GraceExtension | null> => {
    // The cap is checked before running anything: a capped lease costs no process.
    if ((input.extensions[GIT_PROBE_REASON] ?? 0) >= maxGrants) return null;
    const spec = input.task.spec;
    const worktree = spec !== null && typeof spec === 'object' && !Array.isArray(spec) ? spec.worktree : undefined;
    if (typeof worktree !== 'string' || worktree.length === 0) return null;
    const output = await gitStatus(git, worktree, timeoutMs);
    if (output === null || !hasUnmergedPaths(output)) return null;
    return { extendMs, reason: GIT_PROBE_REASON };
  };
}

/** Extra time, past the kill, before giving up on a child that does not even die (a D-state process). */
const KILL_BACKSTOP_MS = 1_000;

/** stdout of a successful `git status --porcelain`, or null on any failure, non-zero exit or timeout. */
function gitStatus(git: string, cwd: string, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (value: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(backstop);
      resolve(value);
    };
    // Never keeps the process alive on its own, and guarantees an answer even if the
    // child ignores SIGKILL while stuck in the kernel (a hung network file system).
    const backstop = setTimeout(() => settle(null), timeoutMs + KILL_BACKSTOP_MS);
    backstop.unref();

    // Inherited GIT_DIR / GIT_WORK_TREE / GIT_INDEX_FILE (e.g. a supervisor started from a
    // git hook) would point git at another repository than the worktree.
    const env = { ...process.env };
    for (const key of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR']) delete env[key];

    try {
      const child = execFile(
        git,
        // --no-optional-locks: the probe must not take index.lock (refreshing the index), which
        // would make the agent's own concurrent `git add`/`commit` fail. --untracked-files=no:
        // unmerged paths are always tracked, and skipping the untracked scan keeps big
        // worktrees fast.
        ['--no-optional-locks', 'status', '--porcelain', '--untracked-files=no'],
        { cwd, env, timeout: timeoutMs, killSignal: 'SIGKILL', windowsHide: true, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
        (error, stdout) => settle(error ? null : stdout),
      );
      // execFile's callback waits for stdout/stderr to close. On its own timeout it drops
      // them itself, but a git that fails by itself while its children (a hook, a wrapper
      // script's background job) keep the pipes open would hold the answer until they end.
      // `exit` is prompt, so a failed or killed child answers null right away and its pipes
      // are dropped; a clean exit still waits for the full output.
      child.on('exit', (code, signal) => {
        if (code === 0 && signal === null) return;
        child.stdout?.destroy();
        child.stderr?.destroy();
        settle(null);
      });
    } catch {
      // execFile throws synchronously for arguments it cannot even try (e.g. a NUL in cwd).
      settle(null);
    }
  });
}
