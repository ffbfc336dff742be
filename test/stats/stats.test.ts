// The stats read model after a scripted scenario on the test clock and a real JSON file:
// claims, heartbeats (late ones too), a stuck lease, a grace extension, a reclaim whose
// previous holder reports afterwards (a spurious reclaim), a recovery after a release,
// leases expiring soon at the threshold boundary, the bounded history, and subscribers.
import { describe, expect, it } from 'vitest';
import {
  createSupervisor,
  DEFAULT_EXPIRING_SOON_MS,
  LIFECYCLE_EVENTS,
  memoryStore,
  statsLine,
  type ExtensionProbe,
  type LeaseHistoryEntry,
  type SupervisorStats,
} from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { harness, rejection, T0 } from '../support.js';

const S = 1_000;
const LEASE = 60 * S;
const GRACE = 10 * S;

/** Grants one 5 s "merge-conflict" extension per lease, then lets it expire. */
const onceProbe: ExtensionProbe = async ({ extensions }) =>
  (extensions['merge-conflict'] ?? 0) < 1 ? { extendMs: 5 * S, reason: 'merge-conflict' } : null;

const brief = (entry: LeaseHistoryEntry) => `${entry.type} ${entry.taskId}${'owner' in entry && entry.owner ? ` ${entry.owner}@${entry.epoch}` : ''}`;

