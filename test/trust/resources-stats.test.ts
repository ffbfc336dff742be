// Item 15: the stats read model is incremental. A subscribed supervisor's work per commit
// does not grow with tasks the commit did not touch; counts equal a full recount after random
// histories; tasks, owners and reasons named like Object.prototype members count right.
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { createSupervisor, memoryStore, type ExtensionProbe, type SupervisorStats, type TaskView } from '../../src/index.js';
import { createStatsFeed } from '../../src/stats/read-model.js';
import { countTasks, type TaskSample } from '../../src/stats/task-counts.js';
import { createTestClock } from '../../src/testing.js';
import { T0 } from '../support.js';

/** Task samples the stats feed is handed or walks, however it is built: its per-commit input. */
const visits = vi.hoisted(() => ({ count: 0 }));
vi.mock('../../src/stats/read-model.js', async (importOriginal) => {
  const original = await importOriginal<Record<string, unknown>>();
  const create = original.createStatsFeed as (...args: unknown[]) => Record<string, unknown>;
  return {
    ...original,
    createStatsFeed: (...args: unknown[]) => {
      // A feed that walks the tasks (a generator argument): count each task it is given.
      const wrapped = args.map((arg) =>
        typeof arg === 'function' && arg.length === 0
          ? function* () {
              for (const task of (arg as () => Iterable<unknown>)()) {
                visits.count++;
                yield task;
              }
            }
          : arg,
      );
      const feed = create(...wrapped);
      // A feed told what changed: count each change it is told about.
      if (typeof feed.track === 'function') {
        const track = feed.track as (...a: unknown[]) => void;
        feed.track = (...a: unknown[]) => {
          visits.count++;
          track(...a);
        };
      }
      return feed;
    },
  };
});

const S = 1_000;

const sampleOf = (view: TaskView): TaskSample => ({ path: view.substate ?? view.state, lease: view.lease ?? null });

describe('stats cost', () => {
  it("a subscribed supervisor's per-commit stats work does not grow with untouched tasks", async () => {
    const clock = createTestClock(T0);
    const sup = await createSupervisor({ store: memoryStore(), clock, schedule: false });
    try {
      const seen: SupervisorStats[] = [];
      sup.subscribe((stats) => seen.push(stats));
      const lease = await (async () => {
        await sup.create({ id: 'hot' });
        return sup.claim('hot', { owner: 'w' });
      })();
      const perCommit = async () => {
        await clock.advance(S);
        visits.count = 0;
        const before = seen.length;
        await sup.heartbeat('hot', { owner: 'w', epoch: lease.epoch });
        expect(seen.length).toBeGreaterThan(before);
        return visits.count / (seen.length - before);
      };
      const small = await perCommit();
      for (let i = 0; i < 2_000; i++) void sup.create({ id: `cold-${i}` });
      await clock.settle();
      const large = await perCommit();
      expect(large).toBeLessThanOrEqual(Math.max(small, 2));
      expect(seen.at(-1)!.total).toBe(2_001);
    } finally {
      await sup.close();
    }
  });
});

