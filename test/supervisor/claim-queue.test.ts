// The claim queue against a plain model (filter and sort on every question) over random
// adds and removes, enough of them that tombstones pile up and get swept.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PRIORITIES, type Priority } from '../../machines/task.types.js';
import { createClaimQueue, type ClaimKey } from '../../src/supervisor/claim-queue.js';

const LABELS = ['gpu', 'linux', 'big'];
const rank = (p: Priority) => PRIORITIES.indexOf(p);

function modelFirst(live: Map<string, ClaimKey>, wanted: string[]) {
  return [...live]
    .filter(([, key]) => wanted.every((label) => key.labels.includes(label)))
    .sort(([, a], [, b]) => rank(a.priority) - rank(b.priority) || a.createdAt - b.createdAt || a.seq - b.seq)[0]?.[0];
}

const step = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('add' as const), id: fc.nat(3_000), priority: fc.constantFrom(...PRIORITIES), createdAt: fc.nat(50), labels: fc.subarray(LABELS) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('remove' as const), id: fc.nat(3_000) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('takeFirst' as const), labels: fc.subarray(LABELS) }) },
);

describe('claim queue', () => {
  it.each([1_024, 4])('answers first(labels) and size like a sorted scan, through thousands of adds and removes (sweep at %i tombstones)', (sweepAt) => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 3_000, maxLength: 6_000 }), (steps) => {
        const queue = createClaimQueue({ sweepAt });
        const live = new Map<string, ClaimKey>();
        let seq = 0;
        for (const s of steps) {
          if (s.op === 'add') {
            const id = `t${s.id}`;
            const key = { priority: s.priority, createdAt: s.createdAt, labels: s.labels, seq: seq++ };
            queue.add(id, key);
            if (!live.has(id)) live.set(id, key);
          } else if (s.op === 'remove') {
            queue.remove(`t${s.id}`);
            live.delete(`t${s.id}`);
          } else {
            const id = queue.first(s.labels);
            expect(id).toBe(modelFirst(live, s.labels));
            if (id !== undefined) {
              queue.remove(id);
              live.delete(id);
            }
          }
          expect(queue.size).toBe(live.size);
        }
        expect(queue.first()).toBe(modelFirst(live, []));
      }),
      { numRuns: 20 },
    );
  });
});
