// Errors over HTTP: every code has one status, and the body the server sends rebuilds the
// same class with the same code, reason, message and issues (what leasehold/client throws).
import { describe, expect, it } from 'vitest';
import {
  AgentNotFoundError,
  DuplicateAgentError,
  DuplicateTaskError,
  errorBody,
  errorFromBody,
  ForbiddenError,
  httpStatusOf,
  InternalError,
  InvalidInputError,
  LeaseConflictError,
  LeaseholdError,
  NotFoundError,
  PayloadTooLargeError,
  StoreCorruptError,
  StoreLockedError,
  StoreWriteError,
  SupervisorClosedError,
  TaskNotFoundError,
  TerminalTaskError,
  UnauthorizedError,
  type ErrorCode,
} from '../../src/index.js';

const samples: [LeaseholdError, number][] = [
  [new InvalidInputError('heartbeat input', ['epoch: expected number', 'extra: unrecognized key']), 400],
  [new UnauthorizedError(), 401],
  [new ForbiddenError('this token acts for agent "a" only'), 403],
  [new TaskNotFoundError('t1'), 404],
  [new NotFoundError('no route GET /v1/nope'), 404],
  [new AgentNotFoundError('a'), 404],
  [new DuplicateTaskError('t1'), 409],
  [new LeaseConflictError('t1', 'stale_epoch', "the epoch is not the current lease's epoch"), 409],
  [new TerminalTaskError('t1', 'completed'), 409],
  [new DuplicateAgentError('a', 'agent'), 409],
  [new PayloadTooLargeError('the body is larger than 1048576 bytes'), 413],
  [new StoreCorruptError('/s.json', 'bad JSON'), 500],
  [new InternalError('t1', 'a step failed'), 500],
  [new StoreWriteError('ENOSPC'), 503],
  [new SupervisorClosedError(), 503],
  [new StoreLockedError('/s.json'), 503],
];

describe('errors over HTTP', () => {
  it('covers every error code', () => {
    const codes = new Set<ErrorCode>(samples.map(([error]) => error.code));
    expect(codes.size).toBe(16);
  });

  it.each(samples.map(([error, status]) => [error.code, error, status] as const))('%s: status and round trip through a JSON body', (_, error, status) => {
    expect(httpStatusOf(error)).toBe(status);
    const wire = JSON.parse(JSON.stringify({ error: errorBody(error) })) as unknown;
    const back = errorFromBody(status, wire);
    expect(back).toBeInstanceOf(LeaseholdError);
    expect(back.constructor).toBe(error.code === 'INTERNAL_ERROR' ? LeaseholdError : error.constructor);
    expect(back.code).toBe(error.code);
    expect(back.message).toBe(error.message);
    expect(back.name).toBe(error.code === 'INTERNAL_ERROR' ? 'LeaseholdError' : error.name);
    expect(errorBody(back)).toEqual(errorBody(error));
  });

  it('keeps the reason of a lease conflict and the issues of an invalid input', () => {
    const conflict = errorFromBody(409, { error: { code: 'LEASE_CONFLICT', reason: 'not_owner', message: 'm' } });
    expect(conflict).toBeInstanceOf(LeaseConflictError);
    expect((conflict as LeaseConflictError).reason).toBe('not_owner');
    const invalid = errorFromBody(400, { error: { code: 'INVALID_INPUT', message: 'm', issues: ['a: b'] } });
    expect((invalid as InvalidInputError).issues).toEqual(['a: b']);
    expect((errorFromBody(409, { error: { code: 'TERMINAL_TASK', message: 'task "t" is completed and accepts only annotations' } }) as TerminalTaskError).state).toBe('completed');
  });

  it('answers a body that is not an error body by its status', () => {
    expect(errorFromBody(401, 'nope').code).toBe('UNAUTHORIZED');
    expect(errorFromBody(413, null).code).toBe('PAYLOAD_TOO_LARGE');
    expect(errorFromBody(404, { error: { code: 'SOMETHING_NEW', message: 'x' } }).code).toBe('NOT_FOUND');
    const other = errorFromBody(502, '<html>bad gateway</html>');
    expect(other.code).toBe('INTERNAL_ERROR');
    expect(other.message).toContain('502');
  });
});
