// The live view's data: which tasks sit in which state right now, keyed by state path
// (`stale.grace`), from the tasks a supervisor lists. The writers highlight these states.
import type { Occupancy } from './graph.js';

export function occupancyOf(tasks: readonly { id: string; substate: string }[]): Occupancy {
  const occupancy = new Map<string, string[]>();
  for (const task of tasks) {
    const ids = occupancy.get(task.substate) ?? [];
    ids.push(task.id);
    occupancy.set(task.substate, ids);
  }
  return occupancy;
}
