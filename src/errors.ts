// The typed errors every public call rejects with. Each carries a stable `code`; lease
// conflicts also carry the `reason` an owner's call bounced for.
import type { ConflictReason } from '../machines/task.types.js';

export type ErrorCode =
  | 'TASK_NOT_FOUND'
  | 'DUPLICATE_TASK'
  | 'LEASE_CONFLICT'
  | 'TERMINAL_TASK'
  | 'INVALID_INPUT'
  | 'STORE_CORRUPT'
  | 'STORE_LOCKED'
  | 'STORE_WRITE_FAILED'
  | 'SUPERVISOR_CLOSED'
  | 'INTERNAL_ERROR';

// The task machine decides why a call bounces, so it owns the reasons; re-exported here
// because LeaseConflictError carries one and the package entry exports both from this file.
export type { ConflictReason };

export class LeaseholdError extends Error {
  readonly code: ErrorCode;
  readonly taskId: string | undefined;

  constructor(code: ErrorCode, message: string, options: { taskId?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.taskId = options.taskId;
  }
}

export class TaskNotFoundError extends LeaseholdError {
  constructor(taskId: string) {
    super('TASK_NOT_FOUND', `task "${taskId}" does not exist`, { taskId });
  }
}

export class DuplicateTaskError extends LeaseholdError {
  constructor(taskId: string) {
    super('DUPLICATE_TASK', `task "${taskId}" already exists`, { taskId });
  }
}

export class LeaseConflictError extends LeaseholdError {
  readonly reason: ConflictReason;

  constructor(taskId: string, reason: ConflictReason, message: string) {
    super('LEASE_CONFLICT', `task "${taskId}": ${message} (${reason})`, { taskId });
    this.reason = reason;
  }
}

export class TerminalTaskError extends LeaseholdError {
  readonly state: string;

  constructor(taskId: string, state: string) {
    // A failed task is not terminal yet: while its compensations run, an operator may still quarantine it.
    const accepts = state === 'failed' ? 'is failed: while its compensations run it accepts only quarantine and annotations' : `is ${state} and accepts only annotations`;
    super('TERMINAL_TASK', `task "${taskId}" ${accepts}`, { taskId });
    this.state = state;
  }
}

export class InvalidInputError extends LeaseholdError {
  readonly issues: string[];
  /** For records a store refuses to write: the tasks whose records are at fault (nothing was written). */
  readonly taskIds: readonly string[] | undefined;

  constructor(what: string, issues: string[], taskIds?: readonly string[]) {
    super('INVALID_INPUT', `invalid ${what}: ${issues.join('; ')}`);
    this.issues = issues;
    this.taskIds = taskIds;
  }
}

export class StoreCorruptError extends LeaseholdError {
  readonly file: string;

  constructor(file: string, problem: string, cause?: unknown) {
    super('STORE_CORRUPT', `store file ${file} is corrupt: ${problem}; it was left untouched`, { cause });
    this.file = file;
  }
}

export class StoreLockedError extends LeaseholdError {
  readonly file: string;

  /** `waitedMs`: how long the opener waited for the lock before giving up (none: it did not wait). */
  constructor(file: string, holder?: string, waitedMs?: number) {
    const waited = waitedMs ? `; waited ${waitedMs} ms for it to be released` : '';
    super('STORE_LOCKED', `store file ${file} is locked by another supervisor${holder ? ` (${holder})` : ''}${waited}`);
    this.file = file;
  }
}

export class StoreWriteError extends LeaseholdError {
  constructor(message: string, cause?: unknown) {
    super('STORE_WRITE_FAILED', message, { cause });
  }
}

export class SupervisorClosedError extends LeaseholdError {
  constructor() {
    super('SUPERVISOR_CLOSED', 'the supervisor is closed');
  }
}

/**
 * A step of a task's machine failed (a bug in the machine or its runtime, never the caller's
 * input): the step is refused and the task stays exactly as it was.
 */
export class InternalError extends LeaseholdError {
  constructor(taskId: string, message: string, cause?: unknown) {
    super('INTERNAL_ERROR', `task "${taskId}": ${message}`, { taskId, cause });
  }
}
