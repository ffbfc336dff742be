// The compensator a caller registers, as a shape: it lives apart from task-logic.ts so that
// the options (and the public types) do not import the runtime that builds task machines.
// The logger, which other rooms speak too, is src/logger.ts.
import type { Json } from '../../machines/task.types.js';
import type { TaskView } from '../task/view.js';

export type Compensator = (args: Json, task: TaskView) => Promise<void> | void;
