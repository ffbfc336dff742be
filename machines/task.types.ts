// The data of one task's machine: context (all durable, plain JSON), the events it accepts
// and the events it emits. Shared by the machine, the supervisor runtime and the views.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export const PRIORITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

/**
 * The task machine's top-level states, named once: the list filter, the stats counts, the
 * stored record's schema and the CLI's choices are all derived from these lists (and
 * test/architecture.test.ts checks the machine's states are exactly these).
 */
export const TASK_STATES = ['planned', 'leased', 'stale', 'failed', 'compensated', 'quarantined', 'completed'] as const;
export type TaskState = (typeof TASK_STATES)[number];
/** The states a task never leaves. */
export const TERMINAL_STATES = ['completed', 'compensated', 'quarantined'] as const satisfies readonly TaskState[];
type TerminalState = (typeof TERMINAL_STATES)[number];

/** Per-task timing and retry bounds, resolved from supervisor defaults at creation. */
export interface TaskLimits {
  leaseMs: number;
  graceMs: number;
  maxAttempts: number;
  maxStale: number;
  maxRenewals: number;
  retryBackoffMs: number;
  maxRetryBackoffMs: number;
  compensationAttempts: number;
  compensationBackoffMs: number;
}

export interface LeaseRecord {
  owner: string;
  epoch: number;
  acquiredAt: number;
  expiresAt: number;
  heartbeatAt: number;
  /** The lease's own duration: a heartbeat without `leaseMs` renews by this much. */
  leaseMs: number;
  /** Grace after this lease's expiry, chosen by the lease policy when it was granted or renewed. */
  graceMs: number;
  /** Grace extensions granted on this lease, by reason (bounded per reason by the policy). */
  graceExtensions: { [reason: string]: number };
  /** Accepted heartbeats on this lease. */
  renewals: number;
  lateHeartbeats: number;
  /** Heartbeat times on this lease (bounded), for cadence-aware policies. */
  heartbeats: number[];
}

export interface Recovery {
  previousOwner: string;
  previousEpoch: number;
  progress: number;
  message: string | null;
  timeSpentMs: number;
  reason: string;
  instructions: string;
}

type CompensationStatus = 'pending' | 'running' | 'failed' | 'done';

/** One entry of the compensation ledger; entries are never removed. */
export interface CompensationEntry {
  seq: number;
  action: string;
  args: Json;
  registeredAt: number;
  owner: string | null;
  epoch: number | null;
  status: CompensationStatus;
  attempts: number;
  lastError: string | null;
  doneAt: number | null;
}

export interface FailureRecord {
  owner: string;
  epoch: number;
  error: string;
  retryable: boolean;
  at: number;
}

export interface TerminalRecord {
  state: TerminalState;
  at: number;
  by: string | null;
  reason: string | null;
  result: Json;
  failure: FailureRecord | null;
}

export interface AuditEntry {
  at: number;
  event: string;
  owner?: string;
  epoch?: number;
  detail?: string;
}

export interface TaskContext {
  id: string;
  spec: Json;
  priority: Priority;
  labels: string[];
  limits: TaskLimits;
  createdAt: number;
  /** Fencing token: the epoch of the latest claim; strictly increases with every claim. */
  epoch: number;
  /** Claims made so far. */
  attempts: number;
  /** Leases that expired. */
  staleCount: number;
  /** Highest progress ever reported (0–100), late reports included. */
  progress: number;
  message: string | null;
  /** The current lease; while stale, the expired one. */
  lease: LeaseRecord | null;
  graceEndsAt: number | null;
  /** Retry backoff: no claim before this instant. */
  notBefore: number | null;
  recovery: Recovery | null;
  compensations: CompensationEntry[];
  /** When the latest compensation retry is (or was) due. */
  compensationRetryAt: number | null;
  failure: FailureRecord | null;
  terminal: TerminalRecord | null;
  metadata: { [key: string]: Json };
  audit: AuditEntry[];
  /** This task's lease policy as data (`{ kind: 'progressive', … }`), or null for the supervisor's. */
  policy: Json;
}

