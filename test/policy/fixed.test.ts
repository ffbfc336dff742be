import { describe, expect, it } from 'vitest';
import { fixedPolicy } from '../../src/policy/index.js';
import { lease, NOW, S, task } from './fixtures.js';

describe('fixedPolicy', () => {
  const policy = fixedPolicy();

  it('gives a claim the task limit and grace the task limit', () => {
    const t = task({ lease: null, state: 'planned', substate: 'planned.ready' });
    expect(policy.name).toBe('fixed');
    expect(policy.leaseMs({ task: t, now: NOW, kind: 'claim' })).toBe(300 * S);
    expect(policy.graceMs({ task: t, now: NOW })).toBe(60 * S);
  });

  it("renews a heartbeat by the current lease's own leaseMs, not the task limit", () => {
    const t = task({ lease: lease({ leaseMs: 45 * S }), progress: 90 });
    expect(policy.leaseMs({ task: t, now: NOW, kind: 'heartbeat', progress: 95 })).toBe(45 * S);
  });

  it('falls back to the task limit for a heartbeat with no lease', () => {
    expect(policy.leaseMs({ task: task({ lease: null }), now: NOW, kind: 'heartbeat' })).toBe(300 * S);
  });

  it('never extends grace', () => {
    expect(policy.extendGrace).toBeUndefined();
  });
});
