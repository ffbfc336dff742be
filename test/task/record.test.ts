// Stored records back to snapshots: resolving each distinct state value once and sharing the
// result must give exactly what XState's own resolveState gives, for every state of the machine.
import { describe, expect, it } from 'vitest';
import type { AnyStateNode } from 'xstate';
import { taskMachine } from '../../machines/task.machine.js';
import type { TaskContext } from '../../machines/task.types.js';
import { createSupervisor, memoryStore } from '../../src/index.js';
import { compactContext, resolvedSnapshot, snapshotOf } from '../../src/task/record.js';
import type { TaskRecord } from '../../src/store/types.js';
import { createTestClock } from '../../src/testing.js';

/** Every atomic state's value: `'leased'`, `{ stale: 'grace' }`, … */
function leafValues(node: AnyStateNode = taskMachine.root): unknown[] {
  const children = Object.values(node.states);
  if (children.length === 0) return [node.key];
  return children.flatMap((child) => leafValues(child).map((value) => (node === taskMachine.root ? value : { [node.key]: value })));
}

async function someContext(id: string): Promise<TaskContext> {
  const store = memoryStore();
  const sup = await createSupervisor({ store, clock: createTestClock(), schedule: false });
  await sup.create({ id, spec: { repo: 'acme/app' } });
  await sup.close();
  const { tasks } = await store.open();
  return tasks.get(id)!.context as unknown as TaskContext;
}

describe('snapshotOf', () => {
  // The shared resolution alone: snapshotOf also checks each record against its state's rules,
  // which one planned context cannot satisfy in every state.
  it('resolves, for every state, what resolveState gives, with each task its own context', async () => {
    const values = leafValues();
    expect(values.length).toBeGreaterThanOrEqual(10);
    const [a, b] = [await someContext('a'), await someContext('b')];
    for (const value of values) {
      const fromA = resolvedSnapshot(taskMachine, value as TaskRecord['state'], a);
      const fromB = resolvedSnapshot(taskMachine, value as TaskRecord['state'], b);
      const fresh = taskMachine.resolveState({ value: value as never, context: a });
      for (const snapshot of [fromA, fromB]) {
        expect(snapshot.value).toEqual(fresh.value);
        expect(snapshot._nodes).toEqual(fresh._nodes);
        expect([...snapshot.tags]).toEqual([...fresh.tags]);
        expect(snapshot.status).toBe(fresh.status);
        expect(snapshot.machine).toBe(fresh.machine);
        expect(snapshot.hasTag('terminal')).toBe(fresh.hasTag('terminal'));
        expect(snapshot.matches(value as never)).toBe(true);
      }
      expect(fromA.context.id).toBe('a');
      expect(fromB.context.id).toBe('b');
      expect(fromA.context).not.toBe(fromB.context);
    }
  });

  it('refuses a state value the machine does not have, as corrupt', async () => {
    const context = await someContext('a');
    expect(() => snapshotOf('test', 'a', { state: 'nowhere', context } as unknown as TaskRecord)).toThrow(/not a task state/);
    expect(() => snapshotOf('test', 'a', { state: { stale: 'nowhere' }, context } as unknown as TaskRecord)).toThrow(/not a task state/);
  });
});

describe('compactContext', () => {
  it('keeps every field of a context, values shared, nothing added', async () => {
    const context = await someContext('a');
    const compact = compactContext(context);
    expect(compact).toEqual(context);
    expect(Object.keys(compact).sort()).toEqual(Object.keys(context).sort());
    for (const key of Object.keys(context) as (keyof TaskContext)[]) expect(compact[key]).toBe(context[key]);
  });
});
