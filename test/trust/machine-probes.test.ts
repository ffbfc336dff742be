// Issue #11 item 7: a probe or policy that fails in any way (a synchronous throw, a value
// that is not a promise, a rejection, a hang past `probeTimeoutMs` on the injected clock)
// grants nothing and is logged; the lease then expires as usual. More generally a task
// machine never reaches XState's `error` status: the runner refuses such a step.
import { describe, expect, it } from 'vitest';
import { taskMachine } from '../../machines/task.machine.js';
import type { TaskInput } from '../../machines/task.types.js';
import type { ExtensionProbe, LeasePolicy, Logger, SupervisorOptions } from '../../src/index.js';
import { createTaskRunner, type TaskSlot } from '../../src/supervisor/task-runner.js';
import { createTestClock } from '../../src/testing.js';
import { harness, T0 } from '../support.js';

const S = 1000;
const LIMITS = { leaseMs: 10 * S, graceMs: 5 * S };

function recorder() {
  const warnings: string[] = [];
  const logger: Logger = { warn: (message: string) => void warnings.push(message), info: () => {} };
  return { warnings, logger };
}

/** Claims `t`, lets lease and grace run out, and returns where the task ended up. */
async function expireWith(options: Partial<SupervisorOptions>, awaitWork = true) {
  const { warnings, logger } = recorder();
  const h = await harness({ defaults: LIMITS, logger, ...options }, createTestClock(T0, { awaitWork }));
  await h.sup.create({ id: 't' });
  await h.sup.claim('t', { owner: 'a' });
  await h.clock.advance(LIMITS.leaseMs + LIMITS.graceMs);
  return { h, warnings };
}

