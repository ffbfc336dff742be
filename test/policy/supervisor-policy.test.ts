// Policies in the running supervisor: progressive leases from claims and heartbeats, per-task
// policies stored as data, grace extended by cadence and by a real git merge conflict (and
// the cap surviving a restart), probes that never hold up other commands, the recovery
// hand-off with its `recovered` event and `onRecovery` hook.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gitMergeConflictProbe, progressivePolicy, withCadence, fixedPolicy, type GraceExtension } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { harness, rejection, T0 } from '../support.js';
import { cleanRepo, conflictedRepo } from '../../src/demo/git-repos.js';

const S = 1000;
const repos = mkdtempSync(join(tmpdir(), 'leasehold-policy-repos-'));
afterAll(() => rmSync(repos, { recursive: true, force: true }));

describe('the progressive policy in the supervisor', () => {
  it('sizes the claim and each renewal by phase: 180 s, then 240 s, 300 s at 25 %, 360 s + 90 s grace at 75 %', async () => {
    const h = await harness({ policy: progressivePolicy() });
    await h.sup.create({ id: 't' });
    const lease = await h.sup.claim('t', { owner: 'a' });
    expect([lease.leaseMs, lease.graceMs, lease.expiresAt]).toEqual([180 * S, 60 * S, T0 + 180 * S]);
    /** The lease a heartbeat was granted: from now to the new expiry. */
    const beat = async (progress?: number) => {
      await h.clock.advance(10 * S);
      const renewed = await h.sup.heartbeat('t', { owner: 'a', epoch: 1, ...(progress === undefined ? {} : { progress }) });
      return { granted: renewed.expiresAt - h.clock.now(), graceMs: renewed.graceMs, expiresAt: renewed.expiresAt };
    };
    expect((await beat()).granted).toBe(240 * S);
    expect((await beat(24)).granted).toBe(240 * S);
    expect((await beat(25)).granted).toBe(300 * S);
    expect((await beat(74)).granted).toBe(300 * S);
    const tail = await beat(75);
    expect([tail.granted, tail.graceMs]).toEqual([360 * S, 90 * S]);
    // The grace of the tail phase is the one the expiry uses.
    await h.clock.advanceTo(tail.expiresAt);
    expect(h.sup.get('t')!.lease!.graceEndsAt).toBe(tail.expiresAt + 90 * S);
  });

  it('applies priority and label multipliers, and an explicit leaseMs still wins', async () => {
    const h = await harness({ policy: progressivePolicy() });
    await h.sup.create({ id: 'urgent', priority: 'critical' });
    await h.sup.create({ id: 'big', labels: ['epic', 'simple'] });
    await h.sup.create({ id: 'mine' });
    expect((await h.sup.claim('urgent', { owner: 'a' })).leaseMs).toBe(90 * S);
    expect((await h.sup.claim('big', { owner: 'a' })).leaseMs).toBe(540 * S);
    expect((await h.sup.claim('mine', { owner: 'a', leaseMs: 7 * S })).leaseMs).toBe(7 * S);
  });

  it('takes a per-task policy stored as data, which survives a restart; a bad one is INVALID_INPUT', async () => {
    const h = await harness();
    await h.sup.create({ id: 'slow', policy: { kind: 'progressive' } });
    await h.sup.create({ id: 'plain' });
    const bytes = h.bytes();
    expect((await rejection(h.sup.create({ id: 'bad', policy: { kind: 'progressive', minLeaseMs: -1 } }))).code).toBe('INVALID_INPUT');
    expect(h.bytes()).toBe(bytes);
    await h.restart();
    expect((await h.sup.claim('slow', { owner: 'a' })).leaseMs).toBe(180 * S);
    expect((await h.sup.claim('plain', { owner: 'a' })).leaseMs).toBe(5 * 60 * S);
  });
});

