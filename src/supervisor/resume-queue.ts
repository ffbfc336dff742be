// Restored tasks in timed states wait here, ordered by their stored deadline, instead of each
// being resumed at open: one clock timer for the earliest deadline resumes (through the
// machine's `task.resume`, which re-arms the task's own timer) every task due by then, oldest
// first. A task that is sent anything earlier is resumed first. Reopening 100,000 leased tasks
// thus costs a sort and one timer, not 100,000 transitions and timers at once.
import type { Clock, TimerHandle } from '../clock/clock.js';

export interface Resumable {
  /** True while the task waits here: its timer is not armed yet. */
  dormant: boolean;
  /** Creation order, the tie-breaker between equal deadlines. */
  seq: number;
}

export function createResumeQueue<T extends Resumable>(clock: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>, resume: (task: T) => void) {
  let waiting: { task: T; at: number }[] = [];
  let next = 0;
  let timer: TimerHandle | undefined;

  const wake = () => {
    timer = undefined;
    const now = clock.now();
    while (next < waiting.length && waiting[next]!.at <= now) awaken(waiting[next++]!.task);
    arm();
  };

  const arm = () => {
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
    // Tasks resumed early (a command reached them) are skipped here rather than searched for then.
    while (next < waiting.length && !waiting[next]!.task.dormant) next++;
    if (next === waiting.length) {
      waiting = [];
      next = 0;
      return;
    }
    timer = clock.setTimeout(wake, waiting[next]!.at - clock.now());
  };

  /** Resumes the task now if it is still waiting. */
  const awaken = (task: T) => {
    if (!task.dormant) return;
    task.dormant = false;
    resume(task);
  };

  return {
    /** Tasks to resume at their deadlines (past ones at the next clock turn), oldest first. */
    add(tasks: { task: T; at: number }[]) {
      if (tasks.length === 0) return;
      for (const { task } of tasks) task.dormant = true;
      waiting = waiting
        .slice(next)
        .concat(tasks)
        .sort((a, b) => a.at - b.at || a.task.seq - b.task.seq);
      next = 0;
      arm();
    },
    awaken,
    /** Forgets every waiting task (the supervisor is closing). */
    clear() {
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      waiting = [];
      next = 0;
    },
  };
}
