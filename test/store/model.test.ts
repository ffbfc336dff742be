// Random histories against a model: commits (writes and deletions, over a few ids, of texts
// of varying size), compactions asked for or set off by size, and restarts — clean, or from a
// copy of the files taken at that instant (what a SIGKILL leaves) — on the plain and the
// journaled store. After every restart the store must hold exactly the model's tasks: the
// bookkeeping of which tasks are kept as texts and which as places in the snapshot file, and
// of which journal lines a snapshot holds, must never lose, revive or garble a task.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compactionsSettled, jsonFileStore } from '../../src/store/json-file-store.js';
import type { Store, TaskRecord } from '../../src/store/types.js';
import { record } from './conformance.js';

const IDS = ['a', 'b', 'c', 'd', 'e', '__proto__', 'x"y'];

type Step =
  | { kind: 'commit'; changes: [string, number | null][] }
  | { kind: 'bulk'; from: number; count: number; size: number }
  | { kind: 'compact' }
  | { kind: 'settle' }
  | { kind: 'restart' }
  | { kind: 'crash' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('commit' as const), changes: fc.array(fc.tuple(fc.constantFrom(...IDS), fc.option(fc.nat({ max: 400 }), { nil: null, freq: 4 })), { minLength: 1, maxLength: 4 }) }) },
  // Enough tasks, or a task large enough, for a snapshot of several pieces (256 KiB each).
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.record({ kind: fc.constant('bulk' as const), from: fc.nat({ max: 200 }), count: fc.constant(300), size: fc.constant(1_000) }),
      fc.record({ kind: fc.constant('bulk' as const), from: fc.nat({ max: 3 }), count: fc.constant(1), size: fc.constant(300_000) }),
    ),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'compact' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'settle' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
);

/** A task whose text is `size` bytes of padding longer: sizes vary so that places in the file shift. */
const taskOf = (id: string, size: number): TaskRecord => record(id, size % 3 === 0 ? 'planned' : { leased: 'held' }, { size, pad: '·'.repeat(size) });

async function contents(store: Store) {
  const { tasks } = await store.open();
  return Object.fromEntries([...tasks].map(([id, task]) => [id, JSON.stringify(task)]));
}

for (const options of [{}, { journal: true, compactBytes: 0 }, { journal: true, compactBytes: 600 }, { journal: true }]) {
  describe(`random histories on jsonFileStore(${JSON.stringify(options)})`, () => {
    it('always reopen to exactly the acknowledged tasks', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
          const root = await mkdtemp(join(tmpdir(), 'leasehold-model-'));
          let generation = 0;
          let file = join(root, `${generation}`, 'store.json');
          let store = jsonFileStore(file, options);
          const model: Record<string, string> = {};
          try {
            expect(await contents(store)).toEqual({});
            for (const s of steps) {
              switch (s.kind) {
                case 'commit': {
                  const changes = new Map<string, TaskRecord | null>(s.changes.map(([id, size]) => [id, size === null ? null : taskOf(id, size)]));
                  await store.commit(changes);
                  for (const [id, task] of changes) {
                    if (task === null) delete model[id];
                    else Object.defineProperty(model, id, { value: JSON.stringify(task), enumerable: true, writable: true, configurable: true });
                  }
                  break;
                }
                case 'bulk': {
                  const changes = new Map(Array.from({ length: s.count }, (_, k) => [`bulk${s.from + k}`, taskOf(`bulk${s.from + k}`, s.size + k)] as const));
                  await store.commit(changes);
                  for (const [id, task] of changes) model[id] = JSON.stringify(task);
                  break;
                }
                case 'compact':
                  await store.compact?.();
                  break;
                case 'settle':
                  await compactionsSettled(store);
                  break;
                case 'restart':
                  await store.close();
                  store = jsonFileStore(file, options);
                  expect(await contents(store)).toEqual(model);
                  break;
                case 'crash': {
                  // The files as they are at this instant, a compaction perhaps under way: copied
                  // synchronously, so that the store cannot move on between one file and the next.
                  const target = join(root, `${++generation}`);
                  mkdirSync(target);
                  const from = join(file, '..');
                  for (const name of readdirSync(from)) {
                    if (!name.endsWith('.lock') && !name.endsWith('.lock.owner')) copyFileSync(join(from, name), join(target, name));
                  }
                  const crashed = store;
                  file = join(target, 'store.json');
                  store = jsonFileStore(file, options);
                  expect(await contents(store)).toEqual(model);
                  await crashed.close();
                  break;
                }
              }
            }
            await store.close();
            expect(await contents((store = jsonFileStore(file, options)))).toEqual(model);
          } finally {
            await store.close();
            await rm(root, { recursive: true, force: true });
          }
        }),
        { numRuns: 60 },
      );
    }, 60_000);
  });
}
