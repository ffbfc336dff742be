// The fixed (default) lease policy: every lease and grace period comes straight from the
// task's resolved limits, exactly the core lifecycle's behaviour without a policy.
import type { LeasePolicy } from './types.js';

/**
 * A claim gets `task.limits.leaseMs`; a heartbeat renews by the current lease's own
 * `leaseMs` (so a caller-chosen duration at claim time sticks for the whole lease); grace is
 * `task.limits.graceMs`. No grace extensions: add them with `withCadence`.
 */
export function fixedPolicy(): LeasePolicy {
  return {
    name: 'fixed',
    leaseMs({ task, kind }) {
      // A heartbeat always has a lease to renew; the fallback only guards a caller asking
      // about a task that has none, which must still get a sane duration.
      if (kind === 'heartbeat' && task.lease) return task.lease.leaseMs;
      return task.limits.leaseMs;
    },
    graceMs({ task }) {
      return task.limits.graceMs;
    },
  };
}
