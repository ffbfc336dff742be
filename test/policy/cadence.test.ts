// The cadence rule at grace end: the scenarios exactly, the threshold boundary, the
// per-lease cap, composition with a policy, and construction-time validation.
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import {
  cadenceRule,
  fixedPolicy,
  medianInterval,
  progressivePolicy,
  withCadence,
  type CadenceOptions,
  type GraceInput,
  type LeasePolicy,
} from '../../src/policy/index.js';
import { NOW, S, task, thrown } from './fixtures.js';

/** A grace-end question with heartbeats given in seconds relative to now. */
function grace(secondsAgo: number[], extensions: Record<string, number> = {}, overrides: Partial<GraceInput> = {}): GraceInput {
  return {
    task: task({ state: 'stale', substate: 'stale.grace' }),
    now: NOW,
    heartbeats: secondsAgo.map((s) => NOW + s * S),
    extensions,
    ...overrides,
  };
}

describe('cadenceRule: the issue scenarios', () => {
  const rule = cadenceRule({ silenceMultiplier: 1.5 });

  it('expires at −280/−220/−160/−100 s with multiplier 1.5 (silence 100 s > 60 s × 1.5)', () => {
    expect(rule(grace([-280, -220, -160, -100]))).toBeNull();
  });

  it('extends at −200/−140/−80 s with multiplier 1.5 (silence 80 s ≤ 90 s)', () => {
    expect(rule(grace([-200, -140, -80]))).toEqual({ extendMs: 60 * S, reason: 'cadence' });
  });

  it('expires with one heartbeat, or none: no cadence', () => {
    expect(rule(grace([-10]))).toBeNull();
    expect(rule(grace([]))).toBeNull();
  });
});

describe('cadenceRule decisions', () => {
  it('treats silence exactly at the threshold as within it', () => {
    const rule = cadenceRule({ silenceMultiplier: 1.5 });
    expect(rule(grace([-150, -90]))).not.toBeNull();
    expect(rule({ ...grace([-150, -90]), now: NOW + 1 })).toBeNull();
  });

  it('defaults to a multiplier of 5', () => {
    expect(cadenceRule()(grace([-280, -220, -160, -100]))).not.toBeNull();
    expect(cadenceRule()(grace([-420, -360, -301]))).toBeNull();
  });

  it('uses the median interval, so one long gap does not stretch the threshold', () => {
    // Gaps 600, 60, 60: the mean would be 240 s, the median is 60 s → threshold 90 s.
    const rule = cadenceRule({ silenceMultiplier: 1.5 });
    expect(rule(grace([-820, -220, -160, -100]))).toBeNull();
    expect(rule(grace([-820, -220, -160, -90]))).not.toBeNull();
  });

  it('grants at most maxExtensions (default 2) per lease, counting only cadence extensions', () => {
    const rule = cadenceRule({ silenceMultiplier: 1.5 });
    expect(rule(grace([-200, -140, -80], { cadence: 1 }))).not.toBeNull();
    expect(rule(grace([-200, -140, -80], { cadence: 2 }))).toBeNull();
    expect(rule(grace([-200, -140, -80], { 'merge-conflict': 5 }))).not.toBeNull();
    const once = cadenceRule({ silenceMultiplier: 1.5, maxExtensions: 1 });
    expect(once(grace([-200, -140, -80], { cadence: 1 }))).toBeNull();
    const never = cadenceRule({ silenceMultiplier: 1.5, maxExtensions: 0 });
    expect(never(grace([-200, -140, -80]))).toBeNull();
  });

  it('extends by extendMs when given, else by the task grace; no grace and no extendMs → null', () => {
    expect(cadenceRule({ extendMs: 45 * S })(grace([-200, -140, -80]))).toEqual({ extendMs: 45 * S, reason: 'cadence' });
    const noGrace = task({ limits: { ...task().limits, graceMs: 0 } });
    expect(cadenceRule()(grace([-200, -140, -80], {}, { task: noGrace }))).toBeNull();
  });

  it('applies minSilenceMs as a floor of the threshold', () => {
    const rule = cadenceRule({ silenceMultiplier: 1.5, minSilenceMs: 120 * S });
    expect(rule(grace([-280, -220, -160, -100]))).not.toBeNull();
    expect(rule(grace([-281, -221, -161, -121]))).toBeNull();
  });

  it('computes the median of the gaps (odd and even counts, unsorted input)', () => {
    expect(medianInterval([])).toBeNull();
    expect(medianInterval([5])).toBeNull();
    expect(medianInterval([0, 10])).toBe(10);
    expect(medianInterval([0, 10, 70, 130])).toBe(60);
    expect(medianInterval([0, 10, 60, 130, 230])).toBe(60);
    expect(medianInterval([130, 0, 70, 10])).toBe(60);
  });
});

