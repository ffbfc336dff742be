// The supervisor runtime: turns public calls into task-machine events, runs them one at a
// time through the supervisor actor's mailbox, and acknowledges each only once the change
// is durable. Owns the Map of tasks (snapshots stepped by the task runner, not one actor
// each: 100,000 actors and their systems do not fit the memory budget), their persistence
// and their compensations.
import { createActor, fromPromise, waitFor, type InspectionEvent } from 'xstate';
import { supervisorMachine } from '../../machines/supervisor.machine.js';
import {
  TASK_STATES,
  type LifecycleEvent,
  type LifecycleEventType,
  type TaskEmitted,
  type TaskEvent,
  type TaskContext,
  type TaskInput,
  type TaskLimits,
} from '../../machines/task.types.js';
import { systemClock, type TimerHandle } from '../clock/clock.js';
import {
  InvalidInputError,
  LeaseConflictError,
  SupervisorClosedError,
  TaskNotFoundError,
  DuplicateTaskError,
  TerminalTaskError,
  type ConflictReason,
} from '../errors.js';
import type { Store, TaskRecord } from '../store/types.js';
import { createClaimQueue } from './claim-queue.js';
import { hookCaller, safeLogger } from './hooks.js';
import { createGroupCommit } from './group-commit.js';
import * as inputs from './inputs.js';
import { compactContext, recordOf, snapshotOf } from './record.js';
import { resolvePolicy } from '../policy/index.js';
import type { LeasePolicy } from '../policy/types.js';
import { createTaskLogic } from './task-logic.js';
import type { Logger } from './types.js';
import { createLeaseTerms } from './lease-terms.js';
import { createResumeQueue, type Resumable } from './resume-queue.js';
import { createTaskRunner, RefusedStep, type InspectionObserver, type TaskSlot } from './task-runner.js';
import { resumeDeadline } from './timers.js';
import { leaseView, statePath, taskView, type TaskSnapshot } from './view.js';
import { createStatsFeed, lateReportOf, statsConfig } from '../stats/index.js';
import { createJobs, reconcileTasks, retainable, scheduleConfig } from '../schedule/index.js';
import {
  checkOptions,
  checkPolicy,
  COMPENSATION_TIMEOUT_MS,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_LIMITS,
  LIFECYCLE_EVENTS,
  PROBE_TIMEOUT_MS,
  type Listener,
  type Supervisor,
  type SupervisorOptions,
} from './options.js';

const conflictText: Record<ConflictReason, string> = {
  held: 'the task is already leased',
  in_grace: 'the lease expired but its holder is still in its grace period',
  not_owner: 'the lease belongs to another owner',
  stale_epoch: "the epoch is not the current lease's epoch",
  expired: 'the lease has expired',
  no_lease: 'the task has no lease',
  not_extending: 'the heartbeat would not extend the lease',
  backoff: 'the task is waiting out its retry backoff',
};

/** How long a task whose record the store refused waits before its timers or work move it again. */
const REFUSED_RETRY_MS = 5_000;

/** Event-loop turns without progress after which a running compensation counts as waiting. */
const SETTLE_TURNS = 50;

const CLAIMABLE = new Set(['planned.ready', 'stale.expired']);

interface CallScope {
  tasks: Set<string>;
}

interface TaskEntry extends TaskSlot, Resumable {
  /** Creation order, the tie-breaker after priority and age. */
  seq: number;
  /** The context and state path last committed, to tell a step that changed something. */
  context: unknown;
  path: string;
}