export interface TaskInput {
  id: string;
  spec: Json;
  priority: Priority;
  labels: string[];
  limits: TaskLimits;
  compensations: { action: string; args: Json }[];
  createdAt: number;
  policy?: Json;
  /** Epochs start above this (the store's epoch floor), so that an id used again never repeats one. */
  epochFloor?: number;
}

/** Every event carries `at`: the machine never reads the time itself. */
export interface Timed {
  at: number;
}
export interface OwnerCall extends Timed {
  owner: string;
  epoch: number;
}

export type TaskEvent =
  | ({ type: 'lease.claim'; owner: string; leaseMs: number; graceMs: number } & Timed)
  | ({ type: 'lease.heartbeat'; leaseMs?: number; graceMs?: number; progress?: number; message?: string } & OwnerCall)
  | ({ type: 'lease.extend'; windowMs: number } & OwnerCall)
  | ({ type: 'lease.release'; reason?: string } & OwnerCall)
  | ({ type: 'task.complete'; result?: Json } & OwnerCall)
  | ({ type: 'task.fail'; error: string; retryable?: boolean } & OwnerCall)
  | ({ type: 'compensation.add'; action: string; args?: Json } & OwnerCall)
  | ({ type: 'task.quarantine'; by: string; reason: string } & Timed)
  | ({ type: 'task.annotate'; metadata: { [key: string]: Json } } & Timed)
  | ({ type: 'task.resume' } & Timed);

/** What the compensation runner reports back; the time it finished comes in with it. */
export interface CompensationOutcome {
  at: number;
}
export interface CompensationFailure {
  at: number;
  message: string;
  missingHandler: boolean;
}
export interface CompensationInput {
  taskId: string;
  entry: CompensationEntry;
}

/** What the runtime decided when grace ended: one more grace period, or none. */
export interface GraceOutcome {
  at: number;
  extension: { extendMs: number; reason: string } | null;
}

/** Why the machine turned an owner's call away (LeaseConflictError's `reason`). */
export type ConflictReason =
  | 'held'
  | 'in_grace'
  | 'not_owner'
  | 'stale_epoch'
  | 'expired'
  | 'no_lease'
  | 'not_extending'
  | 'backoff';

export type Rejection =
  | { code: 'LEASE_CONFLICT'; reason: ConflictReason }
  | { code: 'TERMINAL_TASK' };

export interface Fenced {
  taskId: string;
  owner: string;
  epoch: number;
  at: number;
}

/** Lifecycle events a task emits; the supervisor re-publishes them once they are durable. */
export type TaskEmitted =
  | ({ type: 'claimed'; expiresAt: number } & Fenced)
  | ({ type: 'reclaimed'; previousOwner: string; previousEpoch: number } & Fenced)
  | ({ type: 'heartbeat'; expiresAt: number; progress: number; late: boolean } & Fenced)
  | ({ type: 'expired'; staleCount: number; graceEndsAt: number } & Fenced)
  | ({ type: 'released'; reason: string | null } & Fenced)
  | ({ type: 'completed' } & Fenced)
  | ({ type: 'failed'; error: string; retryable: boolean; retryAt: number | null } & Fenced)
  | ({ type: 'stuck'; renewals: number } & Fenced)
  | ({ type: 'graceExtended'; reason: string; extendMs: number; graceEndsAt: number } & Fenced)
  | ({ type: 'recovered' } & Fenced & Recovery)
  | { type: 'compensated'; taskId: string; at: number }
  | { type: 'quarantined'; taskId: string; at: number; by: string; reason: string; owner: string | null; epoch: number }
  | ({ type: 'rejected'; taskId: string; state: string } & Rejection);

export type LifecycleEvent = Exclude<TaskEmitted, { type: 'rejected' }>;
export type LifecycleEventType = LifecycleEvent['type'];
