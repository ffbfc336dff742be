// What the task machine tells its runtime: the payload of each emitted lifecycle event,
// built from the context after the transition's updates (task.context.ts) have run. Owner
// events carry the fencing header (task, owner, epoch, time) of the lease they concern.
import type { GraceOutcome, TaskContext } from './task.types.js';
import { type EventOf, leaseOf } from './task.context.js';

/** The fencing header of an emitted event, from the task's current lease. */
const fencedBy = (context: TaskContext, at: number) => {
  const lease = leaseOf(context);
  return { taskId: context.id, owner: lease.owner, epoch: lease.epoch, at };
};

export const claimed = (context: TaskContext) => ({
  type: 'claimed' as const,
  ...fencedBy(context, leaseOf(context).acquiredAt),
  expiresAt: leaseOf(context).expiresAt,
});

export const reclaimed = (context: TaskContext) => ({
  type: 'reclaimed' as const,
  ...fencedBy(context, leaseOf(context).acquiredAt),
  previousOwner: context.recovery!.previousOwner,
  previousEpoch: context.recovery!.previousEpoch,
});

export const recovered = (context: TaskContext) => ({
  type: 'recovered' as const,
  ...context.recovery!,
  ...fencedBy(context, leaseOf(context).acquiredAt),
});

export const graceExtended = (context: TaskContext, { at, extension }: GraceOutcome) => ({
  type: 'graceExtended' as const,
  ...fencedBy(context, at),
  ...extension!,
  graceEndsAt: context.graceEndsAt!,
});

export const heartbeat = (context: TaskContext, late: boolean) => ({
  type: 'heartbeat' as const,
  ...fencedBy(context, leaseOf(context).heartbeatAt),
  expiresAt: leaseOf(context).expiresAt,
  progress: context.progress,
  late,
});

export const stuck = (context: TaskContext) => ({
  type: 'stuck' as const,
  ...fencedBy(context, leaseOf(context).heartbeatAt),
  renewals: leaseOf(context).renewals,
});

export const expired = (context: TaskContext) => ({
  type: 'expired' as const,
  ...fencedBy(context, leaseOf(context).expiresAt),
  staleCount: context.staleCount,
  graceEndsAt: context.graceEndsAt!,
});

export const released = (context: TaskContext, release: EventOf<'lease.release'>) => ({
  type: 'released' as const,
  taskId: context.id,
  owner: release.owner,
  epoch: release.epoch,
  at: release.at,
  reason: release.reason ?? null,
});

export const completed = (context: TaskContext, complete: EventOf<'task.complete'>) => ({
  type: 'completed' as const,
  taskId: context.id,
  owner: complete.owner,
  epoch: complete.epoch,
  at: complete.at,
});

export const failed = (context: TaskContext, fail: EventOf<'task.fail'>) => ({
  type: 'failed' as const,
  taskId: context.id,
  owner: fail.owner,
  epoch: fail.epoch,
  at: fail.at,
  error: fail.error,
  retryable: fail.retryable === true,
  retryAt: context.notBefore,
});

export const compensated = (context: TaskContext) => ({ type: 'compensated' as const, taskId: context.id, at: context.terminal!.at });

export const quarantined = (context: TaskContext) => {
  const terminal = context.terminal!;
  return {
    type: 'quarantined' as const,
    taskId: context.id,
    at: terminal.at,
    by: terminal.by ?? 'supervisor',
    reason: terminal.reason ?? '',
    owner: context.lease?.owner ?? null,
    epoch: context.epoch,
  };
};
