// The supervisor: wires the task table, the call mailbox, the group commit, the stats and the
// scheduled jobs around the supervisor actor (open → running → closing), and turns each public
// call into a task-machine event. The pieces live beside it: task-table.ts (the tasks),
// mailbox.ts (admission and durable answers), commands.ts (the events), settling.ts (waits).
import { createActor, fromPromise, waitFor } from 'xstate';
import { supervisorMachine } from '../../machines/supervisor.machine.js';
import { TASK_STATES, type LifecycleEventType, type TaskEvent } from '../../machines/task.types.js';
import { systemClock } from '../clock/clock.js';
import { DuplicateTaskError, InvalidInputError, LeaseConflictError, LeaseholdError, SupervisorClosedError, TaskNotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import { resolvePolicy } from '../policy/index.js';
import type { LeasePolicy } from '../policy/types.js';
import { createJobs, reconcileTasks, retainable, scheduleConfig } from '../schedule/index.js';
import { createStatsFeed, statsConfig } from '../stats/index.js';
import type { Store } from '../store/types.js';
import { leaseView, taskView, type TaskSnapshot } from '../task/view.js';
import { agentActivity } from './agent-activity.js';
import { guardedInspect, hookCaller, safeLogger } from './hooks.js';
import { createListeners } from './listeners.js';
import { createGroupCommit } from './group-commit.js';
import * as inputs from './inputs.js';
import { createTaskLogic } from './task-logic.js';
import { createLeaseTerms } from './lease-terms.js';
import { createTaskRunner } from './task-runner.js';
import { claimEvent, heartbeatEvent, taskInput, type DistributiveOmit, type LeaseRules } from './commands.js';
import { createMailbox, guarded } from './mailbox.js';
import { finishRunningCompensations, settled } from './settling.js';
import { createTaskTable, type Taken, type TaskEntry } from './task-table.js';
import { pageOf, taskFilter } from './task-query.js';
import { createExpiryGate, createStanding, DEFAULT_MAX_CLOCK_SKEW_MS } from './standing.js';
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
  const inspect = guardedInspect(callHook, options.inspect);
  const standby = options.standby === true;
  // Task timers go through the gate, which holds expiries back while the clocks disagree.
  const gate = createExpiryGate(clock);
  const standing = createStanding({
    store,
    logger,
    standby,
    // An injected clock (a test's) is trusted as it is: its time is not the store's anyway.
    maxSkewMs: options.clock === undefined ? (options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS) : null,
    gate,
    lost: () => void closeSelf(),
  });
  /** Aborts a standby's wait for the store when it is closed first. */
  const openAbort = new AbortController();

  const { subscribe, deliver: tell } = createListeners(callHook);
  const policy = checkPolicy(options.policy);
  /** What the policy grants, checked: an unusable answer is logged and the task's limits used. */
  const terms = createLeaseTerms(logger);
  const taskPolicies = new Map<string, LeasePolicy>();
  const probes = options.probes ?? [];

  const feed = createStatsFeed({ now: () => clock.now(), states: TASK_STATES, eventTypes: LIFECYCLE_EVENTS, ...statsOptions }, (listener, stats) =>
    callHook('a stats listener', listener, stats),
  );

  // The table is built last (it steps tasks through the runner and writes through the commit);
  // the callbacks below reach it only once it exists.
  const commit = createGroupCommit(
    store,
    clock,
    (id): Taken => table.take(id),
    (written) => table.landed(written),
    (events) => {
      feed.committed(events);
      tell(events);
    },
    (failed, refused) => table.rollback(failed, refused),
    () => ({ epochFloor: table.epochFloor }),
  );

  const policyFor = (context: TaskSnapshot['context']): LeasePolicy => {
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
      const { snapshot } = table.tasks.get(taskId)!;
      return { view: taskView(snapshot), context: snapshot.context };
    },
    logger,
    probeTimeoutMs: options.probeTimeoutMs ?? PROBE_TIMEOUT_MS,
    compensationTimeoutMs: options.compensationTimeoutMs ?? COMPENSATION_TIMEOUT_MS,
  });

  const runner = createTaskRunner<TaskEntry>({
    logic: taskLogic,
    work,
    clock: gate.clock,
    inspect,
    emitted: (_, event) => {
      if (event.type === 'rejected') table.rejected(event);
      else commit.publish(event);
    },
    stepped: (entry) => table.track(entry),
    crashed: (entry, error) => logger.warn(`leasehold: task "${entry.id}" hit an internal error and stays as it was`, error),
  });

  const mailbox = createMailbox({
    // A stopped actor would drop the event with a warning; the answer is the same.
    admit: () => {
      let admitted = false;
      if (supervisor.getSnapshot().status === 'active') {
        supervisor.send({ type: 'supervisor.command', admit: () => (admitted = true) });
      }
      return admitted;
    },
    clock,
    commit,
    refusal: () => standing.refusal(),
  });
  const { dispatch } = mailbox;

  const table = createTaskTable({ location: store.location, clock, logger, commit, runner, logic: taskLogic, feed, involve: mailbox.involve });
  const { tasks } = table;

  const jobs = createJobs(sweepConfig, {
    location: store.location,
    logger,
    now: () => clock.now(),
    dispatch: (work) => dispatch(work),
    reconcile: () => reconcileTasks(tasks, clock, table.resume),
    retainable: (cutoff) => retainable(tasks, cutoff),
    remove: (candidates) => candidates.filter((c) => table.removeTask(c.id, c.context)).map((c) => c.id),
    stats: () => feed.read(),
    swept: (job, count, at) => feed.swept(job, count, at),
    compact: store.compact?.bind(store),
  });

  let detachClock = () => {};
  let contents: Awaited<ReturnType<Store['open']>> | undefined;

  const supervisor = createActor(
    supervisorMachine.provide({
      actors: {
        openStore: fromPromise(async () => {
          const opened = standby ? await store.openWhenFree!({ signal: openAbort.signal, waiting: (holder) => standing.waiting(holder) }) : await store.open();
          if (openAbort.signal.aborted) {
            // Closed while the store was opening: let it go again at once.
            await store.close();
            throw new SupervisorClosedError();
          }
          contents = opened;
          standing.opened();
        }),
        restoreTasks: fromPromise(async () => {
          detachClock = clock.attach((awaitWork) => settled(awaitWork, commit, inFlight, () => table.changes));
          await table.restore(contents!);
          contents = undefined;
        }),
        closeStore: fromPromise(async () => {
          await jobs.stop();
          table.windDown();
          for (const entry of tasks.values()) runner.cancelTimers(entry);
          await finishRunningCompensations({ clock, commit, inFlight, logger }, closeTimeoutMs);
          for (const entry of tasks.values()) table.drop(entry);
          stopTaskWork();
          detachClock();
          const last = commit.durable();
          commit.urge();
          await last.catch((error) => logger.warn('leasehold: the last write before close failed', error));
          await store.close();
          standing.closed();
        }),
      },
    }),
    { inspect },
  );
  for (const [type, listener] of Object.entries(options.on ?? {})) subscribe(type as LifecycleEventType, listener as Listener<LifecycleEventType>);
  if (options.onRecovery) subscribe('recovered', options.onRecovery, 'onRecovery');
  supervisor.start();
  /** Resolves once the supervisor serves; rejects when it ends first (closed while standby, or failed to open). */
  const ready = waitFor(supervisor, (s) => s.matches('running') || s.status === 'done').then((s) => {
    if (!s.matches('running')) {
      standing.closed();
      throw s.context.error ?? new SupervisorClosedError();
    }
    standing.leading();
    jobs.start();
  });
  ready.catch((error: unknown) => {
    if (standby && !(error instanceof SupervisorClosedError)) logger.warn(`leasehold: standby on ${store.location} stopped`, error);
  });
  // A standby is handed back as soon as it is known to wait (or it took the store at once).
  await (standby ? Promise.race([ready, standing.firstWait]) : ready);

  /** Closes the supervisor: a standby stops waiting; one opening or restoring closes once it can. */
  async function closeSelf() {
    const now = supervisor.getSnapshot();
    if (now.matches('opening') || now.matches('restoring')) {
      openAbort.abort(new SupervisorClosedError());
      await waitFor(supervisor, (s) => !s.matches('opening') && !s.matches('restoring'));
    }
    // Sent at once, so that no call made after close() is admitted.
    if (supervisor.getSnapshot().status === 'active') supervisor.send({ type: 'supervisor.close' });
    await waitFor(supervisor, (s) => s.status === 'done');
  }

  const now = () => clock.now();
  const rules: LeaseRules = { policyFor, terms, now };
  const deliver = table.deliver;
  const leaseOf = (snapshot: TaskSnapshot) => leaseView(snapshot.context)!;
  function* snapshots() {
    for (const entry of tasks.values()) yield entry.snapshot;
  }
  /** Whether a read asks for what the store holds (see ReadOptions) rather than the live tasks. */
  const durableRead = (options: unknown) => options !== undefined && inputs.parse(inputs.readOptions, options, 'read options').durable === true;

  return {
    location: store.location,
    get role() {
      return standing.role;
    },
    get leader() {
      return standing.leader;
    },
    ready,
    closed: waitFor(supervisor, (s) => s.status === 'done').then(() => {}),
    create(raw) {
      return guarded(() => {
        const input = inputs.parse(inputs.createInput, raw, 'create input');
        // A task's own policy is data; refuse one that does not resolve before storing it.
        if (input.policy !== undefined) resolvePolicy(input.policy);
        return dispatch(() => {
          if (tasks.has(input.id)) throw new DuplicateTaskError(input.id);
          const entry = table.addTask(input.id, { input: taskInput(input, defaults, now(), table.epochFloor) });
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
          return leaseOf(deliver(taskId, claimEvent(tasks.get(taskId)!.snapshot, input, rules)));
        });
      });
    },

    claimNext(raw) {
      return guarded(() => {
        const input = inputs.parse(inputs.claimNextInput, raw, 'claimNext input');
        const wanted = input.labels ?? [];
        return dispatch(() => {
          const id = table.firstClaimable(wanted);
          return id === undefined ? null : leaseOf(deliver(id, claimEvent(tasks.get(id)!.snapshot, input, rules)));
        });
      });
    },

    heartbeat(id, raw) {
      return ownerCall(id, raw, inputs.heartbeatInput, 'heartbeat', (input) => heartbeatEvent(tasks.get(id)?.snapshot, input, inputs.carriesLease(raw), rules), leaseOf);
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
    touch(raw, rawOptions = {}) {
      return guarded(() => {
        const owner = inputs.parse(inputs.ownerName, raw, 'touch owner');
        const { except } = inputs.parse(inputs.touchOptions, rawOptions, 'touch options');
        return dispatch(() => {
          const renewed = [];
          for (const entry of tasks.values()) {
            if (entry.id === except) continue;
            const lease = entry.snapshot.context.lease;
            // Only a live lease is renewed: leased, or stale but still in its grace (a late heartbeat).
            if (lease?.owner !== owner || (entry.path !== 'leased' && entry.path !== 'stale.grace')) continue;
            const event = heartbeatEvent(entry.snapshot, { owner, epoch: lease.epoch }, false, rules);
            try {
              renewed.push(leaseOf(deliver(entry.id, { ...event, at: now() })));
            } catch (error) {
              // A live lease the policy would not lengthen now is answered as it is; a task that
              // refused the step otherwise (logged by the table) is skipped, not an error.
              if (error instanceof LeaseConflictError && error.reason === 'not_extending') renewed.push(leaseOf(entry.snapshot));
              else if (!(error instanceof LeaseholdError)) throw error;
            }
          }
          return renewed;
        });
      });
    },
    quarantine(id, raw) {
      return ownerCall(id, raw, inputs.quarantineInput, 'quarantine', (input) => ({ type: 'task.quarantine', ...input }), taskView);
    },
    annotate(id, raw) {
      return ownerCall(id, raw, inputs.metadataInput, 'annotate', (metadata) => ({ type: 'task.annotate', metadata }), taskView);
    },

    get(id, options) {
      standing.mustLead();
      const taskId = inputs.parse(inputs.taskId, id, 'task id');
      const snapshot = durableRead(options) ? table.durableOf(taskId) : tasks.get(taskId)?.snapshot;
      return snapshot ? taskView(snapshot) : undefined;
    },
    list(filter, options) {
      standing.mustLead();
      // Filtered on the snapshots themselves, so only the tasks answered are copied.
      const matches = taskFilter(inputs.parse(inputs.listFilter, filter === undefined ? {} : filter, 'list filter'));
      const answer = [];
      for (const snapshot of durableRead(options) ? table.durables() : snapshots()) if (matches(snapshot)) answer.push(taskView(snapshot));
      return answer;
    },
    page(query, options) {
      standing.mustLead();
      const parsed = inputs.parse(inputs.taskQuery, query === undefined ? {} : query, 'page query');
      return { at: now(), ...pageOf(durableRead(options) ? table.durables() : snapshots(), parsed) };
    },
    agents: (options) => (standing.mustLead(), agentActivity(durableRead(options) ? table.durables() : snapshots())),
    stats: () => feed.read(),
    subscribe(listener) {
      if (typeof listener !== 'function') throw new InvalidInputError('stats listener', ['expected a function']);
      return feed.subscribe(listener);
    },
    runJob: (job) => jobs.run(job),
    on: (type, listener) => subscribe(type, listener),
    close: closeSelf,
  };

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
