// The task machine's computed durations (retry and compensation backoffs): pure arithmetic
// beside the machine, so what a deadline is made of is in one place and tested on its own.
// Every result is a finite, non-negative number within its cap, whatever the attempt count:
// a NaN or Infinity here would become a deadline no store can write (JSON has neither).
import type { TaskContext } from './task.types.js';

/**
 * Compensation retries double from `compensationBackoffMs` up to this (10 min, like the retry
 * backoff's default `maxRetryBackoffMs`); a configured backoff longer than that is used as is,
 * without doubling.
 */
export const COMPENSATION_BACKOFF_CAP_MS = 10 * 60_000;

/**
 * Doublings counted, at most. 2^52 times the longest accepted base (ten years) is still a
 * finite number, and far past any cap; past it, 2^n overflows to Infinity and `0 × Infinity`
 * is NaN (what `retryBackoffMs: 0` made of attempt 1,025).
 */
const MAX_BACKOFF_DOUBLINGS = 52;

/** `baseMs × 2^(attempt − 1)`, capped at `capMs`: finite and in [0, capMs] for any attempt. */
function doublingBackoffMs(baseMs: number, attempt: number, capMs: number): number {
  const cap = Number.isFinite(capMs) && capMs > 0 ? capMs : 0;
  if (!(baseMs > 0)) return 0;
  const doublings = Math.min(MAX_BACKOFF_DOUBLINGS, Math.max(0, Math.floor(attempt) - 1) || 0);
  const delay = baseMs * 2 ** doublings;
  return Number.isFinite(delay) ? Math.min(cap, delay) : cap;
}

/** The wait before a task that failed retryably can be claimed again: doubling up to `maxRetryBackoffMs`. */
export function retryDelayMs(context: TaskContext): number {
  const { retryBackoffMs, maxRetryBackoffMs } = context.limits;
  return doublingBackoffMs(retryBackoffMs, context.attempts, maxRetryBackoffMs);
}

/** The wait before compensation attempt `attempts + 1`: doubling up to COMPENSATION_BACKOFF_CAP_MS. */
export function compensationDelayMs(context: TaskContext, attempts: number): number {
  const base = context.limits.compensationBackoffMs;
  return doublingBackoffMs(base, attempts, Math.max(base, COMPENSATION_BACKOFF_CAP_MS));
}
