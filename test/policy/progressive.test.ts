// The progressive policy's timing decisions: every phase boundary, each multiplier, decay,
// bounds, the never-shortens rule and option validation. `now` is always passed explicitly.
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import { progressivePolicy, type ProgressiveOptions } from '../../src/policy/index.js';
import type { TaskView } from '../../src/task/view.js';
import { lease, NOW, S, task, thrown } from './fixtures.js';

const policy = progressivePolicy();
const claim = (t: TaskView) => policy.leaseMs({ task: t, now: NOW, kind: 'claim' });
const heartbeat = (t: TaskView, progress?: number) =>
  policy.leaseMs({ task: t, now: NOW, kind: 'heartbeat', ...(progress === undefined ? {} : { progress }) });
const unclaimed = (overrides: Partial<TaskView> = {}) => task({ lease: null, state: 'planned', substate: 'planned.ready', ...overrides });

describe('progressivePolicy phases', () => {
  it('gives a claim with no report yet 180 s + 60 s', () => {
    expect(policy.name).toBe('progressive');
    expect(claim(unclaimed())).toBe(180 * S);
    expect(policy.graceMs({ task: unclaimed(), now: NOW, kind: 'claim' })).toBe(60 * S);
  });

  it('treats the first heartbeat, even without progress, as the first report: 240 s', () => {
    expect(heartbeat(task({ lease: lease({ renewals: 0 }) }))).toBe(240 * S);
    expect(heartbeat(task(), 0)).toBe(240 * S);
  });

  it("counts a claim as reported only by the task's progress, not the previous holder's renewals", () => {
    const previous = lease({ owner: 'agent-old', renewals: 7, expiresAt: NOW - 120 * S });
    expect(claim(task({ state: 'stale', substate: 'stale.expired', lease: previous }))).toBe(180 * S);
    expect(claim(task({ state: 'stale', substate: 'stale.expired', lease: previous, progress: 10 }))).toBe(240 * S);
  });

  it.each([
    [1, 240],
    [24, 240],
    [25, 300],
    [74, 300],
    [75, 360],
    [100, 360],
  ])('progress %i → %i s (claim and heartbeat)', (progress, seconds) => {
    expect(claim(unclaimed({ progress }))).toBe(seconds * S);
    expect(heartbeat(task({ progress }))).toBe(seconds * S);
  });

  it('takes the grace from the phase: 60 s until 75 %, then 90 s', () => {
    expect(policy.graceMs({ task: task({ progress: 74 }), now: NOW })).toBe(60 * S);
    expect(policy.graceMs({ task: task({ progress: 75 }), now: NOW })).toBe(90 * S);
  });

  it("uses the higher of the task's progress and this heartbeat's, for lease and grace alike", () => {
    const t = task({ progress: 20 });
    expect(heartbeat(t, 25)).toBe(300 * S);
    expect(heartbeat(t, 75)).toBe(360 * S);
    expect(policy.graceMs({ task: t, now: NOW, kind: 'heartbeat', progress: 75 })).toBe(90 * S);
    // A lower report never lowers the phase: the task's maximum stands.
    expect(heartbeat(task({ progress: 80 }), 10)).toBe(360 * S);
  });

  it('judges grace without a call from the current lease: renewals > 0 count as a report', () => {
    const p = progressivePolicy({ noReport: { graceMs: 30 * S } });
    expect(p.graceMs({ task: task({ lease: lease({ renewals: 0 }) }), now: NOW })).toBe(30 * S);
    expect(p.graceMs({ task: task({ lease: lease({ renewals: 1 }) }), now: NOW })).toBe(60 * S);
    // On a claim, the previous holder's renewals do not count.
    expect(p.graceMs({ task: task({ lease: lease({ renewals: 4 }) }), now: NOW, kind: 'claim' })).toBe(30 * S);
    expect(p.graceMs({ task: task(), now: NOW, kind: 'heartbeat' })).toBe(60 * S);
  });

  it('accepts custom phases: partial phase timings keep the defaults, steps replace the default steps', () => {
    const p = progressivePolicy({
      noReport: { leaseMs: 100 * S },
      steps: [{ atProgress: 50, leaseMs: 400 * S, graceMs: 120 * S }],
    });
    expect(p.leaseMs({ task: unclaimed(), now: NOW, kind: 'claim' })).toBe(100 * S);
    expect(p.graceMs({ task: unclaimed(), now: NOW, kind: 'claim' })).toBe(60 * S);
    expect(p.leaseMs({ task: unclaimed({ progress: 30 }), now: NOW, kind: 'claim' })).toBe(240 * S);
    expect(p.leaseMs({ task: unclaimed({ progress: 49 }), now: NOW, kind: 'claim' })).toBe(240 * S);
    expect(p.leaseMs({ task: unclaimed({ progress: 50 }), now: NOW, kind: 'claim' })).toBe(400 * S);
    expect(p.graceMs({ task: unclaimed({ progress: 99 }), now: NOW })).toBe(120 * S);
  });
});

