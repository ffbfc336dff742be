// The task-derived part of the stats: how many tasks there are, by state and by full state
// path (substate), and how many leased tasks expire soon. Kept incrementally from the changes
// the supervisor reports for each task it touches, so reading (on every commit, for subscribers) costs O(what changed), not
// O(tasks). `countTasks` is the full walk it must always agree with (tests compare the two).
import { createTimerQueue } from '../clock/timer-queue.js';
import type { TaskState } from '../../machines/task.types.js';

/** What the counts need from one live task. */
export interface TaskSample {
  /** Its state path, e.g. `stale.grace`. */
  path: string;
  lease: { expiresAt: number } | null;
}

export interface TaskCounts {
  total: number;
  byState: Record<TaskState, number>;
  /** Tasks by full state path (`planned.ready`, `stale.grace`, `completed`); only paths some task is in. */
  bySubstate: Record<string, number>;
  expiringSoon: number;
}

interface CountOptions {
  states: readonly TaskState[];
  expiringSoonMs: number;
}

const stateOf = (path: string) => path.split('.')[0] ?? path;

/**
 * Whether a leased task's lease counts as expiring soon at `at`: within `expiringSoonMs`,
 * boundary included. Written as `expiresAt <= at + ms` in both the walk and the incremental
 * counts, so that float rounding cannot make them disagree.
 */
const expiresSoon = (expiresAt: number, at: number, expiringSoonMs: number) => expiresAt <= at + expiringSoonMs;

/** The counts by walking every task (O(tasks)): the reference the incremental counts match. */
export function countTasks(tasks: Iterable<TaskSample>, at: number, options: CountOptions): TaskCounts {
  const byState = Object.fromEntries(options.states.map((s) => [s, 0])) as Record<TaskState, number>;
  const bySubstate = new Map<string, number>();
  let total = 0;
  let expiringSoon = 0;
  for (const task of tasks) {
    total++;
    const state = stateOf(task.path) as TaskState;
    byState[state] = (byState[state] ?? 0) + 1;
    bySubstate.set(task.path, (bySubstate.get(task.path) ?? 0) + 1);
    if (state === 'leased' && task.lease && expiresSoon(task.lease.expiresAt, at, options.expiringSoonMs)) expiringSoon++;
  }
  return { total, byState, bySubstate: Object.fromEntries(bySubstate), expiringSoon };
}

interface Counted {
  state: string;
  path: string;
  /** The lease's expiry while the task is leased, else null. */
  expiresAt: number | null;
  /** Its entry in `waiting` while it does not count as expiring soon yet. */
  timer: number | undefined;
  soon: boolean;
}

/**
 * The same counts, kept up to date by `track(id, sample)` (null: the task is gone).
 * Expiring soon depends on the time of the read, so leased tasks wait in a heap ordered by
 * expiry (the clocks' timer queue, which drops cancelled entries) until a read's horizon
 * (`at + expiringSoonMs`) reaches them; from then on they count until their lease changes.
 * Time normally only moves on, so each lease crosses the horizon once: a read costs
 * O(leases crossing it × log n). Should the clock step back, leases beyond the new horizon go
 * back to waiting (one O(tasks) pass).
 */
export function createTaskCounts(options: CountOptions) {
  const counted = new Map<string, Counted>();
  const byState = new Map<string, number>();
  const bySubstate = new Map<string, number>();
  const waiting = createTimerQueue();
  let soon = 0;
  let horizon = -Infinity;

  const wait = (entry: Counted) => {
    entry.soon = false;
    entry.timer = waiting.add(entry.expiresAt!, () => {
      entry.timer = undefined;
      entry.soon = true;
      soon++;
    });
  };

  const forget = (entry: Counted) => {
    byState.set(entry.state, byState.get(entry.state)! - 1);
    const left = bySubstate.get(entry.path)! - 1;
    if (left === 0) bySubstate.delete(entry.path);
    else bySubstate.set(entry.path, left);
    if (entry.soon) soon--;
    else if (entry.timer !== undefined) waiting.remove(entry.timer);
  };

  return {
    track(id: string, sample: TaskSample | null): void {
      const previous = counted.get(id);
      if (previous) forget(previous);
      if (!sample) {
        counted.delete(id);
        return;
      }
      const state = stateOf(sample.path);
      const entry: Counted = { state, path: sample.path, expiresAt: state === 'leased' && sample.lease ? sample.lease.expiresAt : null, timer: undefined, soon: false };
      counted.set(id, entry);
      byState.set(state, (byState.get(state) ?? 0) + 1);
      bySubstate.set(sample.path, (bySubstate.get(sample.path) ?? 0) + 1);
      if (entry.expiresAt !== null) wait(entry);
    },
    read(at: number): TaskCounts {
      if (at + options.expiringSoonMs < horizon) {
        for (const entry of counted.values()) {
          if (entry.soon && !expiresSoon(entry.expiresAt!, at, options.expiringSoonMs)) {
            soon--;
            wait(entry);
          }
        }
      }
      horizon = at + options.expiringSoonMs;
      for (let due = waiting.takeDue(horizon); due; due = waiting.takeDue(horizon)) due.fire();
      const counts = Object.fromEntries(options.states.map((s) => [s, byState.get(s) ?? 0])) as Record<TaskState, number>;
      // A state the list does not name (none today) is still shown, as the walk would.
      for (const [state, n] of byState) if (n > 0 && !Object.hasOwn(counts, state)) counts[state as TaskState] = n;
      return { total: counted.size, byState: counts, bySubstate: Object.fromEntries(bySubstate), expiringSoon: soon };
    },
    get size() {
      return counted.size;
    },
  };
}
