// Item 14 (b): cancelled timers do not stay in the heap until their deadline. A lease re-armed
// by every heartbeat leaves one cancelled timer behind each time; the heap must stay
// O(live timers), in the queue and in both clocks that use it.
import { describe, expect, it } from 'vitest';
import { createTimerQueue } from '../../src/clock/timer-queue.js';
import { createTestClock } from '../../src/testing.js';

const HOUR = 3_600_000;

describe('timer queue memory', () => {
  it('keeps the heap O(live) when timers are cancelled long before their deadline', () => {
    const queue = createTimerQueue();
    const live: number[] = [];
    let peak = 0;
    for (let i = 0; i < 200_000; i++) {
      live.push(queue.add(2 * HOUR + i, () => {}));
      if (live.length > 8) queue.remove(live.shift()!);
      peak = Math.max(peak, queue.capacity);
    }
    expect(queue.size).toBe(8);
    expect(peak).toBeLessThanOrEqual(2 * 8 + 2);
  });

  it('still fires the live timers in deadline order after compactions', () => {
    const queue = createTimerQueue();
    const fired: number[] = [];
    const ids = new Map<number, number>();
    for (let i = 0; i < 10_000; i++) ids.set(i, queue.add(10_000 - i, () => fired.push(i)));
    for (let i = 0; i < 10_000; i++) if (i % 7 !== 0) queue.remove(ids.get(i)!);
    expect(queue.capacity).toBeLessThanOrEqual(2 * queue.size + 1);
    for (let t = queue.takeDue(Infinity); t; t = queue.takeDue(Infinity)) t.fire();
    const expected = [...ids.keys()].filter((i) => i % 7 === 0).sort((a, b) => b - a);
    expect(fired).toEqual(expected);
  });

  it('the test clock forgets cleared timers (a heartbeat re-arming a 2 h lease every 30 s)', async () => {
    const clock = createTestClock(0);
    let handle = clock.setTimeout(() => {}, 2 * HOUR);
    for (let beat = 0; beat < 20_000; beat++) {
      clock.clearTimeout(handle);
      handle = clock.setTimeout(() => {}, 2 * HOUR);
      if (beat % 1_000 === 0) await clock.advance(30_000);
    }
    expect(clock.pendingTimers).toBe(1);
    expect(clock.timerCapacity).toBeLessThanOrEqual(3);
  });
});