describe('progressivePolicy multipliers', () => {
  it.each([
    ['critical', 90],
    ['high', 135],
    ['medium', 180],
    ['low', 270],
  ] as const)('priority %s scales the lease to %i s', (priority, seconds) => {
    expect(claim(unclaimed({ priority }))).toBe(seconds * S);
  });

  it.each([
    ['simple', 120],
    ['complex', 360],
    ['research', 480],
    ['epic', 720],
  ])('label %s scales the lease to %i s', (label, seconds) => {
    // First-report phase (240 s), so that the 0.5 of "simple" stays above the 60 s floor.
    expect(heartbeat(task({ labels: [label] }))).toBe(seconds * S);
  });

  it("applies the first label that has a multiplier, in the task's label order", () => {
    expect(claim(unclaimed({ labels: ['frontend', 'research', 'simple'] }))).toBe(360 * S);
    expect(claim(unclaimed({ labels: ['simple', 'research'] }))).toBe(90 * S);
    expect(claim(unclaimed({ labels: ['frontend', 'Epic'] }))).toBe(180 * S);
  });

  it('multiplies priority and label together', () => {
    expect(claim(unclaimed({ priority: 'critical', labels: ['epic'] }))).toBe(270 * S);
    expect(claim(unclaimed({ priority: 'low', labels: ['complex'] }))).toBe(405 * S);
  });

  it('merges custom multipliers over the defaults (1 neutralises a default)', () => {
    const p = progressivePolicy({ priorityMultipliers: { low: 2 }, labelMultipliers: { docs: 0.75, simple: 1 } });
    const at = (t: TaskView) => p.leaseMs({ task: t, now: NOW, kind: 'claim' });
    expect(at(unclaimed({ priority: 'low' }))).toBe(360 * S);
    expect(at(unclaimed({ priority: 'high' }))).toBe(135 * S);
    expect(at(unclaimed({ labels: ['docs', 'epic'] }))).toBe(135 * S);
    expect(at(unclaimed({ labels: ['simple', 'epic'] }))).toBe(180 * S);
    expect(at(unclaimed({ labels: ['epic'] }))).toBe(540 * S);
    expect(at(unclaimed({ labels: ['constructor', 'toString'] }))).toBe(180 * S);
  });

  it('does not scale the grace', () => {
    expect(policy.graceMs({ task: task({ priority: 'low', labels: ['epic'], progress: 80 }), now: NOW })).toBe(90 * S);
  });
});

describe('progressivePolicy decay and bounds', () => {
  it('decays each renewal by (1 − decay)^n, n being the renewed lease’s renewal count', () => {
    const p = progressivePolicy({ decayPerRenewal: 0.1 });
    const renew = (renewals: number) => p.leaseMs({ task: task({ lease: lease({ renewals }) }), now: NOW, kind: 'heartbeat' });
    expect(p.leaseMs({ task: unclaimed(), now: NOW, kind: 'claim' })).toBe(180 * S);
    expect(renew(0)).toBe(216 * S);
    expect(renew(2)).toBe(Math.round(240 * S * 0.9 ** 3));
    expect(renew(100)).toBe(60 * S);
  });

  it('has no decay by default', () => {
    expect(heartbeat(task({ lease: lease({ renewals: 50 }) }))).toBe(240 * S);
  });

  it('clamps to the minimum (60 s) and maximum (2 h) last', () => {
    expect(claim(unclaimed({ priority: 'critical', labels: ['simple'] }))).toBe(60 * S);
    const huge = progressivePolicy({ steps: [{ atProgress: 75, leaseMs: 3 * 3600 * S, graceMs: 0 }] });
    expect(huge.leaseMs({ task: unclaimed({ progress: 80 }), now: NOW, kind: 'claim' })).toBe(2 * 3600 * S);
    expect(huge.graceMs({ task: unclaimed({ progress: 80 }), now: NOW })).toBe(0);
  });

  it('accepts custom bounds', () => {
    const p = progressivePolicy({ minLeaseMs: 100 * S, maxLeaseMs: 500 * S });
    expect(p.leaseMs({ task: unclaimed({ priority: 'critical' }), now: NOW, kind: 'claim' })).toBe(100 * S);
    expect(p.leaseMs({ task: unclaimed({ labels: ['epic'], progress: 80 }), now: NOW, kind: 'claim' })).toBe(500 * S);
  });
});

