// The progressive lease policy: lease and grace durations that grow with how far a task has
// got, scaled by the task's priority and labels, optionally decaying per renewal, bounded,
// and never shortening a lease on a heartbeat. Pure: it reads the task view and `now` only.
//
// Why phases: an agent at 80 % spends minutes in tests, builds and pushes between reports,
// so the tail phase gets the longest lease and grace; an agent that has not reported yet
// gets the shortest, so a worker that died on start-up is noticed early.
import { z } from 'zod';
import { PRIORITIES, type Priority } from '../../machines/task.types.js';
import type { TaskView } from '../task/view.js';
import { duration, multiplier, parseOptions, positiveDuration } from './options.js';
import type { GraceMsInput, LeaseInput, LeasePolicy } from './types.js';

interface PhaseTiming {
  leaseMs: number;
  graceMs: number;
}

/** A phase entered once the task's progress reaches `atProgress` (inclusive, 0 < atProgress ≤ 100). */
interface ProgressStep extends PhaseTiming {
  atProgress: number;
}

export interface ProgressiveOptions {
  /** Before the task has reported anything. Default 180 s lease + 60 s grace. */
  noReport?: Partial<PhaseTiming>;
  /** Reported, below the first step. Default 240 s + 60 s. */
  firstReport?: Partial<PhaseTiming>;
  /**
   * Progress phases, strictly ascending by `atProgress`; the highest one reached applies.
   * Replaces the default list when given. Default: ≥ 25 → 300 s + 60 s, ≥ 75 → 360 s + 90 s.
   */
  steps?: ProgressStep[];
  /** Merged over the defaults: critical 0.5, high 0.75, medium 1, low 1.5. */
  priorityMultipliers?: Partial<Record<Priority, number>>;
  /**
   * Merged over the defaults: simple 0.5, complex 1.5, research 2, epic 3. The first of the
   * task's labels (in the task's order) that has an entry applies; set a label to 1 to
   * neutralise a default. Labels match exactly (case-sensitive).
   */
  labelMultipliers?: Record<string, number>;
  /** Each renewal scales the lease by (1 − decay): the n-th renewal gets ×(1 − decay)^n. Default 0 (none); 0 ≤ decay < 1. */
  decayPerRenewal?: number;
  /** Lower bound on the computed lease, applied last. Default 60 s. */
  minLeaseMs?: number;
  /** Upper bound on the computed lease, applied last. Default 2 h. */
  maxLeaseMs?: number;
}

const PROGRESSIVE_DEFAULTS = {
  noReport: { leaseMs: 180_000, graceMs: 60_000 },
  firstReport: { leaseMs: 240_000, graceMs: 60_000 },
  steps: [
    { atProgress: 25, leaseMs: 300_000, graceMs: 60_000 },
    { atProgress: 75, leaseMs: 360_000, graceMs: 90_000 },
  ],
  priorityMultipliers: { critical: 0.5, high: 0.75, medium: 1, low: 1.5 },
  labelMultipliers: { simple: 0.5, complex: 1.5, research: 2, epic: 3 },
  decayPerRenewal: 0,
  minLeaseMs: 60_000,
  maxLeaseMs: 2 * 3600_000,
} as const satisfies Required<ProgressiveOptions>;

const phase = z.strictObject({ leaseMs: positiveDuration.optional(), graceMs: duration.optional() });
const step = z.strictObject({ atProgress: z.number().gt(0).max(100), leaseMs: positiveDuration, graceMs: duration });

/** The fields of the options, shared with `resolvePolicy`'s JSON config schema. */
export const progressiveShape = {
  noReport: phase.optional(),
  firstReport: phase.optional(),
  steps: z
    .array(step)
    .max(100)
    .refine((steps) => steps.every((s, i) => i === 0 || s.atProgress > (steps[i - 1]?.atProgress ?? 0)), {
      message: 'atProgress must be strictly ascending',
    })
    .optional(),
  priorityMultipliers: z
    .strictObject(Object.fromEntries(PRIORITIES.map((p) => [p, multiplier.optional()])) as Record<Priority, z.ZodOptional<typeof multiplier>>)
    .optional(),
  labelMultipliers: z.record(z.string().min(1), multiplier).optional(),
  decayPerRenewal: z.number().min(0).lt(1).optional(),
  minLeaseMs: positiveDuration.optional(),
  maxLeaseMs: positiveDuration.optional(),
};

/** min ≤ max once the defaults fill in whichever bound is missing. */
export function checkLeaseBounds(options: { minLeaseMs?: number | undefined; maxLeaseMs?: number | undefined }, ctx: z.RefinementCtx): void {
  const min = options.minLeaseMs ?? PROGRESSIVE_DEFAULTS.minLeaseMs;
  const max = options.maxLeaseMs ?? PROGRESSIVE_DEFAULTS.maxLeaseMs;
  if (min > max) {
    ctx.addIssue({ code: 'custom', path: ['minLeaseMs'], message: `minLeaseMs (${min}) must not exceed maxLeaseMs (${max})` });
  }
}

