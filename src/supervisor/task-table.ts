// The table of tasks: the Map of entries (snapshots stepped by the task runner, not one actor
// each: 100,000 actors and their systems do not fit the memory budget), the claim order and the
// resume queue kept beside it, the epoch floor, and every way a task enters or leaves the
// runtime: created, restored, rolled back after a failed write, or removed by a sweep. It also
// knows each task's last durable snapshot, which the durable reads (the HTTP API's) answer from.
import type { TaskContext, TaskEmitted, TaskEvent, TaskInput } from '../../machines/task.types.js';
import type { Clock } from '../clock/clock.js';
import { LeaseConflictError, TaskNotFoundError, TerminalTaskError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { StatsFeed } from '../stats/index.js';
import { lateReportOf } from '../stats/index.js';
import type { Store, TaskRecord } from '../store/types.js';
import { resumeDeadline } from '../task/deadlines.js';
import { compactContext, recordOf, snapshotOf } from '../task/record.js';
import { statePath, type TaskSnapshot } from '../task/view.js';
import { createClaimQueue } from './claim-queue.js';
import { conflictText } from './commands.js';
import type { GroupCommit, Written } from './group-commit.js';
import { createResumeQueue, type Resumable } from './resume-queue.js';
import type { createTaskLogic } from './task-logic.js';
import { RefusedStep, withSharedTags, type createTaskRunner, type TaskSlot } from './task-runner.js';

/** How long a task whose record the store refused waits before its timers or work move it again. */
const REFUSED_RETRY_MS = 5_000;

const CLAIMABLE = new Set(['planned.ready', 'stale.expired']);

export interface TaskEntry extends TaskSlot, Resumable {
  /** Creation order, the tie-breaker after priority and age. */
  seq: number;
  /** The context and state path last committed, to tell a step that changed something. */
  context: unknown;
  path: string;
  /**
   * The snapshot the store holds (as of the last write that landed with this task's change);
   * undefined while a created task is not yet durable. Snapshots are never changed once
   * stepped past, so this is one pointer, usually the live snapshot itself.
   */
  durable: TaskSnapshot | undefined;
}

/** A task's write as taken when it starts: the entry and snapshot it was made from (none: a deletion). */
export interface Taken extends Written {
  readonly id: string;
  readonly entry?: TaskEntry;
  readonly snapshot?: TaskSnapshot;
}

export interface TaskTableOptions {
  location: string;
  clock: Clock;
  logger: Logger;
  commit: GroupCommit;
  runner: ReturnType<typeof createTaskRunner<TaskEntry>>;
  logic: ReturnType<typeof createTaskLogic>['logic'];
  feed: Pick<StatsFeed, 'track' | 'lateReport'>;
  /** Records that the command being run read or changed a task (see mailbox.ts). */
  involve: (id: string) => void;
}

export function createTaskTable({ location, clock, logger, commit, runner, logic, feed, involve }: TaskTableOptions) {
  const tasks = new Map<string, TaskEntry>();
  const claimable = createClaimQueue();
  let sequence = 0;
  let changes = 0;
  /** The highest epoch a removed task reached: new tasks start above it (see StoreMeta). */
  let epochFloor = 0;
  let rejection: Extract<TaskEmitted, { type: 'rejected' }> | null = null;
  /** Set once the supervisor closes: tasks restored from then on are neither resumed nor queued. */
  let closing = false;
  /** Durable snapshots of tasks a sweep removed whose deletion is not durable yet: still on disk. */
  const removed = new Map<string, TaskSnapshot>();

  /** Tells the stats what a task is now (or that it is gone): they are kept per change, never by walking the tasks. */
  const counted = (entry: TaskEntry | undefined, id = entry?.id) =>
    feed.track(id!, entry ? { path: entry.path, lease: entry.snapshot.context.lease } : null);

  /** Called after every step: a task that changed is re-queued, counted and written. */
  const track = (entry: TaskEntry) => {
    const { snapshot } = entry;
    const path = statePath(snapshot.value);
    if (snapshot.context === entry.context && path === entry.path) return;
    // The snapshot is the step's own, seen by no one else yet but inspection.
    if (snapshot.context !== entry.context) (snapshot as { context: TaskContext }).context = compactContext(snapshot.context);
    entry.context = snapshot.context;
    entry.path = path;
    queueIfClaimable(entry);
    counted(entry);
    changes++;
    involve(entry.id);
    commit.touch(entry.id);
  };

  const queueIfClaimable = (entry: TaskEntry) => {
    if (!CLAIMABLE.has(entry.path)) return claimable.remove(entry.id);
    const { priority, createdAt, labels } = entry.snapshot.context;
    claimable.add(entry.id, { priority, createdAt, labels, seq: entry.seq });
  };

  const addTask = (id: string, source: { snapshot: TaskSnapshot } | { input: TaskInput }, seq = sequence++) => {
    const entry: TaskEntry = { id, seq, snapshot: undefined as never, timers: null, stopped: false, dormant: false, context: undefined, path: '', durable: undefined };
    tasks.set(id, entry);
    if ('snapshot' in source) {
      // Known as committed already: a restored task must not count as changed (that would
      // rewrite the whole store at every open).
      entry.snapshot = withSharedTags(source.snapshot);
      entry.durable = entry.snapshot;
      entry.context = source.snapshot.context;
      entry.path = statePath(source.snapshot.value);
      queueIfClaimable(entry);
      counted(entry);
    } else {
      runner.init(entry, source.input);
      track(entry);
    }
    return entry;
  };

  /** Re-enters the task's state through the machine, which re-arms its timer or restarts its invoked work. */
  const resume = (entry: TaskEntry) => {
    entry.dormant = false;
    runner.send(entry, { type: 'task.resume', at: clock.now() });
  };
  const resumes = createResumeQueue<TaskEntry>(clock, resume);

  /** Takes a task out of the runtime: no timer, no pending resume, late work results ignored. */
  const drop = (entry: TaskEntry) => {
    entry.dormant = false;
    runner.stop(entry);
  };

  /** Takes a task out of the table (and the claim order and the stats). */
  const forget = (entry: TaskEntry) => {
    drop(entry);
    tasks.delete(entry.id);
    claimable.remove(entry.id);
    counted(undefined, entry.id);
  };

  /** Sends one event to one task; a refusal becomes the matching typed error. */
  const deliver = (id: string, event: TaskEvent): TaskSnapshot => {
    const entry = tasks.get(id);
    if (!entry) throw new TaskNotFoundError(id);
    involve(id);
    rejection = null;
    try {
      resumes.awaken(entry);
      runner.send(entry, event);
    } catch (error) {
      // A refused step was reported by the runner already.
      if (!(error instanceof RefusedStep)) logger.warn(`leasehold: task "${id}" hit an internal error on "${event.type}" and stays as it was`, error);
      throw error;
    }
    const refused = rejection as Extract<TaskEmitted, { type: 'rejected' }> | null;
    rejection = null;
    // A refused call from the holder a reclaim took the task from: nothing changed on disk, so it
    // is reported at once (just after this command, before its caller hears the refusal).
    const late = refused ? lateReportOf(entry.snapshot.context, event) : null;
    if (late) queueMicrotask(() => feed.lateReport(late));
    if (refused?.code === 'TERMINAL_TASK') throw new TerminalTaskError(id, refused.state);
    if (refused?.code === 'LEASE_CONFLICT') throw new LeaseConflictError(id, refused.reason, conflictText[refused.reason]);
    return entry.snapshot;
  };

  /**
   * Rebuilds stored tasks. One interrupted while running invoked work (a compensation, a grace
   * decision) is resumed now; one in a timed state waits in the resume queue until its stored
   * deadline (or until it is sent a command), so deadlines that passed while the process was
   * down fire at start, oldest first, and later ones on time.
   */
  const revive = (stored: { id: string; snapshot: TaskSnapshot; seq?: number }[], notBefore?: number) => {
    const interrupted: TaskEntry[] = [];
    const timed: { task: TaskEntry; at: number }[] = [];
    for (const { id, snapshot, seq } of stored) {
      const entry = addTask(id, { snapshot }, seq);
      const at = resumeDeadline(snapshot);
      if (at === undefined) continue;
      if (notBefore !== undefined) timed.push({ task: entry, at: Math.max(at, notBefore) });
      else if (at === -Infinity) interrupted.push(entry);
      else timed.push({ task: entry, at });
    }
    // Closing (a write refused during close, or by a store taken over): the tasks are as the
    // disk holds them, and the next open resumes them; resuming them here would arm a timer
    // that outlives the supervisor (a deposed daemon then stayed up until its longest lease ended).
    if (closing) return;
    for (const entry of interrupted.sort((a, b) => a.seq - b.seq)) resume(entry);
    resumes.add(timed);
  };

  const restore = async (contents: Awaited<ReturnType<Store['open']>>) => {
    // Every record is validated before any task starts: a corrupt store must stay untouched.
    const stored = [...contents.tasks].map(([id, record]) => ({ id, snapshot: snapshotOf(location, id, record, logic) }));
    contents.tasks.clear();
    // What is on disk, as the validated snapshots hold it: the store's parsed copy can go.
    for (const { id, snapshot } of stored) commit.remember(id, recordOf(snapshot));
    epochFloor = contents.meta?.epochFloor ?? 0;
    commit.rememberMeta({ epochFloor });
    revive(stored);
    clock.runDue();
    await commit.durable();
  };

  /**
   * A write failed: the tasks it held go back to what the disk holds — deleted ones come back,
   * ones never written go away. When the store refused their records (not the disk), the same
   * step would be refused again at once, so they wait REFUSED_RETRY_MS (or a call) to move on.
   */
  const rollback = (failed: Map<string, TaskRecord | undefined>, refused: boolean) => {
    const stored: { id: string; snapshot: TaskSnapshot; seq: number }[] = [];
    for (const [id, record] of failed) {
      // What the disk holds comes back as a live task (durable as it is), or stays gone.
      removed.delete(id);
      const entry = tasks.get(id);
      if (entry) forget(entry);
      if (record) stored.push({ id, snapshot: snapshotOf(location, id, record, logic), seq: entry?.seq ?? sequence++ });
    }
    if (refused) logger.warn(`leasehold: the store refused the record of ${[...failed.keys()].map((id) => `"${id}"`).join(', ')}; kept as on disk`);
    revive(stored, refused ? clock.now() + REFUSED_RETRY_MS : undefined);
  };

  /** Deletes a retained task (the commit writes null for it) unless it changed since it was chosen. */
  const removeTask = (id: string, context: unknown): boolean => {
    const entry = tasks.get(id);
    if (!entry || entry.snapshot.context !== context) return false;
    // Written with the deletion: an id used again never repeats one of the epochs it had.
    epochFloor = Math.max(epochFloor, entry.snapshot.context.epoch);
    // Durable reads still see it until its deletion is durable too.
    if (entry.durable) removed.set(id, entry.durable);
    forget(entry);
    changes++;
    involve(id);
    commit.touch(id);
    return true;
  };

  /** What the store is to hold for task `id` now, taken as a write starts. */
  const take = (id: string): Taken => {
    const entry = tasks.get(id);
    return entry ? { id, record: recordOf(entry.snapshot), entry, snapshot: entry.snapshot } : { id, record: null };
  };

  /** A write landed: each task it held is durable as it was taken (not as it may be now). */
  const landed = (written: readonly Taken[]) => {
    for (const { id, entry, snapshot } of written) {
      if (entry && tasks.get(id) !== entry) {
        // Removed (or removed and created again) since it was taken: the store holds it until that lands.
        removed.set(id, snapshot!);
        continue;
      }
      removed.delete(id);
      if (entry) entry.durable = snapshot;
    }
  };

  /** The task as the store holds it: undefined when it is not durable (created, not yet written). */
  const durableOf = (id: string): TaskSnapshot | undefined => tasks.get(id)?.durable ?? removed.get(id);

  /** Every durable task as the store holds it. */
  function* durables(): Generator<TaskSnapshot> {
    for (const entry of tasks.values()) {
      const snapshot = entry.durable ?? (removed.size > 0 ? removed.get(entry.id) : undefined);
      if (snapshot) yield snapshot;
    }
    for (const [id, snapshot] of removed) if (!tasks.has(id)) yield snapshot;
  }

  return {
    tasks: tasks as ReadonlyMap<string, TaskEntry>,
    /** The next claimable task carrying every label in `wanted`, in claim order. */
    firstClaimable: (wanted: readonly string[]) => claimable.first(wanted),
    get epochFloor() {
      return epochFloor;
    },
    /** Steps taken that changed a task, to tell when nothing moves any more. */
    get changes() {
      return changes;
    },
    /** The runner's report that the step being delivered was refused. */
    rejected: (event: Extract<TaskEmitted, { type: 'rejected' }>) => void (rejection = event),
    track,
    addTask,
    resume,
    drop,
    deliver,
    restore,
    rollback,
    removeTask,
    take,
    landed,
    durableOf,
    durables,
    /**
     * The supervisor closes: from now on no task is resumed (nor waits to be), no timer is armed
     * and no work started, also for tasks a failed write puts back. Work already running still
     * reports to its task (see the runner's windDown).
     */
    windDown() {
      closing = true;
      resumes.clear();
      runner.windDown();
    },
  };
}

export type TaskTable = ReturnType<typeof createTaskTable>;
