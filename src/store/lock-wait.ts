// The bounded wait for a store lock held by another supervisor (`lockWaitMs`). The holder is
// usually another process, so this wait is real time: it is the one place in the store that
// sleeps, and it reads and sleeps on a `{ now, sleep }` pair (`systemLockWaitTime()`, built on
// the project's system clock, by default) so that tests drive it with a fake one instead.

import { systemClock } from '../clock/clock.js';

/** What the lock wait reads the time from and sleeps on. */
export interface LockWaitTime {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/**
 * The longest wait accepted: one hour. A store is held for as long as its supervisor runs, so
 * a longer wait is more likely a unit mistake (seconds, an instant) than a plan.
 */
export const MAX_LOCK_WAIT_MS = 60 * 60 * 1000;
/** The first pause: short, since a CLI command holds the store for a fraction of a second. */
export const FIRST_PAUSE_MS = 10;
/** Pauses double up to this, so a long wait costs a few attempts a second, not a hundred. */
export const MAX_PAUSE_MS = 250;

/** Why `ms` is not a lock wait, or undefined when it is one. */
export function lockWaitIssue(ms: unknown): string | undefined {
  return typeof ms === 'number' && ms >= 0 && ms <= MAX_LOCK_WAIT_MS
    ? undefined
    : `lockWaitMs must be a number of milliseconds from 0 to ${MAX_LOCK_WAIT_MS}`;
}

/** The wall clock, with sleeps armed on the system clock's timers (which keep the process alive). */
export function systemLockWaitTime(): LockWaitTime {
  const clock = systemClock();
  return {
    now: () => clock.now(),
    sleep: (ms) => new Promise<void>((resolve) => void clock.setTimeout(resolve, ms)),
  };
}

/**
 * Calls `attempt` until it returns something other than undefined or `waitMs` has passed, and
 * then once more at the end; `waitMs` 0 is one attempt. The pause after the n-th attempt is a
 * random share between a half and all of min(MAX_PAUSE_MS, FIRST_PAUSE_MS · 2ⁿ), so that
 * processes that found the lock held together do not all come back together; it never runs
 * past the end of the wait. The wait ends when the clock says so or when the pauses asked
 * for add up to `waitMs`, whichever comes first: a clock that stands still (or goes back)
 * cannot stretch it, and every pause but the last is at least FIRST_PAUSE_MS / 2, which
 * bounds the attempts to 2 · waitMs / FIRST_PAUSE_MS + 2.
 */
export async function waitForLock<T>(
  attempt: () => Promise<T | undefined>,
  waitMs: number,
  time: LockWaitTime,
  random: () => number = Math.random,
): Promise<T | undefined> {
  const start = time.now();
  let paused = 0;
  const waited = () => Math.max(paused, time.now() - start);
  for (let n = 0; ; n++) {
    const result = await attempt();
    const left = waitMs - waited();
    if (result !== undefined || left <= 0) return result;
    const full = Math.min(MAX_PAUSE_MS, FIRST_PAUSE_MS * 2 ** Math.min(n, 16));
    const pause = Math.min(left, full * (0.5 + random() / 2));
    paused += pause;
    await time.sleep(pause);
  }
}
