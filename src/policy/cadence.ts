// The cadence rule: at grace end, a holder whose silence is still within its own usual
// rhythm gets one more grace period instead of losing the lease. An agent that heartbeats
// every minute and has been quiet for 80 s is probably busy (a long test run), not dead;
// one that heartbeated every minute and has been quiet for ten is gone. Pure: it decides
// from the heartbeat history, `now` and the extensions already granted on the lease.
import { z } from 'zod';
import { count, duration, parseOptions, positiveDuration } from './options.js';
import type { GraceExtension, GraceInput, LeasePolicy } from './types.js';

export interface CadenceOptions {
  /** Silence allowed, as a multiple of the median heartbeat interval (≥ 1). Default 5. */
  silenceMultiplier?: number;
  /** Cadence extensions per lease, at most. Default 2. */
  maxExtensions?: number;
  /** Length of each extension. Default: the policy's grace for the task (`withCadence`), or `task.limits.graceMs` (`cadenceRule`). */
  extendMs?: number;
  /**
   * Floor of the silence threshold, in ms: the threshold is
   * max(median interval × silenceMultiplier, minSilenceMs). Default 0.
   */
  minSilenceMs?: number;
  /**
   * The heartbeat interval holders are told to keep. When set, construction checks that the
   * silence threshold at that cadence, max(expectedHeartbeatMs × silenceMultiplier,
   * minSilenceMs), is at least 2 × expectedHeartbeatMs, so that a single late or lost
   * heartbeat never reads as silence.
   */
  expectedHeartbeatMs?: number;
}

const CADENCE_DEFAULTS = { silenceMultiplier: 5, maxExtensions: 2, minSilenceMs: 0 } as const;

export const cadenceShape = {
  // Below 1 a holder exactly on its own cadence would already count as silent.
  silenceMultiplier: z.number().min(1).max(1_000).optional(),
  maxExtensions: count.optional(),
  extendMs: positiveDuration.optional(),
  minSilenceMs: duration.optional(),
  expectedHeartbeatMs: positiveDuration.optional(),
};

/** The silence threshold at the expected cadence must cover at least two heartbeat intervals. */
export function checkCadence(options: z.infer<z.ZodObject<typeof cadenceShape>>, ctx: z.RefinementCtx): void {
  const expected = options.expectedHeartbeatMs;
  if (expected === undefined) return;
  const multiplier = options.silenceMultiplier ?? CADENCE_DEFAULTS.silenceMultiplier;
  const threshold = Math.max(expected * multiplier, options.minSilenceMs ?? CADENCE_DEFAULTS.minSilenceMs);
  if (threshold < 2 * expected) {
    ctx.addIssue({
      code: 'custom',
      path: ['silenceMultiplier'],
      message:
        `silence threshold ${threshold} ms at the expected cadence of ${expected} ms is below 2 × the cadence ` +
        `(${2 * expected} ms): raise silenceMultiplier to at least 2 or minSilenceMs to at least ${2 * expected}`,
    });
  }
}

const cadenceOptionsSchema = z.strictObject(cadenceShape).superRefine(checkCadence);

/** Median of the gaps between consecutive heartbeats, or null with fewer than 2 heartbeats. */
export function medianInterval(heartbeats: readonly number[]): number | null {
  if (heartbeats.length < 2) return null;
  // Sorted defensively: the history is documented oldest first, but the rule must not
  // produce negative gaps if a store hands it over in another order.
  const times = [...heartbeats].sort((a, b) => a - b);
  const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
  gaps.sort((a, b) => a - b);
  const mid = Math.floor(gaps.length / 2);
  const upper = gaps[mid] as number;
  return gaps.length % 2 === 1 ? upper : ((gaps[mid - 1] as number) + upper) / 2;
}

type GraceOf = (input: GraceInput) => number;

function makeCadence(options: CadenceOptions | undefined, graceOf: GraceOf): (input: GraceInput) => GraceExtension | null {
  const parsed = parseOptions(cadenceOptionsSchema, options, 'cadence options');
  const silenceMultiplier = parsed.silenceMultiplier ?? CADENCE_DEFAULTS.silenceMultiplier;
  const maxExtensions = parsed.maxExtensions ?? CADENCE_DEFAULTS.maxExtensions;
  const minSilenceMs = parsed.minSilenceMs ?? CADENCE_DEFAULTS.minSilenceMs;
  return (input) => {
    if ((input.extensions.cadence ?? 0) >= maxExtensions) return null;
    const median = medianInterval(input.heartbeats);
    // Fewer than two heartbeats: no rhythm to judge silence against, so the lease expires.
    if (median === null) return null;
    const last = Math.max(...input.heartbeats);
    const silence = input.now - last;
    const threshold = Math.max(median * silenceMultiplier, minSilenceMs);
    // "Within" is inclusive: silence exactly at the threshold still extends.
    if (silence > threshold) return null;
    const extendMs = parsed.extendMs ?? graceOf(input);
    // A policy without grace (graceMs 0) and no explicit extendMs has nothing to grant.
    if (!(extendMs > 0)) return null;
    return { extendMs, reason: 'cadence' };
  };
}

/**
 * An `extendGrace` usable by any policy: extends by `extendMs`, or by the task's own
 * `limits.graceMs` when not set. Throws INVALID_INPUT for bad options.
 */
export function cadenceRule(options?: CadenceOptions): (input: GraceInput) => GraceExtension | null {
  return makeCadence(options, ({ task }) => task.limits.graceMs);
}

/**
 * `policy` with the cadence rule added at grace end. The policy's own `extendGrace` (if any)
 * is asked first; the cadence rule only when it declines. Extensions default to the
 * policy's grace for the task, so a tail-phase task gets a tail-phase extension.
 */
export function withCadence(policy: LeasePolicy, options?: CadenceOptions): LeasePolicy {
  const cadence = makeCadence(options, ({ task, now }) => policy.graceMs({ task, now }));
  const own = policy.extendGrace?.bind(policy);
  return {
    name: `${policy.name}+cadence`,
    leaseMs: (input) => policy.leaseMs(input),
    graceMs: (input) => policy.graceMs(input),
    extendGrace: (input) => own?.(input) ?? cadence(input),
  };
}