describe('stats equal a full recount', () => {
  it('after random histories of creates, claims, heartbeats, completions, failures, releases and time', async () => {
    const op = fc.oneof(
      fc.record({ op: fc.constant('create' as const) }),
      fc.record({ op: fc.constant('claim' as const), task: fc.nat(15), leaseMs: fc.integer({ min: 1, max: 20 * S }) }),
      fc.record({ op: fc.constant('heartbeat' as const), task: fc.nat(15), leaseMs: fc.integer({ min: 1, max: 30 * S }) }),
      fc.record({ op: fc.constantFrom('complete' as const, 'fail' as const, 'release' as const, 'quarantine' as const), task: fc.nat(15) }),
      fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 15 * S }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), async (ops) => {
        const clock = createTestClock(T0);
        const expiringSoonMs = 10 * S;
        const sup = await createSupervisor({ store: memoryStore(), clock, schedule: false, defaults: { graceMs: 2 * S, retryBackoffMs: 3 * S }, stats: { expiringSoonMs } });
        try {
          let created = 0;
          const epochOf = (id: string) => sup.get(id)?.lease?.epoch ?? 0;
          for (const step of ops) {
            const id = `t${'task' in step ? step.task % Math.max(1, created) : 0}`;
            const owner = 'w';
            const call = (() => {
              switch (step.op) {
                case 'create':
                  return sup.create({ id: `t${created++}` });
                case 'claim':
                  return sup.claim(id, { owner, leaseMs: step.leaseMs });
                case 'heartbeat':
                  return sup.heartbeat(id, { owner, epoch: epochOf(id), leaseMs: step.leaseMs });
                case 'complete':
                  return sup.complete(id, { owner, epoch: epochOf(id) });
                case 'fail':
                  return sup.fail(id, { owner, epoch: epochOf(id), error: 'x', retryable: true });
                case 'release':
                  return sup.release(id, { owner, epoch: epochOf(id) });
                case 'quarantine':
                  return sup.quarantine(id, { by: 'op', reason: 'x' });
                case 'advance':
                  return clock.advance(step.ms);
              }
            })();
            await call.catch(() => undefined);
            const stats = sup.stats();
            const recount = countTasks(sup.list().map(sampleOf), stats.at, { states: Object.keys(stats.byState) as never, expiringSoonMs });
            expect({ total: stats.total, byState: stats.byState, bySubstate: stats.bySubstate, expiringSoon: stats.expiringSoon }).toEqual(recount);
          }
        } finally {
          await sup.close();
        }
      }),
      { numRuns: 40 },
    );
  });

  it('the feed alone, told of random changes while time moves both ways, matches the full walk', () => {
    const sample = fc.option(
      fc.record({
        path: fc.constantFrom('planned.ready', 'leased', 'stale.grace', 'completed', 'failed'),
        lease: fc.option(fc.record({ expiresAt: fc.integer({ min: 0, max: 100 }) }), { nil: null }),
      }),
      { nil: null },
    );
    const step = fc.oneof(
      fc.record({ op: fc.constant('track' as const), id: fc.constantFrom('a', 'b', 'c', '__proto__', 'constructor', 'toString'), sample }),
      fc.record({ op: fc.constant('time' as const), at: fc.integer({ min: 0, max: 100 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        let at = 0;
        const options = { now: () => at, states: ['planned', 'leased', 'stale', 'failed', 'compensated', 'quarantined', 'completed'] as const, eventTypes: [], expiringSoonMs: 20, historyLimit: 10 };
        const feed = createStatsFeed(options, (listener, stats) => listener(stats));
        const live = new Map<string, TaskSample>();
        for (const s of steps) {
          if (s.op === 'time') at = s.at;
          else {
            feed.track(s.id, s.sample);
            if (s.sample) live.set(s.id, s.sample);
            else live.delete(s.id);
          }
          const stats = feed.read();
          expect({ total: stats.total, byState: stats.byState, bySubstate: stats.bySubstate, expiringSoon: stats.expiringSoon }).toEqual(countTasks(live.values(), at, options));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('names like Object.prototype members', () => {
  const LEASE = 60 * S;
  const GRACE = 10 * S;

  it.each(['__proto__', 'constructor', 'toString'])('a task and owner named %s: one spurious reclaim from one reclaim, however many late reports', async (name) => {
    const clock = createTestClock(T0);
    const sup = await createSupervisor({ store: memoryStore(), clock, schedule: false, defaults: { leaseMs: LEASE, graceMs: GRACE } });
    try {
      await sup.create({ id: name });
      const first = await sup.claim(name, { owner: name });
      await clock.advance(LEASE + GRACE + S);
      await sup.claim(name, { owner: 'other' });
      for (let i = 0; i < 3; i++) await sup.heartbeat(name, { owner: name, epoch: first.epoch }).catch(() => undefined);
      await clock.settle();
      const stats = sup.stats();
      expect(stats).toMatchObject({ reclaims: 1, spuriousReclaims: 1, lateReports: 3 });
    } finally {
      await sup.close();
    }
  });

  it.each(['__proto__', 'constructor', 'toString'])('a grace extension with reason %s is counted under that reason (and the task survives a restart)', async (reason) => {
    const clock = createTestClock(T0);
    const store = memoryStore();
    const probe: ExtensionProbe = async ({ extensions }) => (Object.hasOwn(extensions, reason) ? null : { extendMs: 5 * S, reason });
    const sup = await createSupervisor({ store, clock, schedule: false, probes: [probe], defaults: { leaseMs: LEASE, graceMs: GRACE } });
    try {
      await sup.create({ id: 'x' });
      await sup.claim('x', { owner: 'w' });
      await clock.advance(LEASE + GRACE + S);
      const stats = sup.stats();
      expect(stats.graceExtensions.total).toBe(1);
      expect(Object.entries(stats.graceExtensions.byReason)).toEqual([[reason, 1]]);
      expect(Object.entries(sup.get('x')!.lease!.graceExtensions)).toEqual([[reason, 1]]);
    } finally {
      await sup.close();
    }
    const again = await createSupervisor({ store, clock, schedule: false, probes: [probe], defaults: { leaseMs: LEASE, graceMs: GRACE } });
    expect(again.get('x')!.state).toBe('stale');
    expect(Object.entries(again.get('x')!.lease!.graceExtensions)).toEqual([[reason, 1]]);
    await again.close();
  });
});