describe('a failing extension probe grants nothing, is logged, and the lease expires', () => {
  const failing: [string, ExtensionProbe][] = [
    ['throws synchronously', () => { throw new Error('probe bug'); }],
    ['returns a value that is not a promise', (() => ({ extendMs: 60 * S, reason: 'sync' })) as unknown as ExtensionProbe],
    ['returns undefined', (() => undefined) as unknown as ExtensionProbe],
    ['rejects', () => Promise.reject(new Error('probe down'))],
    ['resolves to garbage', () => Promise.resolve({ extendMs: NaN, reason: 'garbage' })],
  ];

  it.each(failing)('a probe that %s', async (_, probe) => {
    const { h, warnings } = await expireWith({ probes: [probe] });
    expect(h.sup.get('t')!.substate).toBe('stale.expired');
    expect(warnings.some((w) => w.includes('probe') && w.includes('"t"'))).toBe(true);
    // The task works on: another owner can take it over.
    await expect(h.sup.claim('t', { owner: 'b' })).resolves.toMatchObject({ owner: 'b', epoch: 2 });
  });

  it('a probe that throws synchronously does not stop the next probe from being asked', async () => {
    const { h } = await expireWith({
      probes: [() => { throw new Error('probe bug'); }, () => Promise.resolve({ extendMs: 20 * S, reason: 'second' })],
    });
    expect(h.sup.get('t')).toMatchObject({ substate: 'stale.grace', lease: { graceExtensions: { second: 1 } } });
  });

  it('a policy whose extendGrace throws, or returns a promise, grants nothing and is logged', async () => {
    for (const extendGrace of [() => { throw new Error('policy bug'); }, () => Promise.resolve({ extendMs: S, reason: 'async' })]) {
      const policy = { name: 'odd', leaseMs: () => LIMITS.leaseMs, graceMs: () => LIMITS.graceMs, extendGrace } as unknown as LeasePolicy;
      const { h, warnings } = await expireWith({ policy });
      expect(h.sup.get('t')!.substate).toBe('stale.expired');
      expect(warnings.some((w) => w.includes('"odd"'))).toBe(true);
    }
  });

  it('a probe that hangs is given up on after probeTimeoutMs of the injected clock (default 30 s), without real time passing', async () => {
    const hung: ExtensionProbe = () => new Promise(() => {});
    const { h, warnings } = await expireWith({ probes: [hung] }, false);
    expect(h.sup.get('t')!.substate).toBe('stale.deciding');
    await h.clock.advance(30 * S - 1);
    expect(h.sup.get('t')!.substate).toBe('stale.deciding');
    await h.clock.advance(1);
    expect(h.sup.get('t')!.substate).toBe('stale.expired');
    expect(warnings.some((w) => w.includes('did not answer within 30000 ms'))).toBe(true);
  });

  it('probeTimeoutMs is an option, checked like every other', async () => {
    const hung: ExtensionProbe = () => new Promise(() => {});
    const { h } = await expireWith({ probes: [hung], probeTimeoutMs: 2 * S }, false);
    await h.clock.advance(2 * S);
    expect(h.sup.get('t')!.substate).toBe('stale.expired');
    for (const probeTimeoutMs of [0, -1, NaN, Infinity, '5']) {
      await expect(harness({ probeTimeoutMs: probeTimeoutMs as number })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    }
  });
});

describe('the task runner never keeps a snapshot in XState’s error status', () => {
  const input: TaskInput = {
    id: 'r',
    spec: null,
    priority: 'medium',
    labels: [],
    limits: { leaseMs: 1000, graceMs: 0, maxAttempts: 3, maxStale: 3, maxRenewals: 10, retryBackoffMs: 0, maxRetryBackoffMs: 0, compensationAttempts: 1, compensationBackoffMs: 0 },
    compensations: [],
    createdAt: T0,
  };

  it('refuses a step that would put the task in error status, keeps the previous snapshot, reports it, and throws to a caller', () => {
    const clock = createTestClock(T0);
    const crashes: unknown[] = [];
    const runner = createTaskRunner<TaskSlot>({
      logic: taskMachine.provide({ delays: { leaseExpiry: 1000, graceExpiry: 0, retryBackoff: 0, compensationBackoff: 0 } }),
      work: {},
      clock,
      emitted: () => {},
      stepped: () => {},
      crashed: (_, error) => void crashes.push(error),
    });
    const slot: TaskSlot = { id: 'r', snapshot: undefined as never, timers: null, stopped: false };
    runner.init(slot, input);
    runner.send(slot, { type: 'lease.claim', owner: 'a', leaseMs: 1000, graceMs: 0, at: T0 });
    const before = slot.snapshot;
    // An actor error no state handles (here: for work that is not running) is what XState
    // turns into status 'error'.
    const stray = { type: 'xstate.error.actor.0.task.stale.deciding', error: new Error('stray'), actorId: '0.task.stale.deciding' };
    expect(() => runner.send(slot, stray as never)).toThrow(/error status/);
    expect(slot.snapshot).toBe(before);
    expect(slot.snapshot.status).toBe('active');
    expect(crashes).toHaveLength(1);
  });
});

describe('no sequence of events, failing policies, probes and compensations puts a task in error status', () => {
  /** mulberry32: a small seeded generator, so a failure replays exactly. */
  const random = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };

  it.each([1, 2, 3])('seed %i: 300 random steps', async (seed) => {
    const next = random(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const statuses = new Set<string>();
    const seen = new Set<string>();
    const { warnings, logger } = recorder();

    const behaviours = [
      () => { throw new Error('sync throw'); },
      () => 'not a promise',
      () => Promise.reject(new Error('rejected')),
      () => new Promise(() => {}),
      () => Promise.resolve({ extendMs: pick([NaN, -1, Infinity, 2 * S]), reason: 'random' }),
      () => Promise.resolve(null),
    ];
    const odd = () => pick([NaN, Infinity, -3, 0, 0.2, 'x', undefined, 4 * S, 8 * S]);
    const policy = {
      name: 'chaos',
      leaseMs: () => (next() < 0.3 ? odd() : 6 * S),
      graceMs: () => (next() < 0.3 ? odd() : 2 * S),
      extendGrace: () => pick([() => null, () => { throw new Error('policy bug'); }, () => ({ extendMs: odd(), reason: 'policy' })])(),
    } as unknown as LeasePolicy;

    const h = await harness(
      {
        defaults: { leaseMs: 5 * S, graceMs: 2 * S, maxAttempts: 4, compensationAttempts: 2, compensationBackoffMs: 0, retryBackoffMs: 0 },
        policy,
        logger,
        probes: [() => pick(behaviours)() as never, () => pick(behaviours)() as never],
        probeTimeoutMs: 3 * S,
        compensators: { undo: () => pick(behaviours)() as never },
        // Hung handlers time out and are retried; closing does not wait for ones still hanging.
        compensationTimeoutMs: 3 * S,
        closeTimeoutMs: 0,
        inspect: (event) => {
          if (event.type !== '@xstate.snapshot') return;
          const snapshot = event.snapshot as unknown as { status: string; value: unknown };
          statuses.add(snapshot.status);
          seen.add(JSON.stringify(snapshot.value));
        },
      },
      createTestClock(T0, { awaitWork: false }),
    );
    const ids = ['t1', 't2', 't3'];
    for (const id of ids) await h.sup.create({ id, compensations: [{ action: 'undo' }] });

    const unexpected: unknown[] = [];
    const call = (promise: Promise<unknown>) =>
      promise.catch((error: { code?: string }) => {
        if (!['LEASE_CONFLICT', 'TERMINAL_TASK'].includes(error?.code ?? '')) unexpected.push(error);
      });
    let created = ids.length;
    for (let step = 0; step < 300; step++) {
      const slot = Math.floor(next() * ids.length);
      // A finished task is replaced by a fresh one, so the walk keeps finding live tasks.
      if (h.sup.get(ids[slot]!)!.terminal) {
        ids[slot] = `t${++created}`;
        await h.sup.create({ id: ids[slot]!, compensations: [{ action: 'undo' }] });
      }
      const id = ids[slot]!;
      const owner = pick(['a', 'b']);
      const epoch = h.sup.get(id)!.epoch || 1;
      const action = pick(['claim', 'claim', 'heartbeat', 'heartbeat', 'fail', 'fail', 'complete', 'release', 'extend', 'add', 'annotate', 'advance', 'advance', 'advance'] as const);
      if (action === 'claim') await call(h.sup.claim(id, { owner }));
      else if (action === 'heartbeat') await call(h.sup.heartbeat(id, { owner, epoch, progress: Math.floor(next() * 100) }));
      else if (action === 'fail') await call(h.sup.fail(id, { owner, epoch, error: 'boom', retryable: next() < 0.5 }));
      else if (action === 'complete') await call(h.sup.complete(id, { owner, epoch }));
      else if (action === 'release') await call(h.sup.release(id, { owner, epoch }));
      else if (action === 'extend') await call(h.sup.extend(id, { owner, epoch, windowMs: 3 * S }));
      else if (action === 'add') await call(h.sup.addCompensation(id, { owner, epoch, action: 'undo' }));
      else if (action === 'annotate') await call(h.sup.annotate(id, { step }));
      else await h.clock.advance(Math.floor(next() * 4 * S));
    }
    await h.clock.advance(60 * S);

    expect(unexpected).toEqual([]);
    // The walk went where the failures are: grace decisions and compensations.
    expect([...seen]).toEqual(expect.arrayContaining(['{"stale":"deciding"}', '{"failed":"running"}', '{"stale":"expired"}']));
    expect([...statuses].filter((status) => status === 'error')).toEqual([]);
    expect(warnings.filter((w) => w.includes('internal error'))).toEqual([]);
    // Every stale task moved on: none is left deciding once its probes have timed out.
    expect(h.sup.list().map((task) => task.substate)).not.toContain('stale.deciding');
  }, 60_000);
});