export async function createSupervisor(options: SupervisorOptions): Promise<Supervisor> {
  const defaults = { ...DEFAULT_LIMITS, ...checkOptions(options) };
  const { store } = options;
  // Checked before the store is opened: a bad cron expression must leave the store untouched.
  const sweepConfig = scheduleConfig(options.schedule, store.location, typeof store.compact === 'function');
  const statsOptions = statsConfig(options.stats);
  const clock = options.clock ?? systemClock();
  const compensators = options.compensators ?? {};
  const closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  // Everything the embedding code gave us is called through `callHook` (hooks.ts): a throw or a
  // rejection is logged, never an unhandled rejection or a failed commit.
  const logger: Logger = safeLogger(options.logger ?? console);
  const callHook = hookCaller(logger);
  const inspect = guardedInspect(options.inspect);

  const tasks = new Map<string, TaskEntry>();
  const claimable = createClaimQueue();
  const listeners = new Map<LifecycleEventType, Set<{ what: string; listener: (event: LifecycleEvent) => unknown }>>();
  const policy = checkPolicy(options.policy);
  /** What the policy grants, checked: an unusable answer is logged and the task's limits used. */
  const terms = createLeaseTerms(logger);
  const taskPolicies = new Map<string, LeasePolicy>();
  const probes = options.probes ?? [];
  let sequence = 0;
  let changes = 0;
  /** The highest epoch a removed task reached: new tasks start above it (see StoreMeta). */
  let epochFloor = 0;
  /** The tasks the command being run reads or changes: its answer rests on their writes. */
  let call: CallScope | null = null;
  let rejection: Extract<TaskEmitted, { type: 'rejected' }> | null = null;

  const feed = createStatsFeed({ now: () => clock.now(), states: TASK_STATES, eventTypes: LIFECYCLE_EVENTS, ...statsOptions }, (listener, stats) =>
    callHook('a stats listener', listener, stats),
  );
  /** Tells the stats what a task is now (or that it is gone): they are kept per change, never by walking the tasks. */
  const counted = (entry: TaskEntry | undefined, id = entry?.id) =>
    feed.track(id!, entry ? { path: entry.path, lease: entry.snapshot.context.lease } : null);

  const commit = createGroupCommit(
    store,
    clock,
    (id) => {
      const entry = tasks.get(id);
      return entry ? recordOf(entry.snapshot) : null;
    },
    (events) => {
      feed.committed(events);
      for (const event of events) {
        for (const { what, listener } of listeners.get(event.type) ?? []) callHook(what, listener, event);
      }
    },
    (failed, refused) => rollback(failed, refused),
    () => ({ epochFloor }),
  );

  const policyFor = (context: TaskContext): LeasePolicy => {
    if (context.policy === null) return policy;
    const key = JSON.stringify(context.policy);
    const resolved = taskPolicies.get(key) ?? resolvePolicy(context.policy);
    taskPolicies.set(key, resolved);
    return resolved;
  };
  const { logic: taskLogic, work, inFlight, stop: stopTaskWork } = createTaskLogic({
    clock,
    commit,
    compensators,
    probes,
    policyFor,
    current: (taskId) => {
      const { snapshot } = tasks.get(taskId)!;
      return { view: taskView(snapshot), context: snapshot.context };
    },
    logger,
    probeTimeoutMs: options.probeTimeoutMs ?? PROBE_TIMEOUT_MS,
    compensationTimeoutMs: options.compensationTimeoutMs ?? COMPENSATION_TIMEOUT_MS,
  });

  const runner = createTaskRunner<TaskEntry>({
    logic: taskLogic,
    work,
    clock,
    inspect,
    emitted: (_, event) => {
      if (event.type === 'rejected') rejection = event;
      else commit.publish(event);
    },
    stepped: (entry) => track(entry),
    crashed: (entry, error) => logger.warn(`leasehold: task "${entry.id}" hit an internal error and stays as it was`, error),
  });

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
    call?.tasks.add(entry.id);
    commit.touch(entry.id);
  };

  const queueIfClaimable = (entry: TaskEntry) => {
    if (!CLAIMABLE.has(entry.path)) return claimable.remove(entry.id);
    const { priority, createdAt, labels } = entry.snapshot.context;
    claimable.add(entry.id, { priority, createdAt, labels, seq: entry.seq });
  };

  const addTask = (id: string, source: { snapshot: TaskSnapshot } | { input: TaskInput }, seq = sequence++) => {
    const entry: TaskEntry = { id, seq, snapshot: undefined as never, timers: null, stopped: false, dormant: false, context: undefined, path: '' };
    tasks.set(id, entry);
    if ('snapshot' in source) {
      // Known as committed already: a restored task must not count as changed (that would
      // rewrite the whole store at every open).
      entry.snapshot = source.snapshot;
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

  /** Sends one event to one task; a refusal becomes the matching typed error. */
  const deliver = (id: string, event: TaskEvent): TaskSnapshot => {
    const entry = tasks.get(id);
    if (!entry) throw new TaskNotFoundError(id);
    call?.tasks.add(id);
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
   * Admits a command through the supervisor's mailbox, then runs `work` to completion at
   * once (nothing else can run in between) after firing any timer already due, so a lease
   * expiring at t is stale for a call at t. The call settles once the writes its answer rests
   * on are durable: what it changed, and what is still pending on the tasks it read (so a
   * refusal or a call that changed nothing never reports a state the disk may not keep). One
   * that names no task (claimNext finding nothing, a sweep) waits for every pending write.
   */
  const dispatch = <T>(work: () => T): Promise<T> => {
    let admitted = false;
    // A stopped actor would drop the event with a warning; the answer is the same.
    if (supervisor.getSnapshot().status === 'active') {
      supervisor.send({ type: 'supervisor.command', admit: () => (admitted = true) });
    }
    if (!admitted) return Promise.reject(new SupervisorClosedError());
    let settle: (resolve: (value: T) => void, reject: (error: unknown) => void) => void;
    clock.runDue();
    const own: CallScope = { tasks: new Set() };
    call = own;
    try {
      const value = work();
      settle = (resolve) => resolve(value);
    } catch (error) {
      settle = (_, reject) => reject(error);
    } finally {
      call = null;
    }
    const durable = commit.durable(own.tasks.size === 0 ? undefined : own.tasks);
    commit.urge();
    return durable.then(() => new Promise(settle));
  };

  /**
   * Resolves once every write is durable and nothing moves any more. With `awaitWork`,
   * running compensation handlers and extension probes are waited for to the end (a git
   * probe takes real time); without, only those that finish within a few event-loop turns,
   * so a test that holds one open can still move its clock.
   */
  const settled = async (awaitWork: boolean) => {
    let seen = -1;
    const working = () => inFlight.compensations.size + inFlight.decisions.size > 0;
    for (let quiet = 0; quiet < (working() ? SETTLE_TURNS : 2); ) {
      const writing = !commit.idle;
      if (writing) await commit.durable().catch(() => {});
      // Invoked work waiting for a write that is backing off would wait for the clock itself.
      if (awaitWork && working() && !commit.backingOff) await Promise.allSettled([...inFlight.compensations, ...inFlight.decisions]);
      // Let promise-actor results reach their machines before looking again.
      await new Promise((resolve) => setImmediate(resolve));
      quiet = writing || changes !== seen ? 0 : quiet + 1;
      seen = changes;
    }
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
    for (const entry of interrupted.sort((a, b) => a.seq - b.seq)) resume(entry);
    resumes.add(timed);
  };

  const restore = async (contents: Awaited<ReturnType<Store['open']>>) => {
    // Every record is validated before any task starts: a corrupt store must stay untouched.
    const stored = [...contents.tasks].map(([id, record]) => ({ id, snapshot: snapshotOf(store.location, id, record, taskLogic) }));
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
  function rollback(failed: Map<string, TaskRecord | undefined>, refused: boolean) {
    const stored: { id: string; snapshot: TaskSnapshot; seq: number }[] = [];
    for (const [id, record] of failed) {
      const entry = tasks.get(id);
      if (entry) {
        drop(entry);
        tasks.delete(id);
        claimable.remove(id);
        counted(undefined, id);
      }
      if (record) stored.push({ id, snapshot: snapshotOf(store.location, id, record, taskLogic), seq: entry?.seq ?? sequence++ });
    }
    if (refused) logger.warn(`leasehold: the store refused the record of ${[...failed.keys()].map((id) => `"${id}"`).join(', ')}; kept as on disk`);
    revive(stored, refused ? clock.now() + REFUSED_RETRY_MS : undefined);
  }

  /** Deletes a retained task (the commit writes null for it) unless it changed since it was chosen. */
  const removeTask = (id: string, context: unknown): boolean => {
    const entry = tasks.get(id);
    if (!entry || entry.snapshot.context !== context) return false;
    // Written with the deletion: an id used again never repeats one of the epochs it had.
    epochFloor = Math.max(epochFloor, entry.snapshot.context.epoch);
    drop(entry);
    tasks.delete(id);
    claimable.remove(id);
    counted(undefined, id);
    changes++;
    call?.tasks.add(id);
    commit.touch(id);
    return true;
  };

  const jobs = createJobs(sweepConfig, {
    location: store.location,
    logger,
    now: () => clock.now(),
    dispatch: (work) => dispatch(work),
    reconcile: () => reconcileTasks(tasks, clock, resume),
    retainable: (cutoff) => retainable(tasks, cutoff),
    remove: (candidates) => candidates.filter((c) => removeTask(c.id, c.context)).map((c) => c.id),
    stats: () => feed.read(),
    swept: (job, count, at) => feed.swept(job, count, at),
    compact: store.compact?.bind(store),
  });

  /**
   * Lets compensations already running finish and their outcome reach the ledger on disk, so
   * that the next supervisor never runs a succeeded one again; gives up after closeTimeoutMs
   * (on the injected clock), leaving the attempt recorded as running, to run again at next open.
   */
  const finishRunningCompensations = async () => {
    // 0: the owner chose not to wait (the CLI, whose compensators never finish).
    if (inFlight.compensations.size === 0 || closeTimeoutMs === 0) return;
    let timer: TimerHandle | undefined;
    const expired = new Promise<'timeout'>((resolve) => (timer = clock.setTimeout(() => resolve('timeout'), closeTimeoutMs)));
    for (;;) {
      const running = [...inFlight.compensations];
      if (running.length === 0) break;
      const outcome = await Promise.race([Promise.allSettled(running), expired]);
      if (outcome === 'timeout') {
        logger.warn(`leasehold: close gave up after ${closeTimeoutMs} ms waiting for ${running.length} running compensation(s); they run again at the next open`);
        break;
      }
      // Their outcomes are steps that write the ledger.
      await commit.durable().catch(() => {});
    }
    if (timer !== undefined) clock.clearTimeout(timer);
  };

  let detachClock = () => {};
  let contents: Awaited<ReturnType<Store['open']>> | undefined;

  const supervisor = createActor(
    supervisorMachine.provide({
      actors: {
        openStore: fromPromise(async () => {
          contents = await store.open();
        }),
        restoreTasks: fromPromise(async () => {
          detachClock = clock.attach(settled);
          await restore(contents!);
          contents = undefined;
        }),
        closeStore: fromPromise(async () => {
          await jobs.stop();
          resumes.clear();
          runner.windDown();
          for (const entry of tasks.values()) runner.cancelTimers(entry);
          await finishRunningCompensations();
          for (const entry of tasks.values()) drop(entry);
          stopTaskWork();
          detachClock();
          const last = commit.durable();
          commit.urge();
          await last.catch((error) => logger.warn('leasehold: the last write before close failed', error));
          await store.close();
        }),
      },
    }),
    { inspect },
  );
  for (const [type, listener] of Object.entries(options.on ?? {})) subscribe(type as LifecycleEventType, listener as Listener<LifecycleEventType>);
  if (options.onRecovery) subscribe('recovered', options.onRecovery, 'onRecovery');
  supervisor.start();
  const opened = await waitFor(supervisor, (s) => s.matches('running') || s.status === 'done');
  if (!opened.matches('running')) throw opened.context.error;
  jobs.start();

  const now = () => clock.now();
  const leaseOf = (snapshot: TaskSnapshot) => leaseView(snapshot.context)!;
  const limitsOf = (input: inputs.CreateInput): TaskLimits =>
    Object.fromEntries(Object.entries(defaults).map(([key, value]) => [key, input[key as keyof TaskLimits] ?? value])) as unknown as TaskLimits;

  return {
    create(raw) {
      return guarded(() => {
        const input = inputs.parse(inputs.createInput, raw, 'create input');
        // A task's own policy is data; refuse one that does not resolve before storing it.
        if (input.policy !== undefined) resolvePolicy(input.policy);
        return dispatch(() => {
          if (tasks.has(input.id)) throw new DuplicateTaskError(input.id);
          const entry = addTask(input.id, {
            input: {
              id: input.id,
              spec: input.spec ?? null,
              priority: input.priority ?? 'medium',
              labels: input.labels ?? [],
              limits: limitsOf(input),
              compensations: (input.compensations ?? []).map((c) => ({ action: c.action, args: c.args ?? null })),
              createdAt: now(),
              policy: input.policy ?? null,
              epochFloor,
            },
          });
          return taskView(entry.snapshot);
        });
      });
    },

    claim(id, raw) {
      return guarded(() => {
        const taskId = inputs.parse(inputs.taskId, id, 'task id');
        const input = inputs.parse(inputs.claimInput, raw, 'claim input');
        return dispatch(() => {
          if (!tasks.has(taskId)) throw new TaskNotFoundError(taskId);
          return leaseOf(deliver(taskId, claimEvent(taskId, input)));
        });
      });
    },

    claimNext(raw) {
      return guarded(() => {
        const input = inputs.parse(inputs.claimNextInput, raw, 'claimNext input');
        const wanted = input.labels ?? [];
        return dispatch(() => {
          const id = claimable.first(wanted);
          return id === undefined ? null : leaseOf(deliver(id, claimEvent(id, input)));
        });
      });
    },

    heartbeat(id, raw) {
      return ownerCall(id, raw, inputs.heartbeatInput, 'heartbeat', (input) => heartbeatEvent(id, input, inputs.carriesLease(raw)), leaseOf);
    },
    extend(id, raw) {
      return ownerCall(id, raw, inputs.extendInput, 'extend', (input) => ({ type: 'lease.extend', ...input }), leaseOf);
    },
    addCompensation(id, raw) {
      return ownerCall(id, raw, inputs.compensationInput, 'addCompensation', (input) => ({ type: 'compensation.add', ...input }), taskView);
    },
    complete(id, raw) {
      return ownerCall(id, raw, inputs.completeInput, 'complete', (input) => ({ type: 'task.complete', ...input }), taskView);
    },
    fail(id, raw) {
      return ownerCall(id, raw, inputs.failInput, 'fail', (input) => ({ type: 'task.fail', ...input }), taskView);
    },
    release(id, raw) {
      return ownerCall(id, raw, inputs.releaseInput, 'release', (input) => ({ type: 'lease.release', ...input }), taskView);
    },
    quarantine(id, raw) {
      return ownerCall(id, raw, inputs.quarantineInput, 'quarantine', (input) => ({ type: 'task.quarantine', ...input }), taskView);
    },
    annotate(id, raw) {
      return ownerCall(id, raw, inputs.metadataInput, 'annotate', (metadata) => ({ type: 'task.annotate', metadata }), taskView);
    },

    get(id) {
      const entry = tasks.get(inputs.parse(inputs.taskId, id, 'task id'));
      return entry ? taskView(entry.snapshot) : undefined;
    },
    list(filter) {
      const { state } = inputs.parse(inputs.listFilter, filter === undefined ? {} : filter, 'list filter');
      return [...tasks.values()]
        .map((entry) => taskView(entry.snapshot))
        .filter((view) => state === undefined || view.state === state);
    },
    stats: () => feed.read(),
    subscribe(listener) {
      if (typeof listener !== 'function') throw new InvalidInputError('stats listener', ['expected a function']);
      return feed.subscribe(listener);
    },
    runJob: (job) => jobs.run(job),
    on: (type, listener) => subscribe(type, listener),
    async close() {
      // Sent at once, so that no call made after close() is admitted.
      if (supervisor.getSnapshot().status === 'active') supervisor.send({ type: 'supervisor.close' });
      await waitFor(supervisor, (s) => s.status === 'done');
    },
  };

  function subscribe<T extends LifecycleEventType>(type: T, listener: Listener<T>, name?: string): () => void {
    if (!(LIFECYCLE_EVENTS as readonly string[]).includes(type)) {
      throw new InvalidInputError('event name', [`expected one of ${LIFECYCLE_EVENTS.join(', ')}`]);
    }
    if (typeof listener !== 'function') throw new InvalidInputError('listener', ['expected a function']);
    // Named only once `type` is known to be an event name (a Symbol would not convert to text).
    const what = name ?? `a "${type}" listener`;
    const set = listeners.get(type) ?? new Set();
    listeners.set(type, set);
    const entry = { what, listener: listener as (event: LifecycleEvent) => unknown };
    set.add(entry);
    return () => void set.delete(entry);
  }

  /** The inspection observer (a function or an observer), called through `callHook`. */
  function guardedInspect(observer: InspectionObserver | undefined): InspectionObserver | undefined {
    if (observer === undefined) return undefined;
    const next = typeof observer === 'function' ? observer : (event: InspectionEvent) => observer.next?.(event);
    return (event: InspectionEvent) => callHook('the inspect observer', next, event);
  }

  /** A claim's lease and grace come from the caller or else from the task's lease policy. */
  function claimEvent(taskId: string, input: { owner: string; leaseMs?: number }): TaskEvent {
    const { snapshot } = tasks.get(taskId)!;
    const task = taskView(snapshot, false);
    const rules = policyFor(snapshot.context);
    const at = now();
    const ask = { task, now: at, kind: 'claim' as const };
    return {
      type: 'lease.claim',
      owner: input.owner,
      leaseMs: input.leaseMs ?? terms.leaseMs(rules, ask),
      graceMs: terms.graceMs(rules, ask),
      at,
    };
  }

  /**
   * A renewal without an explicit `leaseMs` asks the policy (only when there is a lease to renew).
   * A lease given whole as the proof carries its own `leaseMs`: that one is not a request.
   */
  function heartbeatEvent(taskId: string, given: inputs.HeartbeatInput, fromLease: boolean) {
    const snapshot = tasks.get(taskId)?.snapshot;
    const own = fromLease && given.leaseMs === snapshot?.context.lease?.leaseMs;
    const input = own ? { ...given, leaseMs: undefined } : given;
    if (!snapshot?.context.lease || input.leaseMs !== undefined) return { type: 'lease.heartbeat' as const, ...input };
    const task = taskView(snapshot, false);
    const rules = policyFor(snapshot.context);
    const ask = { task, now: now(), kind: 'heartbeat' as const, ...(input.progress === undefined ? {} : { progress: input.progress }) };
    return { type: 'lease.heartbeat' as const, ...input, leaseMs: terms.leaseMs(rules, ask), graceMs: terms.graceMs(rules, ask) };
  }

  /** Validation errors reject the returned promise instead of throwing synchronously. */
  function guarded<T>(call: () => Promise<T>): Promise<T> {
    try {
      return call();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  function ownerCall<I, R>(
    id: string,
    raw: unknown,
    schema: import('zod').ZodType<I>,
    what: string,
    toEvent: (input: I) => DistributiveOmit<TaskEvent, 'at'>,
    result: (snapshot: TaskSnapshot) => R,
  ): Promise<R> {
    return guarded(() => {
      const taskId = inputs.parse(inputs.taskId, id, 'task id');
      const input = inputs.parse(schema, raw, `${what} input`);
      inputs.checkProof(taskId, raw, `${what} input`);
      return dispatch(() => result(deliver(taskId, { ...toEvent(input), at: now() } as TaskEvent)));
    });
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