describe('stats after a scripted scenario', () => {
  it('counts states, renewals, late heartbeats, stuck, grace extensions, reclaims (spurious ones), recoveries and keeps the history', async () => {
    const h = await harness({ defaults: { leaseMs: LEASE, graceMs: GRACE, maxRenewals: 3 }, probes: [onceProbe] });
    const { sup, clock } = h;
    for (const id of ['a', 'b', 'c', 'd', 'e']) await sup.create({ id });

    // a: a 10-minute lease; three heartbeats reach maxRenewals → stuck once.
    const a = await sup.claim('a', { owner: 'w1', leaseMs: 10 * LEASE });
    for (let i = 0; i < 3; i++) {
      await clock.advance(10 * S);
      await sup.heartbeat('a', { owner: 'w1', epoch: a.epoch });
    }

    // b and c: claimed now, left to expire.
    const b = await sup.claim('b', { owner: 'w2' });
    const c = await sup.claim('c', { owner: 'w3' });
    await clock.advance(LEASE + S); // both stale.grace; a (renewed at +30 s) still leased
    expect(sup.get('b')!.substate).toBe('stale.grace');
    // b: its holder comes back during grace: a late heartbeat.
    await sup.heartbeat('b', { owner: 'w2', epoch: b.epoch });
    // c: grace ends, the probe grants one extension, then it expires for good.
    await clock.advance(GRACE + 5 * S);
    expect(sup.get('c')!.substate).toBe('stale.expired');

    // c is reclaimed by w4; the previous holder w3 was alive after all.
    const c2 = await sup.claim('c', { owner: 'w4' });
    expect(c2.recovery).toMatchObject({ previousOwner: 'w3', previousEpoch: c.epoch });
    expect((await rejection(sup.heartbeat('c', { owner: 'w3', epoch: c.epoch, progress: 50 }))).reason).toBe('not_owner');
    expect((await rejection(sup.complete('c', { owner: 'w3', epoch: c.epoch }))).reason).toBe('not_owner');
    // A stranger's refused call is no late report.
    await rejection(sup.heartbeat('c', { owner: 'w9', epoch: c.epoch }));

    // d: released, then claimed by another owner with the hand-off: a recovery, not a reclaim.
    const d = await sup.claim('d', { owner: 'w5' });
    await sup.release('d', { owner: 'w5', epoch: d.epoch, reason: 'out of budget' });
    const d2 = await sup.claim('d', { owner: 'w6' });
    // The releaser reporting afterwards gave the task up itself: no spurious reclaim.
    await rejection(sup.heartbeat('d', { owner: 'w5', epoch: d.epoch }));

    // e: completed.
    const e = await sup.claim('e', { owner: 'w7' });
    await sup.complete('e', { owner: 'w7', epoch: e.epoch });

    const stats = sup.stats();
    expect(stats).toMatchObject({
      at: clock.now(),
      since: T0,
      total: 5,
      byState: { planned: 0, leased: 4, stale: 0, failed: 0, compensated: 0, quarantined: 0, completed: 1 },
      stuck: 1,
      lateHeartbeats: 1,
      graceExtensions: { total: 1, byReason: { 'merge-conflict': 1 } },
      reclaims: 1,
      spuriousReclaims: 1,
      lateReports: 2,
      recoveries: 2,
      sweeps: { reconcile: { runs: 0, count: 0, lastAt: null } },
    });
    // claims: a, b, c (w3), c (w4), d (w5), d (w6), e = 7 leases; heartbeats: a ×3, b ×1 (late).
    expect(stats.events).toMatchObject({ claimed: 7, heartbeat: 4, expired: 2, graceExtended: 1, reclaimed: 1, recovered: 2, released: 1, completed: 1, stuck: 1 });
    expect(Object.keys(stats.events).sort()).toEqual([...LIFECYCLE_EVENTS].sort());
    expect(stats.averageRenewals).toBeCloseTo(4 / 7);
    // b, c and d hold 60 s leases, within the default 5 min; a's 10 min lease is not.
    expect(stats.expiringSoonMs).toBe(DEFAULT_EXPIRING_SOON_MS);
    expect(stats.expiringSoon).toBe(3);

    expect(stats.history.map(brief)).toEqual([
      'claimed a w1@1',
      'heartbeat a w1@1',
      'heartbeat a w1@1',
      'heartbeat a w1@1',
      'stuck a w1@1',
      'claimed b w2@1',
      'claimed c w3@1',
      'expired b w2@1',
      'expired c w3@1',
      'heartbeat b w2@1',
      'graceExtended c w3@1',
      'claimed c w4@2',
      'reclaimed c w4@2',
      'recovered c w4@2',
      'lateReport c w3@1',
      'lateReport c w3@1',
      'claimed d w5@1',
      'released d w5@1',
      'claimed d w6@2',
      'recovered d w6@2',
      'claimed e w7@1',
      'completed e w7@1',
    ]);
    const late = stats.history.find((entry) => entry.type === 'lateReport');
    expect(late).toEqual({ type: 'lateReport', taskId: 'c', owner: 'w3', epoch: 1, at: c2.acquiredAt, call: 'lease.heartbeat' });
    expect(d2.epoch).toBe(2);

    // The read model is a copy: changing it changes nothing.
    stats.history.length = 0;
    stats.byState.leased = 99;
    expect(sup.stats().history).toHaveLength(22);
    expect(sup.stats().byState.leased).toBe(4);
  });

  it('a late report after the task was reclaimed and then finished still counts, once per reclaim', async () => {
    const h = await harness({ defaults: { leaseMs: LEASE, graceMs: 0 } });
    await h.sup.create({ id: 't' });
    const first = await h.sup.claim('t', { owner: 'w1' });
    await h.clock.advance(LEASE);
    const second = await h.sup.claim('t', { owner: 'w1' }); // the same owner takes it back
    await h.sup.complete('t', { owner: 'w1', epoch: second.epoch });
    const error = await rejection(h.sup.heartbeat('t', { owner: 'w1', epoch: first.epoch }));
    expect(error.code).toBe('TERMINAL_TASK');
    expect(h.sup.stats()).toMatchObject({ reclaims: 1, spuriousReclaims: 1, lateReports: 1 });
    // The current holder's own calls are never late reports.
    await rejection(h.sup.heartbeat('t', { owner: 'w1', epoch: second.epoch }));
    expect(h.sup.stats()).toMatchObject({ spuriousReclaims: 1, lateReports: 1 });
  });

  it('the stale holder reporting before anyone reclaimed is no late report', async () => {
    const h = await harness({ defaults: { leaseMs: LEASE, graceMs: 0 } });
    await h.sup.create({ id: 't' });
    const lease = await h.sup.claim('t', { owner: 'w1' });
    await h.clock.advance(LEASE);
    expect((await rejection(h.sup.heartbeat('t', { owner: 'w1', epoch: lease.epoch, progress: 10 }))).reason).toBe('expired');
    expect(h.sup.stats()).toMatchObject({ reclaims: 0, spuriousReclaims: 0, lateReports: 0 });
  });
});

