// sup.touch(owner): one call renews every live lease of one owner (as heartbeats without
// leaseMs would), revives those in grace, skips the rest, and is durable before it resolves.
import { describe, expect, it } from 'vitest';
import { harness, rejection } from '../support.js';

const LEASE = 60_000;
const GRACE = 10_000;

async function threeTasks() {
  const h = await harness({ defaults: { leaseMs: LEASE, graceMs: GRACE } });
  for (const id of ['a1', 'a2', 'b1', 'a3']) await h.sup.create({ id });
  await h.sup.claim('a1', { owner: 'alice' });
  await h.sup.claim('a2', { owner: 'alice' });
  await h.sup.claim('b1', { owner: 'bob' });
  return h;
}

describe('sup.touch', () => {
  it("renews every live lease of the owner and none of another owner's", async () => {
    const h = await threeTasks();
    const bobBefore = h.sup.get('b1')!.lease!;
    await h.clock.advance(30_000);
    const leases = await h.sup.touch('alice');
    expect(leases.map((l) => l.taskId).sort()).toEqual(['a1', 'a2']);
    for (const lease of leases) {
      expect(lease.owner).toBe('alice');
      expect(lease.expiresAt).toBe(h.clock.now() + LEASE);
      expect(h.sup.get(lease.taskId)!.lease!.expiresAt).toBe(lease.expiresAt);
    }
    expect(h.sup.get('b1')!.lease).toEqual(bobBefore);
    expect(h.sup.get('a3')!.lease).toBeNull();
  });

  it('leaves the task named by `except` alone (a call about to renew it itself), and refuses a bad option', async () => {
    const h = await threeTasks();
    const a1Before = h.sup.get('a1')!.lease!;
    await h.clock.advance(30_000);
    const leases = await h.sup.touch('alice', { except: 'a1' });
    expect(leases.map((l) => l.taskId)).toEqual(['a2']);
    expect(h.sup.get('a1')!.lease).toEqual(a1Before);
    await h.clock.advance(1_000);
    const beat = await h.sup.heartbeat('a1', { owner: 'alice', epoch: a1Before.epoch, progress: 30 });
    expect(beat.expiresAt).toBe(h.clock.now() + LEASE);
    await expect(h.sup.touch('alice', { except: '' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(h.sup.touch('alice', { bogus: 1 } as never)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('revives a lease in its grace and skips one whose grace is over', async () => {
    const h = await threeTasks();
    await h.clock.advance(LEASE - 1_000);
    await h.sup.heartbeat('a2', { owner: 'alice', epoch: h.sup.get('a2')!.epoch });
    // a1 expires into its grace; a2 (renewed) is still leased.
    await h.clock.advance(2_000);
    expect(h.sup.get('a1')!.substate).toBe('stale.grace');
    const leases = await h.sup.touch('alice');
    expect(leases.map((l) => l.taskId).sort()).toEqual(['a1', 'a2']);
    expect(h.sup.get('a1')!.state).toBe('leased');

    // Past the lease and the grace of both: nothing is live, nothing is renewed.
    await h.clock.advance(LEASE + GRACE + 1_000);
    expect(await h.sup.touch('alice')).toEqual([]);
  });

  it('is durable before it resolves: the renewed expiries survive a restart', async () => {
    const h = await threeTasks();
    await h.clock.advance(30_000);
    const leases = await h.sup.touch('alice');
    const sup = await h.restart();
    for (const lease of leases) expect(sup.get(lease.taskId)!.lease!.expiresAt).toBe(lease.expiresAt);
  });

  it('answers a live lease it cannot lengthen right now (same instant) as it is', async () => {
    const h = await threeTasks();
    const before = h.sup.get('a1')!.lease!;
    const leases = await h.sup.touch('alice');
    expect(leases.find((l) => l.taskId === 'a1')!.expiresAt).toBe(before.expiresAt);
    expect(leases).toHaveLength(2);
  });

  it('answers an empty list, and writes nothing, for an owner holding no lease', async () => {
    const h = await threeTasks();
    const before = h.bytes();
    expect(await h.sup.touch('carol')).toEqual([]);
    expect(h.bytes()).toBe(before);
  });

  it('refuses an owner that is not a name with INVALID_INPUT', async () => {
    const h = await threeTasks();
    expect((await rejection(h.sup.touch(''))).code).toBe('INVALID_INPUT');
    expect((await rejection(h.sup.touch(42 as unknown as string))).code).toBe('INVALID_INPUT');
  });
});
