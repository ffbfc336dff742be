// Read-only views of a task for callers: the public `TaskView` and `Lease` shapes, derived
// from a task's machine snapshot and deep-copied so callers can never mutate live state.
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
  TaskState,
  TerminalRecord,
} from '../../machines/task.types.js';

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

/** The lease as its holder sees it; `copy: false` shares the (immutable) context's data. */
export function leaseView(context: TaskContext, copy = true): Lease | null {
  const lease = context.lease;
  if (!lease) return null;
  const takenOver = context.recovery !== null && context.recovery.previousEpoch < lease.epoch;
  const data = copy ? copyJson : shared;
  return {
    taskId: context.id,
    owner: lease.owner,
    epoch: lease.epoch,
    acquiredAt: lease.acquiredAt,
    expiresAt: lease.expiresAt,
    heartbeatAt: lease.heartbeatAt,
    leaseMs: lease.leaseMs,
    graceMs: lease.graceMs,
    graceExtensions: data(lease.graceExtensions),
    renewals: lease.renewals,
    lateHeartbeats: lease.lateHeartbeats,
    graceEndsAt: context.graceEndsAt,
    recovery: takenOver ? data(context.recovery) : null,
  };
}

/**
 * A task as callers see it. Public reads get a deep copy, so nothing a caller does can reach
 * live state; `copy: false` is for the supervisor's own read-only uses on hot paths (lease
 * policy inputs), where it shares the snapshot's data, which XState never mutates.
 */
export function taskView(snapshot: TaskSnapshot, copy = true): TaskView {
  const context = snapshot.context;
  const substate = statePath(snapshot.value);
  const data = copy ? copyJson : shared;
  return {
    id: context.id,
    state: substate.split('.')[0] as TaskState,
    substate,
    epoch: context.epoch,
    attempts: context.attempts,
    staleCount: context.staleCount,
    lease: leaseView(context, copy),
    progress: context.progress,
    message: context.message,
    notBefore: context.notBefore,
    compensations: data(context.compensations),
    recovery: data(context.recovery),
    failure: data(context.failure),
    terminal: data(context.terminal),
    audit: data(context.audit),
    spec: data(context.spec),
    priority: context.priority,
    labels: data(context.labels),
    metadata: data(context.metadata),
    limits: data(context.limits),
    policy: data(context.policy),
    createdAt: context.createdAt,
  };
}

/**
 * The views are object literals whose nested data alone is copied: a copy built key by key
 * would leave V8 a dictionary-mode object of 1.4 KiB for a view's 25 keys, five times the
 * literal, and a caller holding 100,000 answers would hold that much more.
 */
const shared = <T>(value: T): T => value;

/**
 * A deep copy of JSON data (what task contexts hold), about five times faster than
 * structuredClone, which pays for generality on every call; views are copied on every answer.
 */
export function copyJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(copyJson) as T;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = copyJson((value as Record<string, unknown>)[key]);
    // Assigning to "__proto__" would set the prototype instead of a property.
    if (key === '__proto__') Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true });
    else copy[key] = item;
  }
  return copy as T;
}
