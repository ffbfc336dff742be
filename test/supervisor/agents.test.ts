// sup.agents(): per owner seen in the tasks, its live leases, its latest heartbeat and call,
// and what it did (claims, completions, failures, releases) and lost (tasks reclaimed from it),
// read from the audit's structure; an operator's quarantine names no owner.
import { describe, expect, it } from 'vitest';
import { harness, T0 } from '../support.js';

describe('sup.agents', () => {
  it('is empty with no task claimed', async () => {
    const { sup } = await harness();
    expect(sup.agents()).toEqual([]);
    await sup.create({ id: 'idle' });
    expect(sup.agents()).toEqual([]);
  });

  it('counts what each owner did and holds, sorted by owner', async () => {
    const { sup, clock } = await harness({ defaults: { leaseMs: 10_000, graceMs: 5_000, retryBackoffMs: 1_000 } });
    for (const id of ['t1', 't2', 't3', 't4', 't5', 't6']) await sup.create({ id });

    const t1 = await sup.claim('t1', { owner: 'alice' });
    await clock.advance(1_000);
    await sup.heartbeat('t1', { ...t1, progress: 50 });
    await clock.advance(1_000);
    await sup.complete('t1', t1);
    await sup.claim('t2', { owner: 'alice' });
    await sup.claim('t4', { owner: 'alice' });
    const t3 = await sup.claim('t3', { owner: 'carol' });
    await sup.fail('t3', { ...t3, error: 'flaky', retryable: true });
    // t2 and t4 expire and their grace ends (T0 + 17 s).
    await clock.advance(16_000);
    expect(sup.get('t2')!.substate).toBe('stale.expired');
    await sup.claim('t2', { owner: 'bob' });
    await sup.claim('t4', { owner: 'alice' });
    const again = await sup.claim('t3', { owner: 'carol' });
    await sup.release('t3', again);
    await clock.advance(1_000);
    await sup.heartbeat('t2', { owner: 'bob', epoch: sup.get('t2')!.epoch });
    await sup.claim('t5', { owner: 'dave', leaseMs: 1_000 });
    await clock.advance(2_000);
    expect(sup.get('t5')!.substate).toBe('stale.grace');
    await sup.quarantine('t6', { by: 'ops', reason: 'operator' });

    const agents = sup.agents();
    expect(agents.map((a) => a.owner)).toEqual(['alice', 'bob', 'carol', 'dave']);
    const [alice, bob, carol, dave] = agents;
    expect(alice).toEqual({
      owner: 'alice',
      leases: [sup.get('t4')!.lease],
      lastHeartbeatAt: T0 + 18_000,
      lastSeenAt: T0 + 18_000,
      // t1, t2, t4, and t4 again once it expired: her own, so nothing was taken from her there.
      claims: 4,
      completed: 1,
      failed: 0,
      released: 0,
      reclaimedFrom: 1,
    });
    expect(bob).toEqual({
      owner: 'bob', leases: [sup.get('t2')!.lease], lastHeartbeatAt: T0 + 19_000, lastSeenAt: T0 + 19_000,
      claims: 1, completed: 0, failed: 0, released: 0, reclaimedFrom: 0,
    });
    expect(carol).toEqual({
      owner: 'carol', leases: [], lastHeartbeatAt: null, lastSeenAt: T0 + 18_000,
      claims: 2, completed: 0, failed: 1, released: 1, reclaimedFrom: 0,
    });
    // In grace, dave's lease is still live; its expiry (T0 + 20 s) is the supervisor's entry, not a sign of dave.
    expect(dave).toMatchObject({ leases: [sup.get('t5')!.lease], lastHeartbeatAt: T0 + 19_000, lastSeenAt: T0 + 19_000, claims: 1 });

    // Past dave's grace, the lease is no longer live; the owner is still seen.
    await clock.advance(5_000);
    expect(sup.get('t5')!.substate).toBe('stale.expired');
    expect(sup.agents()[3]).toMatchObject({ owner: 'dave', leases: [], lastHeartbeatAt: null, lastSeenAt: T0 + 19_000 });
  });

  it('answers copies', async () => {
    const { sup } = await harness();
    await sup.create({ id: 'a' });
    await sup.claim('a', { owner: 'alice' });
    const [alice] = sup.agents();
    alice!.leases[0]!.owner = 'mallory';
    alice!.leases.pop();
    expect(sup.agents()[0]!.leases.map((l) => l.owner)).toEqual(['alice']);
    expect(sup.get('a')!.lease!.owner).toBe('alice');
  });

  it('names who a reclaim took the task from even when the audit bound dropped the claim', async () => {
    const { sup, clock } = await harness({ defaults: { leaseMs: 10_000, graceMs: 5_000, maxRenewals: 1_000 } });
    await sup.create({ id: 'long' });
    const lease = await sup.claim('long', { owner: 'erin' });
    for (let beat = 0; beat < 210; beat++) {
      await clock.advance(1_000);
      await sup.heartbeat('long', lease);
    }
    await clock.advance(16_000);
    await sup.claim('long', { owner: 'frank' });
    const audit = sup.get('long')!.audit;
    expect(audit.some((entry) => entry.event === 'claimed')).toBe(false);
    const [erin, frank] = sup.agents();
    // Counted over what is still recorded: erin's claim has left the bounded audit.
    expect(erin).toMatchObject({ owner: 'erin', claims: 0, reclaimedFrom: 1, leases: [] });
    expect(frank).toMatchObject({ owner: 'frank', claims: 1, reclaimedFrom: 0 });
  });
});
