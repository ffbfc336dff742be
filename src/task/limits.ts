// A task's timing and retry limits (`TaskLimits`) as a zod schema: the bounds that supervisor
// defaults, a task created with its own limits and a stored record read back all keep.
import { z } from 'zod';

/** Ten years: longer durations are almost certainly unit mistakes. */
const MAX_DURATION_MS = 10 * 365 * 24 * 3600 * 1000;

// At least 1 ms: a shorter positive duration vanishes in an epoch-ms timestamp (now + 5e-324 === now),
// which would acknowledge a lease that is already expired.
export const duration = z.number().min(1, 'must be at least 1 ms').max(MAX_DURATION_MS);
const count = z.number().int().positive().max(1_000_000);

/** Timing and retry bounds a supervisor or a single task may set. */
export const limitsShape = {
  leaseMs: duration,
  graceMs: z.number().min(0).max(MAX_DURATION_MS),
  maxAttempts: count,
  maxStale: count,
  maxRenewals: count,
  retryBackoffMs: z.number().min(0).max(MAX_DURATION_MS),
  maxRetryBackoffMs: z.number().min(0).max(MAX_DURATION_MS),
  compensationAttempts: count,
  compensationBackoffMs: z.number().min(0).max(MAX_DURATION_MS),
};
export const limitsSchema = z.strictObject(limitsShape);
