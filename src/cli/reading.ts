// What the CLI's reading commands (list, show, stats, diagram --live, trace) print from: the
// store as the reader finds it (src/store/reader.ts; for PostgreSQL src/store/postgres-reader.ts,
// without taking its ownership; no lock, no write), each task as the task
// view a supervisor would give. No deadline is acted on: a lease whose expiry has passed is
// still `leased`, flagged `overdue`, until a supervisor opens the store and processes it (a
// reader that fired it would have to write, and would race the supervisor that owns the store).
import {
  DEFAULT_EXPIRING_SOON_MS,
  DEFAULT_HISTORY_LIMIT,
  LIFECYCLE_EVENTS,
  TASK_STATES,
  type SupervisorStats,
  type TaskView,
} from '../index.js';
import { countTasks, createStatsStore, statsOf } from '../stats/index.js';
import { readStoreAt } from './store-target.js';
import { snapshotOf } from '../task/record.js';
import { taskView } from '../task/view.js';

/** A deadline that has passed but that no supervisor has processed yet. */
export interface Overdue {
  /** `lease`: the lease expired (the task is still shown leased); `grace`: its grace ended. */
  deadline: 'lease' | 'grace';
  at: number;
}

/** A task as read from the files: its view, plus `overdue` when one of its deadlines has passed. */
export type ReadTaskView = TaskView & { overdue?: Overdue };

export interface ReadTasks {
  location: string;
  tasks: ReadTaskView[];
}

/** The deadline of `view` that passed by `now`, if any: the one a supervisor would fire next. */
export function overdueOf(view: TaskView, now: number): Overdue | undefined {
  // A supervisor fires a deadline once `now` reaches it (its delay is max(0, deadline − now)).
  if (view.substate === 'leased' && view.lease && view.lease.expiresAt <= now) return { deadline: 'lease', at: view.lease.expiresAt };
  if (view.substate === 'stale.grace' && view.lease?.graceEndsAt != null && view.lease.graceEndsAt <= now) {
    return { deadline: 'grace', at: view.lease.graceEndsAt };
  }
  return undefined;
}

/**
 * Every task in the store at `path`, as of `now` (the caller's clock: only for the overdue
 * flags). Records are validated as a supervisor validates them at start: a bad one is
 * STORE_CORRUPT, naming the file.
 */
export async function readTasks(path: string, now: number): Promise<ReadTasks> {
  const reading = await readStoreAt(path);
  const tasks: ReadTaskView[] = [];
  for (const [id, record] of reading.tasks) {
    // Not copied: the snapshot was parsed for this view alone.
    const view: ReadTaskView = taskView(snapshotOf(reading.location, id, record), false);
    const overdue = overdueOf(view, now);
    if (overdue) view.overdue = overdue;
    tasks.push(view);
  }
  return { location: reading.location, tasks };
}

/**
 * The stats a supervisor opened on these tasks would report before doing anything (its
 * counters start at zero), plus how many tasks are overdue. Counts follow the files: an
 * overdue lease still counts as leased.
 */
export function statsOfTasks(tasks: readonly ReadTaskView[], now: number): SupervisorStats & { overdue: number } {
  const options = {
    now: () => now,
    states: TASK_STATES,
    eventTypes: LIFECYCLE_EVENTS,
    expiringSoonMs: DEFAULT_EXPIRING_SOON_MS,
    historyLimit: DEFAULT_HISTORY_LIMIT,
  };
  const counts = countTasks(
    tasks.map((task) => ({ path: task.substate, lease: task.lease })),
    now,
    options,
  );
  const context = createStatsStore({ historyLimit: options.historyLimit, since: now }).getSnapshot().context;
  return { ...statsOf(context, counts, now, options), overdue: tasks.filter((task) => task.overdue !== undefined).length };
}
