// The supervisor's plug-in shapes that other rooms also speak: the logger (the supervisor,
// its hooks, the lease terms and the scheduled jobs all warn through it) and the compensator
// a caller registers. They live apart from task-logic.ts so that a room needing only the
// shape (src/schedule) does not import the runtime that builds task machines.
import type { Json } from '../../machines/task.types.js';
import type { TaskView } from './view.js';

export type Compensator = (args: Json, task: TaskView) => Promise<void> | void;

export interface Logger {
  warn(message: string, ...details: unknown[]): void;
  /** Routine output (the `report` sweep's stats line); without it, console.log is used. */
  info?(message: string, ...details: unknown[]): void;
}