describe('grace extensions', () => {
  /** A holder that heartbeats every 10 s three times under the cadence rule, then goes silent. */
  async function rhythmic(leaseMs: number, graceMs: number, extended: string[]) {
    const h = await harness({ policy: withCadence(fixedPolicy(), { silenceMultiplier: 5, maxExtensions: 1 }), defaults: { leaseMs, graceMs } });
    h.sup.on('graceExtended', (e) => extended.push(`${e.reason}+${e.extendMs}`));
    await h.sup.create({ id: 't' });
    await h.sup.claim('t', { owner: 'a' });
    for (let i = 0; i < 3; i++) {
      await h.clock.advance(10 * S);
      await h.sup.heartbeat('t', { owner: 'a', epoch: 1 });
    }
    return h;
  }

  it('cadence: a holder whose silence is within its usual rhythm gets one more grace, at most maxExtensions times', async () => {
    const extended: string[] = [];
    // Heartbeats every 10 s; silence at grace end is 60 + 20 = 80 s > 5 × 10 s: no extension.
    const h = await rhythmic(60 * S, 20 * S, extended);
    await h.clock.advanceTo(h.sup.get('t')!.lease!.expiresAt + 20 * S);
    expect(h.sup.get('t')!.substate).toBe('stale.expired');
    expect(extended).toEqual([]);

    // Every 10 s, silent for 30 s at grace end (≤ 50 s): one extension, then the cap.
    const g = await rhythmic(20 * S, 10 * S, extended);
    const end = g.sup.get('t')!.lease!.expiresAt + 10 * S;
    await g.clock.advanceTo(end);
    expect(g.sup.get('t')!.substate).toBe('stale.grace');
    expect(g.sup.get('t')!.lease!.graceExtensions).toEqual({ cadence: 1 });
    expect(extended).toEqual([`cadence+${10 * S}`]);
    await g.clock.advanceTo(end + 10 * S);
    expect(g.sup.get('t')!.substate).toBe('stale.expired');
  });

  it('a real merge conflict in the worktree extends grace by 300 s, twice per lease, and the count survives a restart', async () => {
    const worktree = conflictedRepo(join(repos, 'conflict'));
    const h = await harness({ probes: [gitMergeConflictProbe()], defaults: { leaseMs: 60 * S, graceMs: 30 * S } });
    await h.sup.create({ id: 'merge', spec: { worktree } });
    await h.sup.claim('merge', { owner: 'a' });
    await h.clock.advance(90 * S);
    let task = h.sup.get('merge')!;
    expect(task.substate).toBe('stale.grace');
    expect(task.lease!.graceEndsAt).toBe(T0 + 90 * S + 300 * S);
    expect(task.lease!.graceExtensions).toEqual({ 'merge-conflict': 1 });

    await h.restart({ probes: [gitMergeConflictProbe()] });
    await h.clock.advanceTo(T0 + 390 * S);
    expect(h.sup.get('merge')!.lease!.graceExtensions).toEqual({ 'merge-conflict': 2 });
    await h.restart({ probes: [gitMergeConflictProbe()] });
    await h.clock.advanceTo(T0 + 690 * S);
    task = h.sup.get('merge')!;
    expect(task.substate).toBe('stale.expired');
    expect(task.audit.filter((a) => a.event === 'grace-extended')).toHaveLength(2);
  });

  it('a clean worktree, or no worktree at all, gets no extension', async () => {
    const worktree = cleanRepo(join(repos, 'clean'));
    const h = await harness({ probes: [gitMergeConflictProbe()], defaults: { leaseMs: 60 * S, graceMs: 30 * S } });
    await h.sup.create({ id: 'clean', spec: { worktree } });
    await h.sup.create({ id: 'nowhere' });
    await h.sup.claim('clean', { owner: 'a' });
    await h.sup.claim('nowhere', { owner: 'b' });
    await h.clock.advance(90 * S);
    expect(h.sup.get('clean')!.substate).toBe('stale.expired');
    expect(h.sup.get('nowhere')!.substate).toBe('stale.expired');
  });

  it('a slow probe holds up nobody, and a heartbeat that arrives meanwhile wins', async () => {
    let answer: ((extension: GraceExtension | null) => void) | undefined;
    const slowProbe = () => new Promise<GraceExtension | null>((resolve) => (answer = resolve));
    // The test holds the probe open itself, so the clock must not wait for it.
    const h = await harness({ probes: [slowProbe], defaults: { leaseMs: 60 * S, graceMs: 30 * S } }, createTestClock(T0, { awaitWork: false }));
    await h.sup.create({ id: 'waiting' });
    await h.sup.create({ id: 'other' });
    await h.sup.claim('waiting', { owner: 'a' });
    await h.clock.advance(90 * S);
    expect(h.sup.get('waiting')!.substate).toBe('stale.deciding');
    // Other commands go through while the probe thinks.
    expect((await h.sup.claim('other', { owner: 'b' })).epoch).toBe(1);
    expect((await rejection(h.sup.claim('waiting', { owner: 'b' }))).reason).toBe('in_grace');
    const late = await h.sup.heartbeat('waiting', { owner: 'a', epoch: 1, progress: 50 });
    expect(h.sup.get('waiting')!.substate).toBe('leased');
    answer!({ extendMs: 999 * S, reason: 'too-late' });
    await h.clock.settle();
    expect(h.sup.get('waiting')!.lease!.expiresAt).toBe(late.expiresAt);
    expect(h.sup.get('waiting')!.lease!.graceExtensions).toEqual({});
  });
});

