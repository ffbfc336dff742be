// The supervisor's own lifecycle: opening → restoring → running → closing → closed. Every
// command passes through its mailbox, and only the running state admits one; the runtime
// (src/supervisor/) then executes it to completion before the next can be admitted. The
// store I/O is supplied by the runtime through `provide()`.
import { assign, fromPromise, setup } from 'xstate';

/** A command asks to be admitted; the machine decides, the runtime executes. */
export interface SupervisorCommand {
  type: 'supervisor.command';
  admit: () => void;
}

type SupervisorEvent = SupervisorCommand | { type: 'supervisor.close' };

export interface SupervisorContext {
  /** Why opening or restoring failed, for the caller of createSupervisor. */
  error: unknown;
}

export const supervisorMachine = setup({
  types: {} as { context: SupervisorContext; events: SupervisorEvent },
  actions: {
    // Executing inside the action would run task-machine transitions within a custom action,
    // which XState warns against; admission is all the machine needs to decide.
    admitCommand: ({ event }) => {
      if (event.type === 'supervisor.command') event.admit();
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
      description: 'Rebuilds every task from its stored snapshot and re-arms its timers from stored deadlines, oldest first.',
      invoke: {
        src: 'restoreTasks',
        onDone: 'running',
        onError: { target: 'closing', actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) } },
      },
    },
    running: {
      on: {
        'supervisor.command': { actions: 'admitCommand' },
        'supervisor.close': 'closing',
      },
    },
    closing: {
      description: "Stops every task's timers, waits for the last write and releases the lock.",
      invoke: { src: 'closeStore', onDone: 'closed', onError: 'closed' },
    },
    closed: { type: 'final' },
    failed: { type: 'final' },
  },
});
