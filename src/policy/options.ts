// Option parsing shared by the policy constructors: the zod building blocks for durations,
// multipliers and counts, and the one place where a zod failure becomes INVALID_INPUT.
// Policies are often built from JSON (a per-task policy stored on the task), so every
// option is checked at construction, never at decision time.
import { z } from 'zod';
import { InvalidInputError } from '../errors.js';

/** Ten years, as for the supervisor's own inputs: longer durations are almost certainly unit mistakes. */
export const MAX_DURATION_MS = 10 * 365 * 24 * 3600 * 1000;

/** A duration that must be strictly positive (a lease, a timeout, an extension). */
export const positiveDuration = z.number().positive().max(MAX_DURATION_MS);
/** A duration that may be 0 (a grace period, a floor). */
export const duration = z.number().min(0).max(MAX_DURATION_MS);
/** A scale factor: 0 or negative would make a lease vanish or run backwards. */
export const multiplier = z.number().positive().max(1_000);
/** A non-negative whole count (extensions, grants). */
export const count = z.number().int().min(0).max(1_000_000);

/** Parses `value` or throws INVALID_INPUT naming every problem with its path. */
export function parseOptions<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  throw new InvalidInputError(
    what,
    result.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(value)'}: ${issue.message}`),
  );
}