const progressiveOptionsSchema = z.strictObject(progressiveShape).superRefine(checkLeaseBounds);

/** `claim` / `heartbeat` as in LeaseInput; `lease` when asked about the current lease with no call in hand. */
type Asking = LeaseInput['kind'] | 'lease';

/**
 * Did the task report? A heartbeat is itself a report (so the first heartbeat moves a lease
 * out of the no-report phase: its renewed lease will have `renewals ≥ 1`); any progress above
 * 0 — this heartbeat's or the task's maximum, late reports and a previous holder's included —
 * is one too. On a claim only the task's progress counts: `task.lease` is then the previous
 * holder's lease, whose renewals say nothing about the new holder. Asked about the current
 * lease (grace with no call in hand), its renewals > 0 count.
 */
function reported(task: TaskView, asking: Asking, progress: number): boolean {
  if (progress > 0 || asking === 'heartbeat') return true;
  return asking === 'lease' && (task.lease?.renewals ?? 0) > 0;
}

export function progressivePolicy(options?: ProgressiveOptions): LeasePolicy {
  const parsed = parseOptions(progressiveOptionsSchema, options, 'progressive policy options');
  const noReport = { ...PROGRESSIVE_DEFAULTS.noReport, ...parsed.noReport };
  const firstReport = { ...PROGRESSIVE_DEFAULTS.firstReport, ...parsed.firstReport };
  const steps: readonly ProgressStep[] = parsed.steps ?? PROGRESSIVE_DEFAULTS.steps;
  const priorities: Record<string, number | undefined> = { ...PROGRESSIVE_DEFAULTS.priorityMultipliers, ...parsed.priorityMultipliers };
  // A Map, not an object: a label such as "constructor" must not find Object.prototype.
  const labels = new Map<string, number>(Object.entries({ ...PROGRESSIVE_DEFAULTS.labelMultipliers, ...parsed.labelMultipliers }));
  const decay = parsed.decayPerRenewal ?? PROGRESSIVE_DEFAULTS.decayPerRenewal;
  const minLeaseMs = parsed.minLeaseMs ?? PROGRESSIVE_DEFAULTS.minLeaseMs;
  const maxLeaseMs = parsed.maxLeaseMs ?? PROGRESSIVE_DEFAULTS.maxLeaseMs;

  function phaseOf(task: TaskView, asking: Asking, progress: number): PhaseTiming {
    if (!reported(task, asking, progress)) return noReport;
    let current: PhaseTiming = firstReport;
    for (const s of steps) if (progress >= s.atProgress) current = s;
    return current;
  }

  function labelMultiplier(task: TaskView): number {
    for (const label of task.labels) {
      const m = labels.get(label);
      if (m !== undefined) return m;
    }
    return 1;
  }

  return {
    name: 'progressive',
    leaseMs({ task, now, kind, progress: reportedNow }: LeaseInput): number {
      // Phases use the highest progress known: the task's maximum or this heartbeat's.
      const progress = Math.max(task.progress, reportedNow ?? 0);
      const base = phaseOf(task, kind, progress).leaseMs;
      const scale = (priorities[task.priority] ?? 1) * labelMultiplier(task);
      // The exponent is the renewal count the lease will have once this heartbeat is
      // accepted (a claim is renewal 0), i.e. the renewed lease's own `renewals`.
      const renewal = kind === 'heartbeat' ? (task.lease?.renewals ?? 0) + 1 : 0;
      const raw = Math.round(base * scale * (1 - decay) ** renewal);
      const bounded = Math.min(maxLeaseMs, Math.max(minLeaseMs, raw));
      if (kind !== 'heartbeat' || !task.lease) return bounded;
      // A heartbeat never shortens a lease: the renewal must end at least 1 ms after the
      // current expiry, the smallest step that is still "later" for the core's
      // `not_extending` check, so a policy that would shrink a lease (a phase, a decay, a
      // validation window set by `extend`) moves the expiry forward instead of bouncing.
      // This deliberately wins over `maxLeaseMs`: it never gives more than the lease had.
      return Math.max(bounded, task.lease.expiresAt - now + 1);
    },
    graceMs({ task, kind, progress: reportedNow }: GraceMsInput): number {
      // Grace follows the phase only: multipliers and decay scale the lease, not the grace.
      // Same phase as `leaseMs` for the same call, so the heartbeat that crosses 75 % gets
      // the tail phase's grace along with its lease.
      return phaseOf(task, kind ?? 'lease', Math.max(task.progress, reportedNow ?? 0)).graceMs;
    },
  };
}
