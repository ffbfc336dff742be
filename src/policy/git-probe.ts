// The merge-conflict extension probe: an agent resolving a merge conflict looks silent (it is
// reading diffs, not reporting), so at grace end we look at its worktree, and an unmerged
// path buys it a bounded extension. This module owns running git safely: the worktree is the
// agent's, so its git config is hostile input. git only reads the index (`ls-files
// --unmerged`: no filters, no diff), with every config-driven command switched off, in an
// environment of our own, for a bounded time, no shell, no locks taken; every failure maps
// to "no extension" — it never throws.
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

const GIT_PROBE_REASON = 'merge-conflict';

const GIT_PROBE_DEFAULTS = { timeoutMs: 10_000, extendMs: 300_000, maxGrants: 2, git: 'git' } as const;

const gitProbeOptionsSchema = z.strictObject({
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

/** One index entry of `git ls-files --stage`/`--unmerged`: mode, object id, stage, a tab, the path. */
const STAGED_ENTRY = /^[0-7]{6} [0-9a-f]{40,64} ([0-3])\t/;

/** True when `git ls-files --unmerged -z` output holds an entry at a conflict stage (1–3). */
export function hasUnmergedEntries(lsFiles: string): boolean {
  // -z ends every record with NUL and leaves paths unquoted, so a path holding a newline or
  // a tab cannot fake a record; stage 0 is a merged entry and never counts.
  return lsFiles.split('\0').some((record) => {
    const stage = STAGED_ENTRY.exec(record)?.[1];
    return stage !== undefined && stage !== '0';
  });
}

/**
 * Config that could make git run a program, switched off on the command line (which beats
 * the repository's own config). `ls-files --unmerged` runs neither filters nor diffs, so
 * `filter.<driver>.*` and `diff.<driver>.*` (named by the worktree's .gitattributes, which
 * cannot be listed in advance) are never consulted; the rest are off in case it ever would.
 */
const SAFE_GIT_CONFIG = [
  'core.fsmonitor=false',
  'core.hooksPath=/dev/null',
  'core.untrackedCache=false',
  'core.splitIndex=false',
  'core.pager=cat',
  'core.sshCommand=false',
  'diff.external=',
  'credential.helper=',
  'protocol.allow=never',
].flatMap((setting) => ['-c', setting]);

/** The probe's git command line, after the safe config. */
const LS_UNMERGED = ['--no-pager', '--no-optional-locks', '--literal-pathspecs', 'ls-files', '--unmerged', '-z'];

/**
 * What git runs with: the supervisor's environment without any GIT_* variable (an inherited
 * GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE or GIT_CONFIG_PARAMETERS would point git at another
 * repository or inject config), no system or global config, never a prompt, no optional locks.
 */
function gitEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('GIT_')) env[key] = value;
  return { ...env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' };
}

/**
 * Reads the unmerged index entries (`git ls-files --unmerged`, hardened: see SAFE_GIT_CONFIG)
 * of the task's `spec.worktree` and grants
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
    const output = await gitUnmerged(git, worktree, timeoutMs);
    if (output === null || !hasUnmergedEntries(output)) return null;
    return { extendMs, reason: GIT_PROBE_REASON };
  };
}

/** Extra time, past the kill, before giving up on a child that does not even die (a D-state process). */
const KILL_BACKSTOP_MS = 1_000;

/** stdout of a successful `git ls-files --unmerged -z`, or null on any failure, non-zero exit or timeout. */
function gitUnmerged(git: string, cwd: string, timeoutMs: number): Promise<string | null> {
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

    try {
      const child = execFile(
        git,
        // --no-optional-locks: the probe must not take index.lock, which would make the agent's
        // own concurrent `git add`/`commit` fail. ls-files reads the index as it is: unmerged
        // paths are always in it, so nothing in the worktree is even looked at.
        [...SAFE_GIT_CONFIG, ...LS_UNMERGED],
        { cwd, env: gitEnvironment(), timeout: timeoutMs, killSignal: 'SIGKILL', windowsHide: true, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
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
