// Read-only views of a task for callers: the public `TaskView` and `Lease` shapes, derived
// from a task actor's snapshot and deep-copied so callers can never mutate live state.
import type { SnapshotFrom } from 'xstate';
import type { TaskMachine } from '../../machines/task.machine.js';
import type {
  AuditEntry,
  CompensationEntry,
  FailureRecord,
  Json,
  LeaseRecord,
  Priority,
  Recovery,
  TaskContext,
  TaskLimits,
  TerminalRecord,
} from '../../machines/task.types.js';

export type TaskState = 'planned' | 'leased' | 'stale' | 'failed' | 'compensated' | 'quarantined' | 'completed';

/** A lease as its holder sees it: the stored lease record, less the heartbeat history. */
export interface Lease extends Omit<LeaseRecord, 'heartbeats'> {
  taskId: string;
  /** Set while the lease is stale: the holder may still heartbeat until this instant. */
  graceEndsAt: number | null;
  /** What the previous holder left behind, when this lease took the task over. */
  recovery: Recovery | null;
}

export interface TaskView {
  id: string;
  state: TaskState;
  /** Full state path, e.g. `stale.grace`, `planned.backoff`, `failed.running`. */
  substate: string;
  epoch: number;
  attempts: number;
  staleCount: number;
  lease: Lease | null;
  progress: number;
  message: string | null;
  notBefore: number | null;
  compensations: CompensationEntry[];
  recovery: Recovery | null;
  failure: FailureRecord | null;
  terminal: TerminalRecord | null;
  audit: AuditEntry[];
  spec: Json;
  priority: Priority;
  labels: string[];
  metadata: { [key: string]: Json };
  limits: TaskLimits;
  /** The task's own lease policy as data, or null when it follows the supervisor's. */
  policy: Json;
  createdAt: number;
}

export type TaskSnapshot = SnapshotFrom<TaskMachine>;

/** `stale.grace` for `{ stale: 'grace' }`; `leased` for `'leased'`. */
export function statePath(value: unknown): string {
  if (typeof value === 'string') return value;
  const [key, child] = Object.entries(value as Record<string, unknown>)[0] ?? [];
  return key === undefined ? '' : `${key}.${statePath(child)}`;
}

export function leaseView(context: TaskContext): Lease | null {
  const lease = context.lease;
  if (!lease) return null;
  const takenOver = context.recovery !== null && context.recovery.previousEpoch < lease.epoch;
  return structuredClone({
    taskId: context.id,
    owner: lease.owner,
    epoch: lease.epoch,
    acquiredAt: lease.acquiredAt,
    expiresAt: lease.expiresAt,
    heartbeatAt: lease.heartbeatAt,
    leaseMs: lease.leaseMs,
    graceMs: lease.graceMs,
    graceExtensions: lease.graceExtensions,
    renewals: lease.renewals,
    lateHeartbeats: lease.lateHeartbeats,
    graceEndsAt: context.graceEndsAt,
    recovery: takenOver ? context.recovery : null,
  });
}

export function taskView(snapshot: TaskSnapshot): TaskView {
  const context = snapshot.context;
  const substate = statePath(snapshot.value);
  const copy = structuredClone(context);
  return {
    id: copy.id,
    state: substate.split('.')[0] as TaskState,
    substate,
    epoch: copy.epoch,
    attempts: copy.attempts,
    staleCount: copy.staleCount,
    lease: leaseView(context),
    progress: copy.progress,
    message: copy.message,
    notBefore: copy.notBefore,
    compensations: copy.compensations,
    recovery: copy.recovery,
    failure: copy.failure,
    terminal: copy.terminal,
    audit: copy.audit,
    spec: copy.spec,
    priority: copy.priority,
    labels: copy.labels,
    metadata: copy.metadata,
    limits: copy.limits,
    policy: copy.policy,
    createdAt: copy.createdAt,
  };
}
