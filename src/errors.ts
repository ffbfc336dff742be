// The typed errors every public call rejects with. Each carries a stable `code`; lease
// conflicts also carry the `reason` an owner's call bounced for. Also owns how an error
// travels over HTTP: its body `{ error: { code, reason?, message, issues? } }`, its status,
// and the error rebuilt from a body (the same class, code and reason on the client's side).
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
  | 'NOT_LEADER'
  | 'INTERNAL_ERROR'
  // The service's (leasehold/server and leasehold/client): HTTP calls refused before they reach the supervisor.
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'AGENT_NOT_FOUND'
  | 'DUPLICATE_AGENT'
  | 'PAYLOAD_TOO_LARGE'
  // The client's (leasehold/client): no answer from any server (refused, reset, timed out).
  | 'UNAVAILABLE';

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

/** A store named by a URL (a database) is not a file: messages say "store" for it. */
const storeNoun = (location: string) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(location) ? 'store' : 'store file');

export class StoreCorruptError extends LeaseholdError {
  readonly file: string;

  constructor(file: string, problem: string, cause?: unknown) {
    super('STORE_CORRUPT', `${storeNoun(file)} ${file} is corrupt: ${problem}; it was left untouched`, { cause });
    this.file = file;
  }
}

export class StoreLockedError extends LeaseholdError {
  readonly file: string;

