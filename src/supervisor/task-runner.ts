// Runs task machines without an actor per task. A task is its snapshot, stepped with the
// machine's own transition function in one shared scope; what a step asks for is carried out
// here: emitted events go to the supervisor, delayed events (lease expiry, grace, backoffs) are
// armed on the injected clock, and invoked work (a compensation, a grace decision) is run and
// its outcome fed back as XState's done/error events. A root actor per task cost ~7 KB and an
// actor system each; this way a task costs its snapshot and at most a timer.
import {
  createActor,
  type AnyActorRef,
  type AnyActorScope,
  type EventObject,
  type ExecutableActionObject,
  type InspectionEvent,
  type Observer,
} from 'xstate';
import type { TaskMachine } from '../../machines/task.machine.js';
import type { TaskEmitted, TaskEvent, TaskInput } from '../../machines/task.types.js';
import type { Clock } from '../clock/clock.js';
import { InternalError } from '../errors.js';
import type { TaskSnapshot } from '../task/view.js';

export type InspectionObserver = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

/** One task as the runner keeps it. */
export interface TaskSlot {
  readonly id: string;
  snapshot: TaskSnapshot;
  /**
   * Delayed events armed on the clock, by XState's send id (null while none are). A task has
   * one or two at a time: a list, as a Map would cost ~0.5 KB a task.
   */
  timers: { sendId: string; timer: number }[] | null;
  /** Set once the task is dropped: its timers are cancelled and late work results ignored. */
  stopped: boolean;
}

/** Invoked work by `src` name: the promise's value becomes the done event's output. */
export type TaskWork = Record<string, (input: unknown) => Promise<unknown>>;

interface Options<S extends TaskSlot> {
  /** The task machine with its delays and actors provided (task-logic.ts). */
  logic: TaskMachine;
  work: TaskWork;
  clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
  inspect?: InspectionObserver;
  /** What a step emitted, in order. */
  emitted(slot: S, event: TaskEmitted): void;
  /** A step finished; `slot.snapshot` is the new snapshot (possibly the same object). */
  stepped(slot: S): void;
  /**
   * A step threw or was refused (a machine bug); the task stays as it was. Called for every
   * refused step (commands included, which also throw) and for a timer's or work's step that threw.
   */
  crashed(slot: S, error: unknown): void;
}

/** A command, a delayed event, or XState's done/error event for invoked work. */
type Event = TaskEvent | (EventObject & { [key: string]: unknown });

/** A step the runner refused because it would have put the task in XState's error status (already reported). */
export class RefusedStep extends InternalError {
  constructor(taskId: string, eventType: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(taskId, `the step for "${eventType}" would put the task machine in XState's error status (${why}); it was refused and the task stays as it was`, cause);
  }
}

const tagSets = new Map<string, ReadonlySet<string>>();

/**
 * Makes the snapshot's tags the one Set every snapshot with those tags shares: XState makes a
 * Set per snapshot (~150 bytes a task) and never changes one afterwards.
 */
export function withSharedTags(snapshot: TaskSnapshot): TaskSnapshot {
  // Most states have no tags: no key to build for them.
  const key = snapshot.tags.size === 0 ? '' : [...snapshot.tags].join('\n');
  const shared = tagSets.get(key);
  if (shared === undefined) tagSets.set(key, snapshot.tags);
  else (snapshot as { tags: ReadonlySet<string> }).tags = shared;
  return snapshot;
}