describe('recovery hand-off', () => {
  it('the next claimer gets previous owner, epoch, highest progress (late reports included), message, time spent, reason and instructions', async () => {
    const heard: unknown[] = [];
    const warnings: unknown[] = [];
    const h = await harness({
      defaults: { leaseMs: 60 * S, graceMs: 10 * S },
      onRecovery: (e) => {
        heard.push(e);
        throw new Error('hook failure must not break the supervisor');
      },
      logger: { warn: (...args: unknown[]) => void warnings.push(args) },
    });
    await h.sup.create({ id: 't', spec: { worktree: 'wt/t', branch: 'agent/t' } });
    await h.sup.claim('t', { owner: 'ann' });
    await h.clock.advance(20 * S);
    await h.sup.heartbeat('t', { owner: 'ann', epoch: 1, progress: 40, message: 'tests pass locally' });
    await h.clock.advance(60 * S + 10 * S);
    // A late report after expiry still counts for the hand-off, and never lowers it.
    expect((await rejection(h.sup.heartbeat('t', { owner: 'ann', epoch: 1, progress: 55, message: 'pushing' }))).reason).toBe('expired');
    expect((await rejection(h.sup.heartbeat('t', { owner: 'ann', epoch: 1, progress: 30 }))).reason).toBe('expired');
    const lease = await h.sup.claim('t', { owner: 'bob' });
    expect(lease.recovery).toMatchObject({
      previousOwner: 'ann',
      previousEpoch: 1,
      progress: 55,
      message: 'pushing',
      timeSpentMs: 20 * S,
      reason: 'its lease expired',
    });
    expect(lease.recovery!.instructions).toContain('worktree wt/t on branch agent/t');
    expect(lease.recovery!.instructions).toContain("Continue from 55%, don't start over.");
    expect(h.sup.get('t')!.recovery).toEqual(lease.recovery);
    expect(heard).toEqual([expect.objectContaining({ type: 'recovered', taskId: 't', owner: 'bob', epoch: 2, previousOwner: 'ann', progress: 55 })]);
    expect(warnings).toHaveLength(1);
    // The supervisor carries on after the hook threw.
    await h.sup.complete('t', { owner: 'bob', epoch: 2 });
    expect(h.sup.get('t')!.state).toBe('completed');
  });

  it('a released task hands off to the next claimer too', async () => {
    const h = await harness();
    await h.sup.create({ id: 't' });
    await h.sup.claim('t', { owner: 'ann' });
    await h.clock.advance(5 * S);
    await h.sup.release('t', { owner: 'ann', epoch: 1, reason: 'out of budget' });
    const lease = await h.sup.claim('t', { owner: 'bob' });
    expect(lease.recovery).toMatchObject({ previousOwner: 'ann', previousEpoch: 1, timeSpentMs: 5 * S, reason: 'was released (out of budget)' });
    expect(lease.recovery!.instructions).toContain('No progress was reported');
  });
});