describe('withCadence', () => {
  it('keeps the policy’s durations and extends by the policy’s grace for the task', () => {
    const p = withCadence(progressivePolicy(), { silenceMultiplier: 1.5 });
    expect(p.name).toBe('progressive+cadence');
    const tail = task({ progress: 80 });
    expect(p.leaseMs({ task: tail, now: NOW, kind: 'heartbeat' })).toBe(360 * S);
    expect(p.graceMs({ task: tail, now: NOW })).toBe(90 * S);
    expect(p.extendGrace?.(grace([-200, -140, -80], {}, { task: tail }))).toEqual({ extendMs: 90 * S, reason: 'cadence' });
    expect(p.extendGrace?.(grace([-280, -220, -160, -100], {}, { task: tail }))).toBeNull();
  });

  it('asks the policy’s own extendGrace first and the cadence rule when it declines', () => {
    let answer: { extendMs: number; reason: string } | null = { extendMs: 1 * S, reason: 'own' };
    const own: LeasePolicy = { ...fixedPolicy(), name: 'own', extendGrace: () => answer };
    const p = withCadence(own, { silenceMultiplier: 1.5 });
    expect(p.extendGrace?.(grace([-200, -140, -80]))).toEqual({ extendMs: 1 * S, reason: 'own' });
    answer = null;
    expect(p.extendGrace?.(grace([-200, -140, -80]))).toEqual({ extendMs: 60 * S, reason: 'cadence' });
  });
});

describe('cadence construction validation', () => {
  it('rejects a silence threshold under 2 × the expected heartbeat cadence', () => {
    const error = thrown(() => cadenceRule({ silenceMultiplier: 1.5, expectedHeartbeatMs: 60 * S }));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toMatch(/2 × the cadence/);
    expect(() => withCadence(fixedPolicy(), { silenceMultiplier: 1.99, expectedHeartbeatMs: 30 * S })).toThrow(InvalidInputError);
    expect(() => cadenceRule({ silenceMultiplier: 1.5, minSilenceMs: 119_999, expectedHeartbeatMs: 60 * S })).toThrow(InvalidInputError);
  });

  it('accepts a threshold of exactly 2 × the cadence, by multiplier or by floor', () => {
    expect(() => cadenceRule({ silenceMultiplier: 2, expectedHeartbeatMs: 60 * S })).not.toThrow();
    expect(() => cadenceRule({ silenceMultiplier: 1.5, minSilenceMs: 120 * S, expectedHeartbeatMs: 60 * S })).not.toThrow();
    expect(() => cadenceRule({ expectedHeartbeatMs: 60 * S })).not.toThrow();
  });

  const bad: [string, unknown][] = [
    ['a multiplier below 1', { silenceMultiplier: 0.5 }],
    ['a zero multiplier', { silenceMultiplier: 0 }],
    ['a non-finite multiplier', { silenceMultiplier: Number.POSITIVE_INFINITY }],
    ['negative maxExtensions', { maxExtensions: -1 }],
    ['fractional maxExtensions', { maxExtensions: 1.5 }],
    ['a zero extendMs', { extendMs: 0 }],
    ['a negative minSilenceMs', { minSilenceMs: -1 }],
    ['a NaN expected cadence', { expectedHeartbeatMs: Number.NaN }],
    ['an unknown key', { silenceMultipler: 5 }],
  ];
  it.each(bad)('rejects %s', (_what, options) => {
    expect(() => cadenceRule(options as CadenceOptions)).toThrow(InvalidInputError);
    expect(() => withCadence(fixedPolicy(), options as CadenceOptions)).toThrow(InvalidInputError);
  });
});
