// Item 14, end to end through the public API: a supervisor in steady state (create →
// claimNext → heartbeats → complete → retain, a few tasks in flight) keeps its claim queue
// and its clock's timer heap O(live work), however many tasks have passed through.
// The claim queue is not reachable from the API, so the module is wrapped to see the one the
// supervisor creates; the timer heap is read through the test clock's `timerCapacity`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSupervisor, memoryStore, type Lease } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { T0 } from '../support.js';

const queues = vi.hoisted(() => [] as { size: number; capacity: number }[]);
vi.mock('../../src/supervisor/claim-queue.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/supervisor/claim-queue.js')>();
  return {
    ...original,
    createClaimQueue: (...args: Parameters<typeof original.createClaimQueue>) => {
      const queue = original.createClaimQueue(...args);
      queues.push(queue);
      return queue;
    },
  };
});

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const HOUR = 3_600_000;

describe('steady state memory', () => {
  it('keeps the claim queue and the timer heap bounded by live work over thousands of tasks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-steady-'));
    dirs.push(dir);
    const clock = createTestClock(T0);
    const sup = await createSupervisor({
      store: memoryStore(),
      clock,
      defaults: { leaseMs: 2 * HOUR },
      schedule: { reconcile: false, retentionMs: 0, archivePath: join(dir, 'archive.json') },
    });
    try {
      const queue = queues.at(-1)!;
      const IN_FLIGHT = 4;
      let created = 0;
      const leases: Lease[] = [];
      for (let i = 0; i < IN_FLIGHT; i++) await sup.create({ id: `t${created++}` });
      // A slow worker renewing its 2 h lease only every 100 min: its early deadline sits at the
      // top of the heap, so the cancelled timers of the fast workers' renewals pile up behind it.
      await sup.create({ id: 'slow' });
      let slow = await sup.claim('slow', { owner: 'slow-agent' });
      let peakQueue = 0;
      let peakHeap = 0;
      for (let round = 0; round < 3_000; round++) {
        await sup.create({ id: `t${created++}` });
        leases.push((await sup.claimNext({ owner: 'agent' }))!);
        for (let beat = 0; beat < 4; beat++) {
          await clock.advance(30_000);
          for (const [i, lease] of leases.entries()) leases[i] = await sup.heartbeat(lease.taskId, { owner: 'agent', epoch: lease.epoch });
        }
        if (round % 50 === 49) slow = await sup.heartbeat('slow', { owner: 'slow-agent', epoch: slow.epoch });
        if (leases.length >= IN_FLIGHT) {
          const done = leases.shift()!;
          await sup.complete(done.taskId, { owner: 'agent', epoch: done.epoch });
        }
        if (round % 1_000 === 999) await sup.runJob('retain');
        peakQueue = Math.max(peakQueue, queue.capacity);
        peakHeap = Math.max(peakHeap, clock.timerCapacity);
      }
      expect(queue.size).toBe(IN_FLIGHT);
      expect(sup.get('slow')?.state).toBe('leased');
      expect(clock.pendingTimers).toBeLessThanOrEqual(IN_FLIGHT + 3);
      // Live entries plus the sweep's slack (1,024), not one entry per task ever queued.
      expect.soft(peakQueue).toBeLessThanOrEqual(2 * IN_FLIGHT + 1_024);
      expect.soft(peakHeap).toBeLessThanOrEqual(2 * (IN_FLIGHT + 3) + 2);
    } finally {
      await sup.close();
    }
  });
});