  /** `waitedMs`: how long the opener waited for the lock before giving up (none: it did not wait). */
  constructor(file: string, holder?: string, waitedMs?: number) {
    const waited = waitedMs ? `; waited ${waitedMs} ms for it to be released` : '';
    super('STORE_LOCKED', `${storeNoun(file)} ${file} is locked by another supervisor${holder ? ` (${holder})` : ''}${waited}`);
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
 * A standby supervisor (createSupervisor with `standby: true`, still waiting to take its store
 * over) refuses every call: `leader` is the URL the store's current owner advertises, when it
 * does. Over HTTP a standby daemon answers 503 with it in the body and the Location header.
 */
export class NotLeaderError extends LeaseholdError {
  readonly leader: string | undefined;

  constructor(leader?: string, message?: string) {
    super('NOT_LEADER', message ?? `this supervisor is a standby: it serves nothing until it takes the store over${leader ? `; the leader is ${leader}` : ''}`);
    this.leader = leader;
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

/** No token, or one the server does not know (never issued, or revoked). The token is never echoed. */
export class UnauthorizedError extends LeaseholdError {
  constructor(message = 'a valid bearer token is required (Authorization: Bearer TOKEN)') {
    super('UNAUTHORIZED', message);
  }
}

/** A known token calling what its role or owner may not: another owner's lease, a write as a viewer, an admin route. */
export class ForbiddenError extends LeaseholdError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

/** No such route. */
export class NotFoundError extends LeaseholdError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

export class AgentNotFoundError extends LeaseholdError {
  readonly owner: string | undefined;

  constructor(owner: string | undefined, message = `no live token for agent "${owner}"`) {
    super('AGENT_NOT_FOUND', message);
    this.owner = owner;
  }
}

export class DuplicateAgentError extends LeaseholdError {
  readonly owner: string | undefined;

  constructor(owner: string | undefined, role: string, message = `agent "${owner}" already has a live ${role} token; revoke it first`) {
    super('DUPLICATE_AGENT', message);
    this.owner = owner;
  }
}

export class PayloadTooLargeError extends LeaseholdError {
  constructor(message: string) {
    super('PAYLOAD_TOO_LARGE', message);
  }
}

/**
 * The client got no answer it could use: every server refused the connection, a connection
 * broke, or the call timed out. Never sent by a server. A write that meets it may have landed
 * (the message says when it surely did not): look before repeating it.
 */
export class UnavailableError extends LeaseholdError {
  constructor(message: string, cause?: unknown) {
    super('UNAVAILABLE', message, { cause });
  }
}

/** An error as it travels over HTTP (and as the CLI prints it with --json): inside `{ error }`. */
export interface ErrorBody {
  code: ErrorCode;
  reason?: ConflictReason;
  message: string;
  issues?: string[];
  /** NOT_LEADER: the leader's advertised URL, when known. */
  leader?: string;
}

export function errorBody(error: LeaseholdError): ErrorBody {
  return {
    code: error.code,
    ...(error instanceof LeaseConflictError && { reason: error.reason }),
    message: error.message,
    ...(error instanceof InvalidInputError && { issues: error.issues }),
    ...(error instanceof NotLeaderError && error.leader !== undefined && { leader: error.leader }),
  };
}

const STATUS: Record<ErrorCode, number> = {
  INVALID_INPUT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  TASK_NOT_FOUND: 404,
  NOT_FOUND: 404,
  AGENT_NOT_FOUND: 404,
  DUPLICATE_TASK: 409,
  LEASE_CONFLICT: 409,
  TERMINAL_TASK: 409,
  DUPLICATE_AGENT: 409,
  PAYLOAD_TOO_LARGE: 413,
  STORE_CORRUPT: 500,
  INTERNAL_ERROR: 500,
  STORE_WRITE_FAILED: 503,
  SUPERVISOR_CLOSED: 503,
  NOT_LEADER: 503,
  STORE_LOCKED: 503,
  UNAVAILABLE: 503,
};

/** The HTTP status the service answers `error` with. */
export function httpStatusOf(error: LeaseholdError): number {
  return STATUS[error.code] ?? 500;
}

/** What a body that is not an error body stands for, by its status alone. */
const CODE_OF_STATUS: Record<number, ErrorCode> = { 400: 'INVALID_INPUT', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 413: 'PAYLOAD_TOO_LARGE' };

/** Each code's class, built from a body (the taskId or owner is not in a body: undefined). */
const REBUILD: Record<ErrorCode, (body: ErrorBody) => LeaseholdError> = {
  TASK_NOT_FOUND: () => new TaskNotFoundError(''),
  DUPLICATE_TASK: () => new DuplicateTaskError(''),
  LEASE_CONFLICT: (body) => new LeaseConflictError('', body.reason ?? 'held', ''),
  TERMINAL_TASK: (body) => new TerminalTaskError('', /\bis (\w+)/.exec(body.message)?.[1] ?? ''),
  INVALID_INPUT: (body) => new InvalidInputError('input', body.issues ?? []),
  STORE_CORRUPT: () => new StoreCorruptError('', ''),
  STORE_LOCKED: () => new StoreLockedError(''),
  STORE_WRITE_FAILED: (body) => new StoreWriteError(body.message),
  SUPERVISOR_CLOSED: () => new SupervisorClosedError(),
  NOT_LEADER: (body) => new NotLeaderError(body.leader),
  INTERNAL_ERROR: () => new LeaseholdError('INTERNAL_ERROR', ''),
  UNAUTHORIZED: () => new UnauthorizedError(),
  FORBIDDEN: (body) => new ForbiddenError(body.message),
  NOT_FOUND: (body) => new NotFoundError(body.message),
  AGENT_NOT_FOUND: () => new AgentNotFoundError(undefined),
  DUPLICATE_AGENT: () => new DuplicateAgentError(undefined, 'agent'),
  PAYLOAD_TOO_LARGE: (body) => new PayloadTooLargeError(body.message),
  UNAVAILABLE: (body) => new UnavailableError(body.message),
};

const REASONS = new Set<string>(['held', 'in_grace', 'not_owner', 'stale_epoch', 'expired', 'no_lease', 'not_extending', 'backoff']);

/**
 * The error an HTTP answer carries, rebuilt as the class the server threw (same code, reason,
 * message and issues). A body that is not an error body gets the code its status stands for
 * (INTERNAL_ERROR for any other), with a message naming the status.
 */
export function errorFromBody(status: number, body: unknown): LeaseholdError {
  const sent = (body as { error?: unknown } | null)?.error as Partial<Record<keyof ErrorBody, unknown>> | undefined;
  const known = sent !== null && typeof sent === 'object' && typeof sent.code === 'string' && sent.code in REBUILD && typeof sent.message === 'string';
  const parsed: ErrorBody = known
    ? {
        code: sent.code as ErrorCode,
        message: sent.message as string,
        ...(typeof sent.reason === 'string' && REASONS.has(sent.reason) && { reason: sent.reason as ConflictReason }),
        ...(Array.isArray(sent.issues) && { issues: sent.issues.map(String) }),
        ...(typeof sent.leader === 'string' && { leader: sent.leader }),
      }
    : { code: CODE_OF_STATUS[status] ?? 'INTERNAL_ERROR', message: `the server answered HTTP ${status} without an error body` };
  const error = REBUILD[parsed.code](parsed);
  error.message = parsed.message;
  return error;
}
