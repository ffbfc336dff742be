// `leasehold/testing`: a deterministic clock for tests. Time moves only when the test says
// so, and `advance` returns once every supervisor on the clock has persisted what the
// fired timers changed, so no test ever sleeps to wait for an expiry.
import { delayOf, fireDue, type Clock } from './clock/clock.js';
import { createTimerQueue } from './clock/timer-queue.js';

export interface TestClock extends Clock {
  /**
   * Moves time forward by `ms`, firing due timers in deadline order (time stands at each
   * timer's deadline while it fires) and waiting for attached supervisors to settle after
   * each one.
   */
  advance(ms: number): Promise<void>;
  /** Moves time to an absolute epoch-ms instant (never backwards), like `advance`. */
  advanceTo(at: number): Promise<void>;
  /** Waits for attached supervisors to settle without moving time. */
  settle(): Promise<void>;
  /** Number of armed timers (for assertions about re-arming). */
  readonly pendingTimers: number;
  /** Deadline of the earliest armed timer. */
  nextTimerAt(): number | undefined;
  /**
   * Entries the clock's timer heap holds, cleared timers not yet dropped included: for tests
   * that memory follows live timers (it stays below about twice `pendingTimers`).
   */
  readonly timerCapacity: number;
}

export interface TestClockOptions {
  /**
   * Whether settling waits for running compensation handlers and extension probes to finish
   * (default true). Set it to false in tests that hold such work open on purpose and release
   * it themselves: then only work that finishes within a few event-loop turns is waited for.
   */
  awaitWork?: boolean;
}

export function createTestClock(startMs = Date.UTC(2026, 0, 1), options: TestClockOptions = {}): TestClock {
  if (!Number.isFinite(startMs)) throw new TypeError('createTestClock: startMs must be a finite number');
  const queue = createTimerQueue();
  const settlers = new Set<(awaitWork: boolean) => Promise<void>>();
  const awaitWork = options.awaitWork ?? true;
  let current = startMs;

  const settle = async () => {
    for (const settled of [...settlers]) await settled(awaitWork);
  };

  const advanceTo = async (target: number) => {
    if (!Number.isFinite(target)) throw new TypeError('advance: time must be finite');
    await settle();
    for (;;) {
      const next = queue.nextAt();
      if (next === undefined || next > target) break;
      current = Math.max(current, next);
      queue.takeDue(current)?.fire();
      await settle();
    }
    current = Math.max(current, target);
    await settle();
  };

  return {
    now: () => current,
    setTimeout: (fn, ms) => queue.add(current + delayOf(ms), fn),
    clearTimeout: (handle) => queue.remove(handle),
    runDue: () => fireDue(queue, () => current),
    attach(settled) {
      settlers.add(settled);
      return () => settlers.delete(settled);
    },
    advance: (ms) => advanceTo(current + ms),
    advanceTo,
    settle,
    get pendingTimers() {
      return queue.size;
    },
    nextTimerAt: () => queue.nextAt(),
    get timerCapacity() {
      return queue.capacity;
    },
  };
}

export type { Clock } from './clock/clock.js';
