// The lock of one store file: a lock directory (proper-lockfile) plus an owner sidecar naming
// the process that holds it. Owns acquiring it (with the bounded lock wait), judging and
// taking over a holder that is gone, releasing it, and noticing when it was lost (compromised).

import type { Stats } from 'node:fs';
import { mkdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import lockfile from 'proper-lockfile';
import { z } from 'zod';
import { StoreLockedError, StoreWriteError } from '../errors.js';
import { describe, errorCode, readOptional } from './files.js';
import { systemLockWaitTime, waitForLock, type LockWaitTime } from './lock-wait.js';

/** What proper-lockfile is told: its own mtime check never fires (see #inspectHolder). */
const NEVER_STALE_MS = Number.MAX_SAFE_INTEGER;

const ownerShape = z.object({
  pid: z.number().int().positive(),
  hostname: z.string(),
  startedAt: z.string(),
  // Identifies the lock directory the owner created; a sidecar written for an earlier lock
  // must not be taken as describing the current one. Absent in hand-written sidecars.
  lockId: z.string().optional(),
});

/**
 * Lock paths held by stores in this process, so a sidecar naming our own pid can be told apart
 * from one left by an earlier process that had the same pid (common in containers).
 */
const heldHere = new Map<string, StoreLock>();

type HolderVerdict = { kind: 'removed' } | { kind: 'held'; holder: string | undefined };

export class StoreLock {
  /** The store file (symlinks resolved); the lock and its sidecar are named from it. */
  readonly #file: string;
  /** The path the caller gave, for messages. */
  readonly #location: string;
  readonly #lockPath: string;
  readonly #ownerPath: string;
  readonly #staleMs: number;
  readonly #waitMs: number;
  #waitTime: LockWaitTime | undefined;
  #unlock: (() => Promise<void>) | undefined;
  #ownerText: string | undefined;
  #compromised: Error | undefined;
  #generation = 0;

  constructor(file: string, location: string, staleMs: number, waitMs: number) {
    this.#file = file;
    this.#location = location;
    this.#lockPath = `${file}.lock`;
    this.#ownerPath = `${file}.lock.owner`;
    this.#staleMs = staleMs;
    this.#waitMs = waitMs;
  }

  /** Why the lock held now was lost, or undefined while it is still ours (or not held). */
  get compromised(): Error | undefined {
    return this.#compromised;
  }

  /** Waits for the lock on `time` instead of the wall clock (for tests). */
  useWaitTime(time: LockWaitTime): void {
    this.#waitTime = time;
  }

  async acquire(): Promise<void> {
    try {
      await mkdir(dirname(this.#file), { recursive: true });
    } catch (error) {
      throw new StoreWriteError(`could not create the directory of store file ${this.#location}: ${describe(error)}`, error);
    }
    let holder: string | undefined;
    const lockOnce = async () => {
      const unlock = await this.#tryLock();
      if (unlock !== undefined) return unlock;
      const verdict = await this.#inspectHolder();
      holder = verdict.kind === 'held' ? verdict.holder : undefined;
      return verdict.kind === 'removed' ? this.#tryLock() : undefined;
    };
    // Each try judges the holder afresh, so a holder that dies during the wait is taken over.
    const unlock = await waitForLock(lockOnce, this.#waitMs, (this.#waitTime ??= systemLockWaitTime()));
    if (unlock === undefined) throw new StoreLockedError(this.#location, holder, this.#waitMs);
    this.#unlock = unlock;
    this.#compromised = undefined;
    heldHere.set(this.#lockPath, this);
    try {
      const lockInfo = await stat(this.#lockPath);
      this.#ownerText = JSON.stringify({
        pid: process.pid,
        hostname: hostname(),
        startedAt: new Date().toISOString(),
        lockId: lockIdentity(lockInfo),
      });
      await writeFile(this.#ownerPath, this.#ownerText, 'utf8');
    } catch (error) {
      await this.release();
      throw new StoreWriteError(`could not record the owner of store file ${this.#location}: ${describe(error)}`, error);
    }
  }

  /** Resolves to the release function, or undefined when someone else holds the lock. */
  async #tryLock(): Promise<(() => Promise<void>) | undefined> {
    const generation = ++this.#generation;
    try {
      return await lockfile.lock(this.#file, {
        lockfilePath: this.#lockPath,
        // realpath would fail with ENOENT before the store file's first write.
        realpath: false,
        // Staleness is decided in #inspectHolder, where a live holder's pid outranks the lock's
        // mtime (a forward wall-clock jump must not hand a live store to a second supervisor).
        stale: NEVER_STALE_MS,
        update: this.#staleMs / 2,
        retries: 0,
        // proper-lockfile's default throws from a timer, which would crash the process.
        onCompromised: (error: Error) => {
          // Only the lock currently held counts, not one from an earlier acquire().
          if (generation !== this.#generation || this.#unlock === undefined) return;
          this.#compromised = error;
          if (heldHere.get(this.#lockPath) === this) heldHere.delete(this.#lockPath);
        },
      });
    } catch (error) {
      if (errorCode(error) === 'ELOCKED') return undefined;
      throw new StoreWriteError(`could not lock store file ${this.#location}: ${describe(error)}`, error);
    }
  }

  /**
   * Decides whether the current lock belongs to a process that is gone; if so removes it (and
   * its sidecar) so the caller can try once more. A holder on this host is judged by its pid
   * alone; only a holder we cannot ask (no sidecar yet, or another host) is judged by how long
   * its lock has gone without a refresh.
   */
  async #inspectHolder(): Promise<HolderVerdict> {
    let info: Stats;
    try {
      info = await stat(this.#lockPath);
    } catch (error) {
      // Released between our attempt and now: worth one more try.
      if (errorCode(error) === 'ENOENT') return { kind: 'removed' };
      return { kind: 'held', holder: undefined };
    }
    const before = lockIdentity(info);
    const text = await readOptional(this.#ownerPath);
    const owner = text === undefined ? undefined : parseOwner(text);
    const known = owner !== undefined && (owner.lockId === undefined || owner.lockId === before);
    const holder = known ? `pid ${owner.pid} on ${owner.hostname} since ${owner.startedAt}` : undefined;
    if (known && owner.hostname === hostname()) {
      const alive = owner.pid === process.pid ? heldHere.has(this.#lockPath) : processExists(owner.pid);
      if (alive) return { kind: 'held', holder };
    } else {
      // File mtimes are wall-clock instants, so this one comparison is against the wall clock.
      const silentMs = new Date().getTime() - info.mtimeMs;
      if (silentMs <= this.#staleMs) return { kind: 'held', holder };
    }
    return this.#removeIfUnchanged(before, text, holder);
  }

  /** Removes the lock we judged dead, unless another opener replaced it meanwhile. */
  async #removeIfUnchanged(before: string, text: string | undefined, holder: string | undefined): Promise<HolderVerdict> {
    let after: string;
    try {
      after = lockIdentity(await stat(this.#lockPath));
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return { kind: 'removed' };
      return { kind: 'held', holder };
    }
    if (after !== before || (await readOptional(this.#ownerPath)) !== text) return { kind: 'held', holder: undefined };
    try {
      await rmdir(this.#lockPath);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') return { kind: 'held', holder };
    }
    await rm(this.#ownerPath, { force: true }).catch(() => undefined);
    return { kind: 'removed' };
  }

  async release(): Promise<void> {
    // Sidecar first: once the lock directory is gone a successor may write its own sidecar,
    // and we must not delete that one.
    if (this.#ownerText !== undefined && (await readOptional(this.#ownerPath)) === this.#ownerText) {
      await rm(this.#ownerPath, { force: true }).catch(() => undefined);
    }
    this.#ownerText = undefined;
    if (heldHere.get(this.#lockPath) === this) heldHere.delete(this.#lockPath);
    const unlock = this.#unlock;
    this.#unlock = undefined;
    if (unlock !== undefined && this.#compromised === undefined) {
      // A failed release leaves a lock that goes stale on its own; nothing better to do here.
      await unlock().catch(() => undefined);
    }
  }
}

function parseOwner(text: string): z.infer<typeof ownerShape> | undefined {
  try {
    const parsed = ownerShape.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return errorCode(error) !== 'ESRCH';
  }
}

/** Distinguishes one lock directory from a later one created at the same path. */
function lockIdentity(info: Stats): string {
  return `${info.ino}:${info.birthtimeMs}`;
}
