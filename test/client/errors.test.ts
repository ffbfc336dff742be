// Refusals through the client: each arrives as the library's LeaseholdError subclass with the
// same code and reason (rebuilt by errors.ts errorFromBody), and a refused call changes nothing.
import { describe, expect, it } from 'vitest';
import {
  DuplicateTaskError,
  ForbiddenError,
  InvalidInputError,
  LeaseConflictError,
  LeaseholdError,
  TaskNotFoundError,
  TerminalTaskError,
  UnauthorizedError,
  UnavailableError,
  errorFromBody,
  errorBody,
  httpStatusOf,
} from '../../src/index.js';
import { rejection } from '../support.js';
import { connected, withClients } from './support.js';

describe('leasehold/client errors', () => {
  it('LEASE_CONFLICT with each reason the library gives: held, stale_epoch, not_extending, no_lease', async () => {
    const f = await withClients();
    await f.admin.create({ id: 't' });
    const alice = await f.agent('alice');
    const bob = await f.agent('bob');
    const lease = await alice.claim('t');

    const held = await rejection(bob.claim('t'));
    expect(held).toBeInstanceOf(LeaseConflictError);
    expect([held.code, held.reason]).toEqual(['LEASE_CONFLICT', 'held']);

    const before = f.bytes();
    const stale = await rejection(alice.heartbeat('t', { epoch: lease.epoch + 1 }));
    expect(stale).toBeInstanceOf(LeaseConflictError);
    expect(stale.reason).toBe('stale_epoch');
    const notExtending = await rejection(alice.heartbeat('t', { epoch: lease.epoch }));
    expect(notExtending.reason).toBe('not_extending');
    expect(f.bytes()).toBe(before);

    await f.admin.create({ id: 'free' });
    const noLease = await rejection(alice.complete('free', { epoch: 1 }));
    expect(noLease).toBeInstanceOf(LeaseConflictError);
    expect(noLease.reason).toBe('no_lease');
  });

  it('LEASE_CONFLICT not_owner: the admin acting for another owner than the holder', async () => {
    const f = await withClients();
    await f.admin.create({ id: 't' });
    const lease = await (await f.agent('alice')).claim('t');
    const error = await rejection(f.admin.complete('t', { owner: 'mallory', epoch: lease.epoch }));
    expect(error).toBeInstanceOf(LeaseConflictError);
    expect(error.reason).toBe('not_owner');
  });

  it('TASK_NOT_FOUND, DUPLICATE_TASK, TERMINAL_TASK', async () => {
    const f = await withClients();
    const alice = await f.agent('alice');
    const missing = await rejection(alice.claim('nope'));
    expect(missing).toBeInstanceOf(TaskNotFoundError);
    expect(missing.code).toBe('TASK_NOT_FOUND');

    await f.admin.create({ id: 't' });
    const duplicate = await rejection(f.admin.create({ id: 't' }));
    expect(duplicate).toBeInstanceOf(DuplicateTaskError);

    const lease = await alice.claim('t');
    await alice.complete('t', lease);
    const terminal = await rejection(alice.claim('t'));
    expect(terminal).toBeInstanceOf(TerminalTaskError);
    expect(terminal.code).toBe('TERMINAL_TASK');
    expect((terminal as unknown as TerminalTaskError).state).toBe('completed');
  });

  it('INVALID_INPUT carries the issues', async () => {
    const f = await withClients();
    await f.admin.create({ id: 't' });
    const alice = await f.agent('alice');
    const error = await rejection(alice.heartbeat('t', { epoch: 0, progress: 150 }));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.code).toBe('INVALID_INPUT');
    const issues = (error as unknown as InvalidInputError).issues;
    expect(issues.some((issue) => issue.startsWith('epoch'))).toBe(true);
    expect(issues.some((issue) => issue.startsWith('progress'))).toBe(true);
    // Unknown fields too (the bodies are strict), as the library refuses them.
    const unknown = await rejection(alice.claim('t', { leaseMs: 1_000, colour: 'red' } as never));
    expect(unknown).toBeInstanceOf(InvalidInputError);
  });

  it('401 for an unknown token, 403 for another owner, an admin route or a viewer write', async () => {
    const f = await withClients();
    await f.admin.create({ id: 't' });
    const stranger = connected({ url: f.url, token: 'not-a-token' });
    const unauthorized = await rejection(stranger.list());
    expect(unauthorized).toBeInstanceOf(UnauthorizedError);
    expect(unauthorized.code).toBe('UNAUTHORIZED');
    expect(unauthorized.message).not.toContain('not-a-token');

    const alice = await f.agent('alice');
    const before = f.bytes();
    const asBob = await rejection(alice.claim('t', { owner: 'bob' }));
    expect(asBob).toBeInstanceOf(ForbiddenError);
    expect(asBob.code).toBe('FORBIDDEN');
    expect(f.bytes()).toBe(before);
    expect((await rejection(alice.touch('bob'))).code).toBe('FORBIDDEN');
    expect((await rejection(alice.create({ id: 'u' }))).code).toBe('FORBIDDEN');

    const viewer = connected({ url: f.url, token: await f.mint('watcher', 'viewer') });
    expect((await viewer.list()).map((t) => t.id)).toEqual(['t']);
    expect(await rejection(viewer.claim('t'))).toBeInstanceOf(ForbiddenError);
  });

  it('the admin token without an owner on an owner call is INVALID_INPUT; every error is a LeaseholdError', async () => {
    const f = await withClients();
    await f.admin.create({ id: 't' });
    const error = await rejection(f.admin.claim('t'));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toBeInstanceOf(LeaseholdError);
    expect((error as unknown as InvalidInputError).issues).toEqual(['owner: required with the admin token']);
  });

  it('UNAVAILABLE (the client\'s own) has a status and survives a body like the others', () => {
    const error = new UnavailableError('GET /v1/stats: no answer within 10 ms');
    expect(httpStatusOf(error)).toBe(503);
    const back = errorFromBody(503, JSON.parse(JSON.stringify({ error: errorBody(error) })));
    expect(back).toBeInstanceOf(UnavailableError);
    expect([back.code, back.message]).toEqual(['UNAVAILABLE', error.message]);
  });
});