describe('progressivePolicy never shortens a lease on a heartbeat', () => {
  it('returns at least expiresAt − now + 1, so the expiry always moves forward', () => {
    const later = task({ lease: lease({ expiresAt: NOW + 500 * S }) });
    const ms = heartbeat(later);
    expect(ms).toBe(500 * S + 1);
    expect(NOW + ms).toBeGreaterThan(later.lease!.expiresAt);
  });

  it('wins over the maximum bound and over decay', () => {
    const p = progressivePolicy({ maxLeaseMs: 100 * S, decayPerRenewal: 0.5 });
    const t = task({ lease: lease({ expiresAt: NOW + 200 * S, renewals: 5 }) });
    expect(p.leaseMs({ task: t, now: NOW, kind: 'heartbeat' })).toBe(200 * S + 1);
  });

  it('does not apply to a late heartbeat (expiry already passed) or to a claim', () => {
    expect(heartbeat(task({ state: 'stale', substate: 'stale.grace', lease: lease({ expiresAt: NOW - 30 * S }) }))).toBe(240 * S);
    expect(claim(task({ lease: lease({ expiresAt: NOW + 3600 * S }) }))).toBe(180 * S);
  });
});

describe('progressivePolicy option validation', () => {
  const bad: [string, unknown][] = [
    ['an unknown key', { leaseMs: 1 }],
    ['an unknown phase key', { noReport: { leaseMs: 1, grace: 1 } }],
    ['a negative duration', { noReport: { leaseMs: -1 } }],
    ['a zero lease', { firstReport: { leaseMs: 0 } }],
    ['a negative grace', { firstReport: { graceMs: -1 } }],
    ['a non-finite duration', { maxLeaseMs: Number.POSITIVE_INFINITY }],
    ['NaN', { minLeaseMs: Number.NaN }],
    ['a zero multiplier', { priorityMultipliers: { high: 0 } }],
    ['a negative label multiplier', { labelMultipliers: { epic: -3 } }],
    ['an unknown priority', { priorityMultipliers: { urgent: 0.5 } }],
    ['min > max', { minLeaseMs: 600 * S, maxLeaseMs: 300 * S }],
    ['min above the default max', { minLeaseMs: 3 * 3600 * S }],
    ['descending steps', { steps: [{ atProgress: 75, leaseMs: 1, graceMs: 0 }, { atProgress: 25, leaseMs: 1, graceMs: 0 }] }],
    ['a step at 0 %', { steps: [{ atProgress: 0, leaseMs: 1, graceMs: 0 }] }],
    ['a step missing its grace', { steps: [{ atProgress: 50, leaseMs: 1 }] }],
    ['decay of 1', { decayPerRenewal: 1 }],
    ['negative decay', { decayPerRenewal: -0.1 }],
    ['a non-object', 'fast'],
  ];
  it.each(bad)('rejects %s with INVALID_INPUT', (_what, options) => {
    const error = thrown(() => progressivePolicy(options as ProgressiveOptions));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.code).toBe('INVALID_INPUT');
  });

  it('names the offending option', () => {
    const error = thrown(() => progressivePolicy({ minLeaseMs: 600 * S, maxLeaseMs: 300 * S, priorityMultipliers: { low: 0 } }));
    expect(error.message).toMatch(/minLeaseMs/);
    expect(error.message).toMatch(/priorityMultipliers\.low/);
  });

  it('accepts no options, an empty object and zero decay', () => {
    expect(() => progressivePolicy()).not.toThrow();
    expect(() => progressivePolicy({})).not.toThrow();
    expect(() => progressivePolicy({ decayPerRenewal: 0, minLeaseMs: 1, maxLeaseMs: 1 })).not.toThrow();
  });
});
