// Every Client method through real loopback HTTP against serve(): it answers what the
// library answers (compared with the served supervisor's own reads), with owner taken from
// the token when left out and a whole Lease accepted as proof.
import { describe, expect, it } from 'vitest';
import type { TaskView } from '../../src/index.js';
import { withClients } from './support.js';

/** What a value is once it has crossed JSON (undefined fields gone). */
const wire = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

describe('leasehold/client methods', () => {
  it('create, claim, heartbeat, extend, addCompensation, complete: the same shapes as the library', async () => {
    const f = await withClients();
    const created = await f.admin.create({ id: 't 1/é', spec: { repo: 'r' }, labels: ['web'], priority: 'high' });
    expect(created).toEqual(wire(f.sup.get('t 1/é')));

    const alice = await f.agent('alice');
    const lease = await alice.claim('t 1/é', { leaseMs: 60_000 });
    expect(lease).toEqual(wire(f.sup.get('t 1/é')!.lease));
    expect(lease.owner).toBe('alice');

    await f.clock.advance(10_000);
    const beat = await alice.heartbeat('t 1/é', { epoch: lease.epoch, progress: 40, message: 'half' });
    expect(beat).toEqual(wire(f.sup.get('t 1/é')!.lease));
    expect(beat.heartbeatAt).toBe(f.clock.now());
    // A whole Lease is a proof, as in the library.
    await f.clock.advance(1_000);
    const again = await alice.heartbeat('t 1/é', { ...beat, progress: 50 });
    expect(again).toEqual(wire(f.sup.get('t 1/é')!.lease));

    const extended = await alice.extend('t 1/é', { epoch: lease.epoch, windowMs: 600_000 });
    expect(extended.expiresAt).toBe(f.clock.now() + 600_000);
    expect(extended).toEqual(wire(f.sup.get('t 1/é')!.lease));

    const compensated = await alice.addCompensation('t 1/é', { epoch: lease.epoch, action: 'undo', args: { n: 1 } });
    expect(compensated).toEqual(wire(f.sup.get('t 1/é')));
    expect(compensated.compensations.map((c) => c.action)).toEqual(['undo']);

    const done = await alice.complete('t 1/é', { ...lease, result: { ok: true } });
    expect(done.state).toBe('completed');
    expect(done).toEqual(wire(f.sup.get('t 1/é')));
  });

  it('claimNext (labels, null when none), release, fail, touch, quarantine, annotate', async () => {
    const f = await withClients();
    await f.admin.create({ id: 'a', labels: ['web'] });
    await f.admin.create({ id: 'b', labels: ['db'], maxAttempts: 1 });
    const bob = await f.agent('bob');

    const next = await bob.claimNext({ labels: ['db'] });
    expect(next?.taskId).toBe('b');
    expect(next).toEqual(wire(f.sup.get('b')!.lease));
    expect(await bob.claimNext({ labels: ['nothing'] })).toBeNull();

    const a = (await bob.claimNext())!;
    await f.clock.advance(60_000);
    // touch() names the token's owner (learned from the leases above) and renews both leases.
    const touched = await bob.touch();
    expect(touched.map((l) => l.taskId).sort()).toEqual(['a', 'b']);
    expect(touched.map((l) => wire(l)).sort((x, y) => x.taskId.localeCompare(y.taskId))).toEqual(wire([f.sup.get('a')!.lease, f.sup.get('b')!.lease]));
    await f.clock.advance(1_000);
    expect(await bob.touch('bob')).toHaveLength(2);

    const released = await bob.release('a', { epoch: a.epoch, reason: 'hand-off' });
    expect(released).toEqual(wire(f.sup.get('a')));
    expect(released.state).toBe('planned');

    const failed = await bob.fail('b', { epoch: next!.epoch, error: 'boom', retryable: false });
    expect(failed).toEqual(wire(f.sup.get('b')));

    const quarantined = await f.admin.quarantine('a', { by: 'ignored', reason: 'bad spec' });
    expect(quarantined).toEqual(wire(f.sup.get('a')));
    expect(quarantined.state).toBe('quarantined');

    const annotated = await f.admin.annotate('a', { ticket: 'OPS-1' });
    expect(annotated.metadata).toEqual({ ticket: 'OPS-1' });
    expect(annotated).toEqual(wire(f.sup.get('a')));
  });

  it('get, list (with the filters), stats: async reads of what the library reads', async () => {
    const f = await withClients();
    await f.admin.create({ id: 'x', labels: ['web'] });
    await f.admin.create({ id: 'y' });
    const carol = await f.agent('carol');
    await carol.claim('x');

    expect(await carol.get('x')).toEqual(wire(f.sup.get('x')));
    expect(await carol.get('missing')).toBeUndefined();
    expect(await carol.list()).toEqual(wire(f.sup.list()));
    expect(await carol.list({ state: 'leased' })).toEqual(wire(f.sup.list({ state: 'leased' })));
    expect((await carol.list({ owner: 'carol' })).map((t: TaskView) => t.id)).toEqual(['x']);
    expect((await carol.list({ label: 'web' })).map((t: TaskView) => t.id)).toEqual(['x']);
    expect((await carol.list({ state: 'planned' })).map((t: TaskView) => t.id)).toEqual(['y']);
    expect(await carol.stats()).toEqual(wire(f.sup.stats()));
  });

  it('the admin token acts for an agent only with an explicit owner', async () => {
    const f = await withClients();
    await f.admin.create({ id: 'op' });
    const lease = await f.admin.claim('op', { owner: 'dora' });
    expect(lease.owner).toBe('dora');
    await f.clock.advance(1_000);
    expect(await f.admin.touch('dora')).toEqual(wire([f.sup.get('op')!.lease]));
    await f.clock.advance(1_000);
    expect(await f.admin.heartbeat('op', { owner: 'dora', epoch: lease.epoch })).toEqual(wire(f.sup.get('op')!.lease));
  });
});
