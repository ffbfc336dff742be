// The invariants of DESIGN.md as one checker, shared by unit tests, generated model paths
// and random schedules. Feed it every observation of a supervisor; it remembers what it
// saw before and fails on anything that breaks an invariant.
import { expect } from 'vitest';
import type { Supervisor, TaskView } from '../src/index.js';

const TERMINAL = new Set(['completed', 'compensated', 'quarantined']);

export function createInvariantChecker() {
  const seen = new Map<string, TaskView>();

  return {
    /** Checks every task of `sup` at time `now` against itself and against what was seen before. */
    check(sup: Supervisor, now: number): void {
      for (const task of sup.list()) {
        const where = `task ${task.id} (${task.substate})`;
        const before = seen.get(task.id);

        // 1. at most one live lease, fenced by the task's current epoch
        if (task.state === 'leased') {
          expect(task.lease, `${where}: leased without a lease`).not.toBeNull();
          expect(task.lease!.epoch, `${where}: lease epoch`).toBe(task.epoch);
          expect(task.lease!.expiresAt, `${where}: a live lease past its deadline`).toBeGreaterThan(now);
        } else if (task.state !== 'stale') {
          expect(task.lease, `${where}: a lease outside leased/stale`).toBeNull();
        } else {
          expect(task.lease!.expiresAt, `${where}: stale before its deadline`).toBeLessThanOrEqual(now);
        }
        expect(task.epoch, `${where}: epoch vs attempts`).toBe(task.attempts);

        if (before) {
          // 1. epochs never go back; each claim takes a strictly larger one
          expect(task.epoch, `${where}: epoch went back`).toBeGreaterThanOrEqual(before.epoch);
          if (task.lease && before.lease && task.lease.owner !== before.lease.owner) {
            expect(task.lease.epoch, `${where}: new owner without a new epoch`).toBeGreaterThan(before.lease.epoch);
          }
          // 3. terminal states absorb everything but annotations
          if (TERMINAL.has(before.state)) {
            expect(task.state, `${where}: left terminal state ${before.state}`).toBe(before.state);
            expect(task.terminal, `${where}: terminal record changed`).toEqual(before.terminal);
            expect(task.epoch, `${where}: terminal task re-leased`).toBe(before.epoch);
            expect(task.compensations, `${where}: terminal ledger changed`).toEqual(before.compensations);
          }
          // 4. the compensation ledger never shrinks and done entries stay done
          expect(task.compensations.length, `${where}: ledger shrank`).toBeGreaterThanOrEqual(before.compensations.length);
          for (const [i, entry] of before.compensations.entries()) {
            expect(task.compensations[i]!.action, `${where}: ledger entry ${i} replaced`).toBe(entry.action);
            if (entry.status === 'done') expect(task.compensations[i]!.status, `${where}: done entry reopened`).toBe('done');
            expect(task.compensations[i]!.attempts, `${where}: attempts went back`).toBeGreaterThanOrEqual(entry.attempts);
          }
          expect(task.progress, `${where}: progress went back`).toBeGreaterThanOrEqual(before.progress);
          expect(task.staleCount, `${where}: staleCount went back`).toBeGreaterThanOrEqual(before.staleCount);
        }
        // 4. `compensated` means every compensation ran
        if (task.state === 'compensated') {
          expect(task.compensations.every((c) => c.status === 'done'), `${where}: compensated with undone entries`).toBe(true);
        }
        seen.set(task.id, task);
      }
    },
  };
}