export function createTaskRunner<S extends TaskSlot>({ logic, work, clock, inspect, emitted, stepped, crashed }: Options<S>) {
  /** Set while the supervisor closes: steps still apply, but no timer is armed and no work started. */
  let windingDown = false;
  // Never started: it gives every step the `self` and system XState expects, and its system
  // carries the inspection observer, so tools still see each task's microsteps.
  const self = createActor(logic, { inspect, input: undefined as never });
  let actions: ExecutableActionObject[] = [];
  const scope: AnyActorScope = {
    self,
    id: '',
    sessionId: '',
    system: self.system,
    logger: () => {},
    defer: () => {},
    emit: () => {},
    stopChild: () => {},
    actionExecutor: (action) => void actions.push(action),
  };
  const notify = inspect === undefined ? undefined : typeof inspect === 'function' ? inspect : (e: InspectionEvent) => inspect.next?.(e);
  /** The events an actor would have reported for itself (its microsteps go through its system). */
  const observe = (type: '@xstate.event' | '@xstate.snapshot', event: EventObject, snapshot: TaskSnapshot) =>
    notify?.({ type, rootId: self.sessionId, actorRef: self, sourceRef: undefined, event, snapshot } as InspectionEvent);

  /** Runs XState's step and collects the actions it resolved, which are then carried out in order. */
  const collect = (run: () => TaskSnapshot): [TaskSnapshot, ExecutableActionObject[]] => {
    actions = [];
    try {
      return [run(), actions];
    } finally {
      actions = [];
    }
  };

  const perform = (slot: S, todo: ExecutableActionObject[]) => {
    for (const action of todo) {
      const params = action.params as Record<string, unknown> | undefined;
      switch (action.type) {
        case 'xstate.emit':
          emitted(slot, params!.event as TaskEmitted);
          break;
        case 'xstate.raise':
          if (typeof params!.delay === 'number') arm(slot, params!.id as string, params!.event as Event, params!.delay);
          break;
        case 'xstate.cancel':
          disarm(slot, params!.sendId as string);
          break;
        case 'xstate.spawnChild':
          if (params!.actorRef) start(slot, params!.id as string, params!.actorRef as AnyActorRef);
          break;
        case 'xstate.stopChild':
          // Nothing to stop: a result that arrives after its state was left is ignored (see start).
          break;
        default:
          // A custom action with an implementation; the task machine's own are all assigns and emits.
          action.exec?.(action.info as never, action.params);
      }
    }
  };

  const arm = (slot: S, sendId: string, event: Event, delay: number) => {
    disarm(slot, sendId);
    if (windingDown) return;
    const timer = clock.setTimeout(() => {
      forget(slot, sendId);
      if (!slot.stopped) react(slot, event);
    }, delay);
    // A literal, not a push onto [], which would reserve room for 17.
    if (slot.timers === null) slot.timers = [{ sendId, timer }];
    else slot.timers.push({ sendId, timer });
  };

  /** Takes the timer of `sendId` off the task's list; returns it, or undefined when none is armed. */
  const forget = (slot: S, sendId: string): number | undefined => {
    const index = slot.timers?.findIndex((armed) => armed.sendId === sendId) ?? -1;
    if (index < 0) return undefined;
    const { timer } = slot.timers![index]!;
    slot.timers!.splice(index, 1);
    if (slot.timers!.length === 0) slot.timers = null;
    return timer;
  };

  const disarm = (slot: S, sendId: string) => {
    const timer = forget(slot, sendId);
    if (timer !== undefined) clock.clearTimeout(timer);
  };

  /** Cancels every delayed event the task has armed. */
  const cancelTimers = (slot: S) => {
    for (const { timer } of slot.timers ?? []) clock.clearTimeout(timer);
    slot.timers = null;
  };

  const start = (slot: S, invokeId: string, child: AnyActorRef) => {
    // Left for the next open, which resumes the state and starts it then.
    if (windingDown) return;
    const run = work[child.src as string];
    const current = () => !slot.stopped && slot.snapshot.children[invokeId as keyof TaskSnapshot['children']] === child;
    if (!run) return react(slot, { type: `xstate.error.actor.${invokeId}`, error: new Error(`no work named "${String(child.src)}"`), actorId: invokeId });
    run((child as AnyActorRef & { options: { input: unknown } }).options.input).then(
      (output) => {
        if (current()) react(slot, { type: `xstate.done.actor.${invokeId}`, output, actorId: invokeId });
      },
      (error: unknown) => {
        if (current()) react(slot, { type: `xstate.error.actor.${invokeId}`, error, actorId: invokeId });
      },
    );
  };

  /** A step nobody waits on (a timer, finished work): an error cannot reach a caller, so it is reported. */
  const react = (slot: S, event: Event) => {
    try {
      send(slot, event);
    } catch (error) {
      if (!(error instanceof RefusedStep)) crashed(slot, error);
    }
  };

  /**
   * Steps one task with one event; the machine's answer is in `slot.snapshot` and the callbacks.
   * A step that would leave the machine in XState's `error` status (an actor error no state
   * handles) is refused: such a snapshot accepts no event ever again, so keeping it would
   * strand the task. The previous snapshot stays, `crashed` reports it, and the caller gets
   * INTERNAL_ERROR.
   */
  const send = (slot: S, event: Event) => {
    observe('@xstate.event', event, slot.snapshot);
    const [next, todo] = collect(() => logic.transition(slot.snapshot, event as TaskEvent, scope) as TaskSnapshot);
    if (next.status === 'error') {
      const error = new RefusedStep(slot.id, event.type, next.error);
      crashed(slot, error);
      throw error;
    }
    slot.snapshot = withSharedTags(next);
    perform(slot, todo);
    observe('@xstate.snapshot', event, next);
    stepped(slot);
  };

  return {
    /** Puts a new task in its initial state (a restored one is given its snapshot and sent `task.resume`). */
    init(slot: S, input: TaskInput) {
      const [snapshot, todo] = collect(() => logic.getInitialSnapshot(scope, input) as TaskSnapshot);
      slot.snapshot = withSharedTags(snapshot);
      perform(slot, todo);
      observe('@xstate.snapshot', { type: 'xstate.init', input } as EventObject, snapshot);
    },
    send,
    /**
     * From now on no timer is armed and no work is started, while work already running still
     * reports to its task: what a closing supervisor needs to let running work finish and record.
     */
    windDown() {
      windingDown = true;
    },
    cancelTimers,
    /** Drops a task: its timers are cancelled and work still running for it is ignored. */
    stop(slot: S) {
      slot.stopped = true;
      cancelTimers(slot);
    },
  };
}
