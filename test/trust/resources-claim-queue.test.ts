// Item 14 (a): the claim queue's array stays O(live entries + bounded slack) however many
// tasks pass through it, whether they leave from the head (claimNext) or from anywhere.
import { describe, expect, it } from 'vitest';
import { createClaimQueue } from '../../src/supervisor/claim-queue.js';

const key = (seq: number, priority: 'low' | 'medium' | 'high' = 'medium') => ({ priority, createdAt: seq, seq, labels: [] });

describe('claim queue memory', () => {
  it('stays bounded when every task is taken from the head (steady create → claimNext)', () => {
    const queue = createClaimQueue();
    let seq = 0;
    for (let i = 0; i < 5; i++) queue.add(`t${seq}`, key(seq++));
    let peak = 0;
    for (let round = 0; round < 200_000; round++) {
      queue.add(`t${seq}`, key(seq++));
      const head = queue.first()!;
      queue.remove(head);
      peak = Math.max(peak, queue.capacity);
    }
    expect(queue.size).toBe(5);
    expect(peak).toBeLessThanOrEqual(5 + 2 * 1_024);
  });

  it('stays bounded when tasks leave from the middle and the tail', () => {
    const queue = createClaimQueue({ sweepAt: 64 });
    let seq = 0;
    const live: string[] = [];
    let peak = 0;
    for (let round = 0; round < 100_000; round++) {
      const id = `t${seq}`;
      queue.add(id, key(seq++, round % 3 === 0 ? 'high' : 'low'));
      live.push(id);
      if (live.length > 20) queue.remove(live.splice((round * 7) % live.length, 1)[0]!);
      peak = Math.max(peak, queue.capacity);
    }
    expect(queue.size).toBe(20);
    expect(peak).toBeLessThanOrEqual(20 + 2 * 64 + 1);
  });

  it('gives the same head as before after many sweeps', () => {
    const queue = createClaimQueue({ sweepAt: 4 });
    for (let i = 0; i < 1_000; i++) queue.add(`t${i}`, key(i));
    for (let i = 0; i < 990; i++) {
      expect(queue.first()).toBe(`t${i}`);
      queue.remove(`t${i}`);
    }
    expect(queue.first()).toBe('t990');
    expect(queue.capacity).toBeLessThanOrEqual(10 + 2 * 4 + 1);
  });
});