describe('expiring soon', () => {
  it('counts leased tasks whose lease ends within expiringSoonMs of now, the boundary included', async () => {
    const h = await harness({ stats: { expiringSoonMs: 60 * S } });
    for (const id of ['edge', 'beyond', 'long']) await h.sup.create({ id });
    await h.sup.claim('edge', { owner: 'w', leaseMs: 60 * S });
    await h.sup.claim('beyond', { owner: 'w', leaseMs: 60 * S + 1 });
    await h.sup.claim('long', { owner: 'w', leaseMs: 3_600 * S });
    expect(h.sup.stats()).toMatchObject({ expiringSoon: 1, expiringSoonMs: 60 * S });
    await h.clock.advance(1);
    expect(h.sup.stats().expiringSoon).toBe(2);
    // Expired leases are stale, not expiring.
    await h.clock.advance(60 * S);
    expect(h.sup.stats()).toMatchObject({ expiringSoon: 0, byState: { leased: 1, stale: 2 } });
    // By full state path too: only the paths some task is in, as TaskView's substate.
    const paths = h.sup.list().map((task) => task.substate);
    expect(h.sup.stats().bySubstate).toEqual(Object.fromEntries([...new Set(paths)].map((path) => [path, paths.filter((p) => p === path).length])));
    expect(Object.values(h.sup.stats().bySubstate).reduce((sum, n) => sum + n, 0)).toBe(3);
  });

  it('defaults to 5 minutes, not an hour', async () => {
    const h = await harness();
    await h.sup.create({ id: 'five' });
    await h.sup.create({ id: 'ten' });
    await h.sup.claim('five', { owner: 'w', leaseMs: 5 * 60 * S });
    await h.sup.claim('ten', { owner: 'w', leaseMs: 10 * 60 * S });
    expect(h.sup.stats()).toMatchObject({ expiringSoon: 1, expiringSoonMs: 5 * 60 * S });
  });

  it('refuses a bad threshold before opening the store', async () => {
    const store = memoryStore();
    for (const stats of [{ expiringSoonMs: -1 }, { expiringSoonMs: Number.NaN }, { historyLimit: 1.5 }, { nope: 1 }]) {
      const error = await rejection(createSupervisor({ store, stats: stats as never }));
      expect(error.code).toBe('INVALID_INPUT');
    }
    // Never opened, so never locked.
    const sup = await createSupervisor({ store });
    await sup.close();
  });
});

describe('history', () => {
  it('keeps the last 1,000 lease events', async () => {
    const clock = createTestClock(T0);
    const sup = await createSupervisor({ store: memoryStore(), clock, schedule: false });
    try {
      await sup.create({ id: 't' });
      const lease = await sup.claim('t', { owner: 'w', leaseMs: LEASE });
      // 1,100 heartbeats, each one extending the lease by one more millisecond.
      await Promise.all(Array.from({ length: 1_100 }, (_, i) => sup.heartbeat('t', { owner: 'w', epoch: lease.epoch, leaseMs: LEASE + i + 1, progress: i % 101 })));
      const stats = sup.stats();
      // claimed + 1,100 heartbeats + stuck (at the 10th) = 1,102 events.
      expect(stats.events).toMatchObject({ claimed: 1, heartbeat: 1_100, stuck: 1 });
      expect(stats.history).toHaveLength(1_000);
      expect(stats.history.every((entry) => entry.type === 'heartbeat')).toBe(true);
      expect(stats.history.at(-1)).toMatchObject({ type: 'heartbeat', expiresAt: clock.now() + LEASE + 1_100 });
      expect(stats.history[0]).toMatchObject({ type: 'heartbeat', expiresAt: clock.now() + LEASE + 101 });
    } finally {
      await sup.close();
    }
  });

  it('historyLimit bounds it differently', async () => {
    const clock = createTestClock(T0);
    const sup = await createSupervisor({ store: memoryStore(), clock, stats: { historyLimit: 3 }, schedule: false });
    try {
      for (const id of ['a', 'b', 'c', 'd']) {
        await sup.create({ id });
        await sup.claim(id, { owner: 'w' });
      }
      expect(sup.stats().history.map((entry) => entry.taskId)).toEqual(['b', 'c', 'd']);
    } finally {
      await sup.close();
    }
  });
});

