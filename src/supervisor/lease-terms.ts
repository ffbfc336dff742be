// The lease and grace durations a claim or a heartbeat gets from the lease policy, checked
// where they are asked for. A policy is trusted code but fallible: an answer that is not a
// finite number within the limits (leaseMs ≥ 1 ms, graceMs ≥ 0, both ≤ ten years), or a
// throw, is logged and replaced by what the fixed policy gives (the task's own limits), so
// it never reaches a record; a record the store cannot write would fail every call batched
// with it.
import type { Logger } from '../logger.js';
import { fixedPolicy } from '../policy/fixed.js';
import { MAX_DURATION_MS } from '../policy/options.js';
import type { GraceExtension, LeaseInput, LeasePolicy } from '../policy/types.js';

const fallback = fixedPolicy();

/** Lower bounds: a lease shorter than 1 ms vanishes in an epoch-ms timestamp; grace may be 0. */
const LEAST = { leaseMs: 1, graceMs: 0 } as const;

const describe = (value: unknown) => (typeof value === 'number' ? String(value) : typeof value === 'string' ? JSON.stringify(value) : typeof value);

/** True for a duration a record can hold: a finite number in [least, ten years]. */
export const isDuration = (value: unknown, least: number): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= least && value <= MAX_DURATION_MS;

/** An answer that failed (a throw, a hang, garbage): logged where it was seen, and it grants nothing. */
export const UNUSABLE: unique symbol = Symbol('unusable');

export function createLeaseTerms(logger: Logger) {
  /** The policy's answer for `which`, or the fixed policy's when the answer is unusable. */
  const ask = (policy: LeasePolicy, which: 'leaseMs' | 'graceMs', input: LeaseInput): number => {
    const task = `task "${input.task.id}" (${input.kind})`;
    let answer: unknown;
    try {
      answer = policy[which](input);
    } catch (error) {
      logger.warn(`leasehold: the lease policy "${policy.name}" threw deciding ${which} for ${task}; using the task's own limits`, error);
      return fallback[which](input);
    }
    if (isDuration(answer, LEAST[which])) return answer;
    logger.warn(
      `leasehold: the lease policy "${policy.name}" gave ${which} ${describe(answer)} for ${task}, not a duration between ${LEAST[which]} ms and ten years; using the task's own limits`,
    );
    return fallback[which](input);
  };

  return {
    leaseMs: (policy: LeasePolicy, input: LeaseInput) => ask(policy, 'leaseMs', input),
    graceMs: (policy: LeasePolicy, input: LeaseInput) => ask(policy, 'graceMs', input),
    /**
     * A grace extension as a record may hold it (`extendMs` a duration of at least 1 ms, a
     * string reason), or null; anything else but null is logged as `from`'s failure: UNUSABLE.
     */
    extension(extension: unknown, from: string, taskId: string): GraceExtension | null | typeof UNUSABLE {
      if (extension === null || extension === undefined) return null;
      const { extendMs, reason } = (typeof extension === 'object' ? extension : {}) as Partial<GraceExtension>;
      if (isDuration(extendMs, 1) && typeof reason === 'string') return { extendMs, reason };
      logger.warn(
        `leasehold: ${from} gave task "${taskId}" a grace extension that is not { extendMs: 1 ms to ten years, reason: string } (extendMs ${describe(extendMs)}); granting nothing`,
      );
      return UNUSABLE;
    },
  };
}
