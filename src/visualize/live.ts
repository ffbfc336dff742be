// The live view's data: which tasks sit in which state right now, keyed by state path
// (`stale.grace`), from the tasks a supervisor lists, and how a state of a drawn graph counts
// and names them. The writers highlight these states.
import type { MachineGraph, State } from './graph.js';

/** Live occupancy: task ids per state path (`stale.grace`), for the live view. */
export type Occupancy = ReadonlyMap<string, readonly string[]>;

/** Occupancy with the tasks of folded states counted in the state they are shown as. */
export function shownOccupancy(graph: MachineGraph, occupancy: Occupancy | undefined): Occupancy | undefined {
  if (!occupancy || !graph.shownAs) return occupancy;
  const shown = new Map<string, string[]>();
  for (const [path, tasks] of occupancy) {
    const folded = [...graph.shownAs].find(([from]) => path === from || path.startsWith(`${from}.`));
    const target = folded ? folded[1] : path;
    shown.set(target, [...(shown.get(target) ?? []), ...tasks]);
  }
  return shown;
}

/** How many tasks are in `state` or below it. */
export function occupantsOf(state: State, occupancy: Occupancy | undefined): string[] {
  if (!occupancy) return [];
  const ids: string[] = [];
  for (const [path, tasks] of occupancy) {
    if (path === state.path || path.startsWith(`${state.path}.`)) ids.push(...tasks);
  }
  return ids;
}

/** `3 tasks: a, b, c` — ids are listed up to `maxIds`. */
export function occupancyText(ids: readonly string[], maxIds = 5): string {
  if (ids.length === 0) return '';
  const noun = ids.length === 1 ? 'task' : 'tasks';
  if (ids.length > maxIds) return `${ids.length} ${noun}`;
  return `${ids.length} ${noun}: ${ids.join(', ')}`;
}


export function occupancyOf(tasks: readonly { id: string; substate: string }[]): Occupancy {
  const occupancy = new Map<string, string[]>();
  for (const task of tasks) {
    const ids = occupancy.get(task.substate) ?? [];
    ids.push(task.id);
    occupancy.set(task.substate, ids);
  }
  return occupancy;
}