describe('subscribe', () => {
  it('notifies after each durable change and late report, until unsubscribed', async () => {
    const h = await harness({ defaults: { leaseMs: LEASE, graceMs: 0 } });
    const seen: SupervisorStats[] = [];
    const unsubscribe = h.sup.subscribe((stats) => seen.push(stats));

    await h.sup.create({ id: 't' });
    expect(seen.at(-1)).toMatchObject({ total: 1, byState: { planned: 1 } });
    // The listener runs once the change is on disk.
    const onDisk: string[] = [];
    const stop = h.sup.subscribe(() => onDisk.push(JSON.stringify((JSON.parse(h.bytes()) as { tasks: { t: { state: unknown } } }).tasks.t.state)));
    const first = await h.sup.claim('t', { owner: 'w1' });
    stop();
    expect(onDisk).toEqual(['"leased"']);
    expect(seen.at(-1)).toMatchObject({ byState: { leased: 1 }, events: { claimed: 1 } });

    await h.clock.advance(LEASE);
    expect(seen.at(-1)).toMatchObject({ byState: { stale: 1 }, events: { expired: 1 } });
    await h.sup.claim('t', { owner: 'w2' });
    const count = seen.length;
    await rejection(h.sup.heartbeat('t', { owner: 'w1', epoch: first.epoch }));
    expect(seen).toHaveLength(count + 1);
    expect(seen.at(-1)).toMatchObject({ spuriousReclaims: 1 });

    unsubscribe();
    await h.sup.create({ id: 'u' });
    expect(seen).toHaveLength(count + 1);
  });

  it('a listener that throws is logged and breaks nothing', async () => {
    const warnings: unknown[][] = [];
    const h = await harness({ logger: { warn: (...args: unknown[]) => void warnings.push(args) } });
    h.sup.subscribe(() => {
      throw new Error('boom');
    });
    await h.sup.create({ id: 't' });
    expect(h.sup.get('t')).toBeDefined();
    expect(warnings.some(([message]) => String(message).includes('stats listener threw'))).toBe(true);
    expect(() => h.sup.subscribe('nope' as never)).toThrow(/INVALID_INPUT|expected a function/);
  });
});

describe('the stats line', () => {
  it('words each count for its number: "1 task", "2 tasks"', async () => {
    const sup = await createSupervisor({ store: memoryStore(), clock: createTestClock(T0), schedule: false });
    await sup.create({ id: 'a' });
    const one = sup.stats();
    expect(statsLine(one)).toMatch(/^leasehold: 1 task \(planned 1\); /);
    const ones = { ...one, lateHeartbeats: 1, reclaims: 1, recoveries: 1, graceExtensions: { total: 1, byReason: { probe: 1 } } };
    expect(statsLine(ones)).toContain('; 1 late heartbeat; 1 grace extension (probe 1); 1 reclaim (0 spurious); 1 recovery; ');
    await sup.create({ id: 'b' });
    expect(statsLine(sup.stats())).toMatch(/^leasehold: 2 tasks \(planned 2\); .*; 0 late heartbeats; 0 grace extensions; 0 reclaims \(0 spurious\); 0 recoveries; /);
    await sup.close();
  });
});
