// The supervisor machine's own paths (opening → restoring → running → closing → closed, and
// the failures on the way), generated with @xstate/graph and run against real stores: a
// failed open is a store another supervisor holds, a failed restore a corrupt record, a
// failed close a store whose lock release fails.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StatePath } from '@xstate/graph';
import { expect } from 'vitest';
import type { AnyStateNode, EventObject, InspectionEvent, SnapshotFrom } from 'xstate';
import type { supervisorMachine } from '../../machines/supervisor.machine.js';
import { createSupervisor, jsonFileStore, type Store } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { activePaths } from './coverage.js';

type SupervisorSnapshot = SnapshotFrom<typeof supervisorMachine>;

/** In each state: the outcomes of its invoked actor, and in `running` a command and close. */
export function supervisorEvents(snapshot: SupervisorSnapshot): EventObject[] {
  const invoked = (snapshot._nodes as AnyStateNode[]).flatMap((node) =>
    [...node.transitions.keys()].filter((type) => type.startsWith('xstate.done.actor.') || type.startsWith('xstate.error.actor.')),
  );
  const running = snapshot.matches('running')
    ? [{ type: 'supervisor.command', admit: () => {} }, { type: 'supervisor.close' }]
    : [];
  return [...invoked.map((type) => ({ type })), ...running];
}

const failsIn = (path: StatePath<SupervisorSnapshot, EventObject>, state: string) =>
  path.steps.some((s) => s.event.type === `xstate.error.actor.0.supervisor.${state}`);

export async function runSupervisorPath(path: StatePath<SupervisorSnapshot, EventObject>, inspect: (event: InspectionEvent) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-supervisor-model-'));
  const file = join(dir, 'store.json');
  const visited = new Set<string>();
  const watch = (event: InspectionEvent) => {
    inspect(event);
    if (event.type !== '@xstate.snapshot') return;
    const snapshot = event.snapshot as { machine?: { id: string }; value?: unknown };
    if (snapshot.machine?.id === 'supervisor') activePaths(snapshot.value).forEach((s) => visited.add(s));
  };
  const clock = createTestClock();
  const store = (): Store => {
    const inner = jsonFileStore(file);
    if (!failsIn(path, 'closing')) return inner;
    return { ...inner, location: inner.location, open: () => inner.open(), commit: (c) => inner.commit(c), close: async () => {
      await inner.close();
      throw new Error('lock release failed');
    } };
  };
  try {
    if (failsIn(path, 'restoring')) {
      writeFileSync(file, JSON.stringify({ formatVersion: 1, tasks: { t: { state: 'leased', context: { id: 't' } } } }));
    }
    const holder = failsIn(path, 'opening') ? await createSupervisor({ store: jsonFileStore(file), clock }) : undefined;
    const opening = createSupervisor({ store: store(), clock, inspect: watch });
    if (holder) {
      await expect(opening).rejects.toMatchObject({ code: 'STORE_LOCKED' });
      await holder.close();
    } else if (failsIn(path, 'restoring')) {
      await expect(opening).rejects.toMatchObject({ code: 'STORE_CORRUPT' });
    } else {
      const sup = await opening;
      if (path.steps.some((s) => s.event.type === 'supervisor.command')) await sup.create({ id: 'one' });
      if (path.steps.some((s) => s.event.type === 'supervisor.close')) {
        await sup.close();
        await expect(sup.create({ id: 'two' })).rejects.toMatchObject({ code: 'SUPERVISOR_CLOSED' });
      } else {
        expect(sup.get('one')?.state ?? 'planned').toBe('planned');
        await sup.close();
      }
    }
    for (const state of activePaths(path.state.value)) expect(visited, `never reached ${state}`).toContain(state);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
