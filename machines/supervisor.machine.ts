// The supervisor's own lifecycle: opening → restoring → running → closing → closed. Its
// mailbox is what serialises every command: while running, each `supervisor.command` is
// executed to completion before the next one is looked at. The store I/O and the command
// execution are supplied by the runtime (src/supervisor/) through `provide()`.
import { assign, fromPromise, setup } from 'xstate';

/** A command travels with its reply callback; the machine only decides whether it runs. */
export interface SupervisorCommand {
  type: 'supervisor.command';
  run: () => void;
  refuse: () => void;
}

export type SupervisorEvent = SupervisorCommand | { type: 'supervisor.close' };

export interface SupervisorContext {
  /** Why opening or restoring failed, for the caller of createSupervisor. */
  error: unknown;
}

export const supervisorMachine = setup({
  types: {} as { context: SupervisorContext; events: SupervisorEvent },
  actions: {
    executeCommand: ({ event }) => {
      if (event.type === 'supervisor.command') event.run();
    },
    refuseCommand: ({ event }) => {
      if (event.type === 'supervisor.command') event.refuse();
    },
    recordError: assign({ error: (_, params: { error: unknown }) => params.error }),
  },
  actors: {
    openStore: fromPromise<void>(async () => {
      throw new Error('openStore is supplied by the supervisor runtime');
    }),
    restoreTasks: fromPromise<void>(async () => {
      throw new Error('restoreTasks is supplied by the supervisor runtime');
    }),
    closeStore: fromPromise<void>(async () => {
      throw new Error('closeStore is supplied by the supervisor runtime');
    }),
  },
}).createMachine({
  id: 'supervisor',
  context: { error: null },
  initial: 'opening',
  on: { 'supervisor.command': { actions: 'refuseCommand' } },
  states: {
    opening: {
      description: 'Takes the store lock and reads every task.',
      invoke: {
        src: 'openStore',
        onDone: 'restoring',
        onError: { target: 'failed', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
      },
    },
    restoring: {
      description: 'Rebuilds task actors and re-arms their timers from stored deadlines, oldest first.',
      invoke: {
        src: 'restoreTasks',
        onDone: 'running',
        onError: { target: 'closing', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
      },
    },
    running: {
      on: {
        'supervisor.command': { actions: 'executeCommand' },
        'supervisor.close': 'closing',
      },
    },
    closing: {
      description: 'Stops task actors, waits for the last write and releases the lock.',
      invoke: { src: 'closeStore', onDone: 'closed', onError: 'closed' },
    },
    closed: { type: 'final' },
    failed: { type: 'final' },
  },
});

export type SupervisorMachine = typeof supervisorMachine;
