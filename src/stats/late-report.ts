// Spurious-reclaim detection: decides whether a refused owner call came from the holder a
// reclaim took the task from. Pure; the supervisor calls it on every refused owner call.
import type { TaskContext, TaskEvent } from '../../machines/task.types.js';
import type { LateReport } from './types.js';

/**
 * The late report a refused `event` amounts to, or null. It is one when the caller is the
 * task's recorded previous holder (owner and epoch), the task has been granted again since,
 * and that next grant was a reclaim of an expired lease (its audit entry says `reclaimed`),
 * not a claim after a release or a retry, which the previous holder gave up itself.
 */
export function lateReportOf(context: TaskContext, event: TaskEvent): LateReport | null {
  if (!('epoch' in event) || !('owner' in event)) return null;
  const recovery = context.recovery;
  if (!recovery || recovery.previousOwner !== event.owner || recovery.previousEpoch !== event.epoch) return null;
  if (context.epoch <= event.epoch) return null;
  const reclaimedBy = context.audit.some((entry) => entry.event === 'reclaimed' && entry.epoch === event.epoch + 1);
  if (!reclaimedBy) return null;
  return { type: 'lateReport', taskId: context.id, owner: event.owner, epoch: event.epoch, at: event.at, call: event.type };
}
