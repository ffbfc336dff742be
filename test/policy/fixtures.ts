// Plain task views for policy tests: policies are pure functions of a TaskView, so the tests
// build the views directly instead of running a supervisor, and pass `now` explicitly.
import type { Lease, TaskView } from '../../src/task/view.js';

export const NOW = Date.UTC(2026, 0, 1, 12);
export const S = 1000;

export function lease(overrides: Partial<Lease> = {}): Lease {
  return {
    taskId: 't1',
    owner: 'agent-a',
    epoch: 1,
    acquiredAt: NOW - 110 * S,
    // Close to now, so the never-shortens floor (expiresAt - now + 1) stays below every
    // computed lease unless a test sets a later expiry on purpose.
    expiresAt: NOW + 10 * S,
    heartbeatAt: NOW - 110 * S,
    leaseMs: 120 * S,
    graceMs: 60 * S,
    graceExtensions: {},
    renewals: 0,
    lateHeartbeats: 0,
    graceEndsAt: null,
    recovery: null,
    ...overrides,
  };
}

export function task(overrides: Partial<TaskView> = {}): TaskView {
  return {
    id: 't1',
    state: 'leased',
    substate: 'leased',
    epoch: 1,
    attempts: 1,
    staleCount: 0,
    lease: lease(),
    progress: 0,
    message: null,
    notBefore: null,
    compensations: [],
    recovery: null,
    failure: null,
    terminal: null,
    audit: [],
    spec: null,
    priority: 'medium',
    labels: [],
    metadata: {},
    limits: {
      leaseMs: 300 * S,
      graceMs: 60 * S,
      maxAttempts: 3,
      maxStale: 3,
      maxRenewals: 10,
      retryBackoffMs: 30 * S,
      maxRetryBackoffMs: 600 * S,
      compensationAttempts: 3,
      compensationBackoffMs: 1 * S,
    },
    policy: null,
    createdAt: NOW - 3600 * S,
    ...overrides,
  };
}

/** What `fn` threw, or a failure if it did not throw. */
export function thrown(fn: () => unknown): Error & { code?: string; issues?: string[] } {
  try {
    fn();
  } catch (error) {
    return error as Error & { code?: string; issues?: string[] };
  }
  throw new Error('expected a throw');
}
