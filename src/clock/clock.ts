// The one clock that machines, supervisor and store share: the current time plus timers.
// `systemClock()` is the production clock; tests use `createTestClock()` from
// `leasehold/testing`. Nothing else in leasehold reads the wall clock or arms a timer.
import { createTimerQueue, type TimerQueue } from './timer-queue.js';

export type TimerHandle = number;

export interface Clock {
  /** Epoch milliseconds (UTC). */
  now(): number;
  /** XState's clock contract: arms `fn` to run `ms` from now. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** Fires, synchronously and oldest first, every timer whose deadline is not after now. */
  runDue(): void;
  /**
   * Lets a supervisor tell the clock how to wait for it to settle (persisted, and invoked
   * work finished when `awaitWork`). Test clocks await it after firing timers; returns the
   * detach function.
   */
  attach(settled: (awaitWork: boolean) => Promise<void>): () => void;
}

/** Node refuses delays above 2^31 - 1 ms (≈ 24.8 days); longer waits re-arm in chunks. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export function fireDue(queue: TimerQueue, now: () => number): void {
  for (let timer = queue.takeDue(now()); timer; timer = queue.takeDue(now())) timer.fire();
}

export const delayOf = (ms: number) => (Number.isFinite(ms) && ms > 0 ? ms : 0);

/** The wall clock, driving its timer queue with a single Node timer for the earliest deadline. */
export function systemClock(): Clock {
  const queue = createTimerQueue();
  let wake: ReturnType<typeof globalThis.setTimeout> | undefined;
  let wakeAt: number | undefined;
  const now = () => Date.now();

  const rearm = () => {
    const next = queue.nextAt();
    if (next === wakeAt) return;
    if (wake !== undefined) globalThis.clearTimeout(wake);
    wake = undefined;
    wakeAt = next;
    if (next === undefined) return;
    wake = globalThis.setTimeout(tick, Math.min(MAX_TIMER_DELAY_MS, Math.max(0, next - now())));
  };
  const tick = () => {
    wake = undefined;
    wakeAt = undefined;
    fireDue(queue, now);
    rearm();
  };

  return {
    now,
    setTimeout(fn, ms) {
      const id = queue.add(now() + delayOf(ms), fn);
      rearm();
      return id;
    },
    clearTimeout(handle) {
      queue.remove(handle);
      rearm();
    },
    runDue() {
      fireDue(queue, now);
      rearm();
    },
    attach() {
      return () => {};
    },
  };
}
