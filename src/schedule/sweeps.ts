// What the reconcile and retain sweeps do to the supervisor's tasks. Both run inside the
// supervisor's mailbox (dispatch), synchronously, like any command.
import type { Clock } from '../clock/clock.js';
import type { TaskRecord } from '../store/types.js';
import { resumeDeadline } from '../task/deadlines.js';
import { recordOf } from '../task/record.js';
import { copyJson, type TaskSnapshot } from '../task/view.js';

interface SweptTask {
  snapshot: TaskSnapshot;
  /** Creation order, the tie-breaker between equal deadlines. */
  seq: number;
}

/**
 * The safety net: fires every timer already due, then finds tasks still sitting in a timed
 * state (lease, grace, retry backoff, compensation backoff) whose stored deadline has passed —
 * their timer was lost — and re-arms each, oldest deadline first, with `task.resume` (the
 * same re-entry a restart uses), firing the re-armed timers at once. Returns their ids.
 */
export function reconcileTasks<T extends SweptTask>(tasks: ReadonlyMap<string, T>, clock: Clock, resume: (task: T) => void): string[] {
  clock.runDue();
  const now = clock.now();
  const overdue: { id: string; at: number; seq: number }[] = [];
  for (const [id, task] of tasks) {
    if (task.snapshot.status !== 'active') continue;
    const at = resumeDeadline(task.snapshot);
    // -Infinity: the state runs invoked work (a compensation, a grace decision); it has no timer to lose.
    if (at === undefined || at === -Infinity || at > now) continue;
    overdue.push({ id, at, seq: task.seq });
  }
  overdue.sort((a, b) => a.at - b.at || a.seq - b.seq);
  for (const { id } of overdue) resume(tasks.get(id)!);
  clock.runDue();
  return overdue.map(({ id }) => id);
}

/** A terminal task chosen for the archive, with the context it had when chosen. */
export interface RetainCandidate {
  id: string;
  record: TaskRecord;
  context: unknown;
}

/** Terminal tasks that ended before `cutoff` (strictly older than the retention period). */
export function retainable(tasks: ReadonlyMap<string, SweptTask>, cutoff: number): RetainCandidate[] {
  const found: RetainCandidate[] = [];
  for (const [id, task] of tasks) {
    const { snapshot } = task;
    const terminal = snapshot.context.terminal;
    if (!snapshot.hasTag('terminal') || terminal === null || terminal.at >= cutoff) continue;
    found.push({ id, record: copyJson(recordOf(snapshot)), context: snapshot.context });
  }
  return found;
}
