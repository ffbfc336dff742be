// What a lease policy is: pure decisions about lease durations and about what happens when
// a lease's grace ends. Policies see the task as data (its view, the time, its heartbeat
// history) and never do I/O; extension probes are the async, I/O-doing counterpart.
import type { TaskView } from '../task/view.js';

/** One more grace period for the holder, and why (the reason is counted in stats). */
export interface GraceExtension {
  extendMs: number;
  reason: string;
}

export interface LeaseInput {
  task: TaskView;
  now: number;
  /** `claim` for a new lease; `heartbeat` for a renewal of `task.lease`. */
  kind: 'claim' | 'heartbeat';
  /** Progress reported with this heartbeat, if any (the task's `progress` is the maximum so far). */
  progress?: number;
}

export interface GraceMsInput {
  task: TaskView;
  now: number;
  kind?: LeaseInput['kind'];
  progress?: number;
}

export interface GraceInput {
  task: TaskView;
  now: number;
  /** Accepted heartbeat times of the current lease, oldest first. */
  heartbeats: number[];
  /** Grace extensions already granted on the current lease, by reason. */
  extensions: Record<string, number>;
}

/** Policies must treat their inputs as read-only: the task view is shared with the supervisor. */
export interface LeasePolicy {
  readonly name: string;
  /** Lease duration for a claim or a renewal, in ms. A renewal never ends before the current expiry. */
  leaseMs(input: LeaseInput): number;
  /**
   * Grace after expiry, in ms (0 = none). `kind` and `progress` are optional: pass them when
   * asking on behalf of a claim or heartbeat (as for `leaseMs`), so that the grace matches
   * the phase that call puts the lease in; without them the policy judges from the task
   * (its progress and the current lease's renewals).
   */
  graceMs(input: GraceMsInput): number;
  /** Asked when grace ends: another grace period, or null to let the lease expire. */
  extendGrace?(input: GraceInput): GraceExtension | null;
}

/**
 * Asked when grace ends, after the policy declined, outside the supervisor's command
 * processing: may look at the world (a git worktree, a CI run) and grant a bounded extension.
 * A probe that throws or hangs past its own timeout grants nothing.
 */
export type ExtensionProbe = (input: GraceInput) => Promise<GraceExtension | null>;
