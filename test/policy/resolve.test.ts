// Policies as data: resolvePolicy turns a stored JSON config into a working LeasePolicy and
// rejects anything malformed with INVALID_INPUT.
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import { policyConfigSchema, resolvePolicy, type PolicyConfig } from '../../src/policy/index.js';
import { NOW, S, task, thrown } from './fixtures.js';

describe('resolvePolicy', () => {
  it('resolves { kind: fixed }', () => {
    const p = resolvePolicy({ kind: 'fixed' });
    expect(p.name).toBe('fixed');
    expect(p.leaseMs({ task: task({ lease: null }), now: NOW, kind: 'claim' })).toBe(300 * S);
    expect(p.extendGrace).toBeUndefined();
  });

  it('resolves a progressive config with its options, after a JSON round trip', () => {
    const config: PolicyConfig = { kind: 'progressive', priorityMultipliers: { critical: 0.25 }, minLeaseMs: 30 * S };
    const p = resolvePolicy(JSON.parse(JSON.stringify(config)));
    expect(p.name).toBe('progressive');
    expect(p.leaseMs({ task: task({ lease: null, priority: 'critical' }), now: NOW, kind: 'claim' })).toBe(45 * S);
    expect(p.leaseMs({ task: task({ progress: 75 }), now: NOW, kind: 'heartbeat' })).toBe(360 * S);
  });

  it('adds the cadence rule to either kind', () => {
    const heartbeats = [-200, -140, -80].map((s) => NOW + s * S);
    const fixed = resolvePolicy({ kind: 'fixed', cadence: { silenceMultiplier: 1.5 } });
    expect(fixed.name).toBe('fixed+cadence');
    expect(fixed.extendGrace?.({ task: task(), now: NOW, heartbeats, extensions: {} })).toEqual({ extendMs: 60 * S, reason: 'cadence' });
    const progressive = resolvePolicy({ kind: 'progressive', cadence: { maxExtensions: 1 } });
    expect(progressive.extendGrace?.({ task: task(), now: NOW, heartbeats, extensions: { cadence: 1 } })).toBeNull();
  });

  const bad: [string, unknown][] = [
    ['no config', undefined],
    ['null', null],
    ['a string', 'progressive'],
    ['a missing kind', { minLeaseMs: 1 }],
    ['an unknown kind', { kind: 'adaptive' }],
    ['progressive options on fixed', { kind: 'fixed', minLeaseMs: 1 }],
    ['an unknown progressive key', { kind: 'progressive', leaseMs: 1 }],
    ['min > max', { kind: 'progressive', minLeaseMs: 10 * S, maxLeaseMs: 5 * S }],
    ['a bad cadence', { kind: 'progressive', cadence: { silenceMultiplier: 1.5, expectedHeartbeatMs: 60 * S } }],
    ['an unknown cadence key', { kind: 'fixed', cadence: { multiplier: 2 } }],
  ];
  it.each(bad)('rejects %s with INVALID_INPUT', (_what, config) => {
    const error = thrown(() => resolvePolicy(config));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.code).toBe('INVALID_INPUT');
    expect(policyConfigSchema.safeParse(config).success).toBe(false);
  });

  it('names nested problems by path', () => {
    const error = thrown(() => resolvePolicy({ kind: 'progressive', cadence: { maxExtensions: -1 }, labelMultipliers: { epic: 0 } }));
    expect(error.message).toMatch(/cadence\.maxExtensions/);
    expect(error.message).toMatch(/labelMultipliers\.epic/);
  });
});
