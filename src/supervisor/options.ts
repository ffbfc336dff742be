// What a supervisor is given and what it promises: its options and their defaults, the
// lifecycle events it names, the Supervisor interface, and the check of the
// options before anything is opened.
import type { Json, LifecycleEvent, LifecycleEventType, TaskLimits, TaskState } from '../../machines/task.types.js';
import type { Clock } from '../clock/clock.js';
import { InvalidInputError } from '../errors.js';
import type { Logger } from '../logger.js';
import { fixedPolicy, resolvePolicy } from '../policy/index.js';
import type { ExtensionProbe, LeasePolicy } from '../policy/types.js';
import type { JobName, JobResult, ScheduleOptions } from '../schedule/index.js';
import type { StatsOptions, SupervisorStats } from '../stats/index.js';
import type { Store, StoreHolder } from '../store/types.js';
import type { Lease, TaskView } from '../task/view.js';
import * as inputs from './inputs.js';
import type { Compensator } from './types.js';
import { isDuration } from './lease-terms.js';
import type { InspectionObserver } from './task-runner.js';
import type { SupervisorRole } from './standing.js';

export type { Compensator, Logger, SupervisorStats, SupervisorRole, StoreHolder };
export type { TaskQuery, TaskSortKey } from './inputs.js';

export interface SupervisorOptions {
  store: Store;
  clock?: Clock;
  defaults?: Partial<TaskLimits>;
  compensators?: Record<string, Compensator>;
  logger?: Logger;
  /**
   * XState inspection observer for the supervisor actor and every task's steps (tools, coverage).
   * Tasks are not actors of their own: their events share one `actorRef`; tell them apart by
   * `snapshot.context.id`.
   */
  inspect?: InspectionObserver;
  /**
   * Listeners registered before the store is restored, so they also hear what happens at
   * start (expiries that passed while the process was down); `sup.on` adds more later.
   */
  on?: { [T in LifecycleEventType]?: Listener<T> };
  /**
   * How long leases and grace periods last and whether grace can be extended: a LeasePolicy
   * object, or one as data (`{ kind: 'progressive', … }`). Default: fixed, from `defaults`.
   * A task created with its own `policy` uses that instead.
   */
  policy?: LeasePolicy | Json;
  /** Asked in order when a lease's grace ends and the policy grants nothing (e.g. gitMergeConflictProbe()). */
  probes?: ExtensionProbe[];
  /**
   * How long one extension probe may take, on the supervisor's clock, before it counts as
   * failed (logged, grants nothing). Default 30 s (PROBE_TIMEOUT_MS), above the git probe's own 10 s.
   */
  probeTimeoutMs?: number;
  /**
   * How long one compensation attempt may take, on the supervisor's clock, before it counts as
   * failed (retried after the backoff, then the task is quarantined), so a handler that hangs
   * never holds its task in `failed` for ever. Default 15 min (COMPENSATION_TIMEOUT_MS). The
   * run that timed out is not stopped: handlers must be safe to repeat, even alongside it.
   */
  compensationTimeoutMs?: number;
  /** Called with the hand-off whenever a task is claimed after another owner held it; a throw or a rejection is logged. */
  onRecovery?: Listener<'recovered'>;
  /**
   * Cron-scheduled sweeps (wall time), run through the mailbox like commands: reconcile (on,
   * every minute), retain and report (off). `false` turns them all off. See ScheduleOptions.
   */
  schedule?: ScheduleOptions | false;
  /** The stats read model: `expiringSoonMs` (default 5 min), `historyLimit` (default 1,000). */
  stats?: StatsOptions;
  /**
   * How long `close()` waits, on the supervisor's clock, for compensations already running to
   * finish and be recorded (default 30 s). Past it, close goes on and an unfinished attempt
   * runs again at the next open. Under createTestClock the bound passes only as the test
   * advances the clock: a test that holds a handler open sets 0, or advances while closing.
   */
  closeTimeoutMs?: number;
  /**
   * Start as a standby (default false): createSupervisor resolves at once with `role`
   * `'standby'`, and the supervisor waits, without a bound, until its store can be taken over
   * (PostgreSQL: free, or its owner silent past the store's ownershipTtlMs on the database's
   * clock); then it opens, restores and re-arms every timer from stored deadlines as any open
   * does, and `ready` resolves. Meanwhile every call is refused with NOT_LEADER naming the
   * owner's advertised URL (`leader`). Only for stores that can be taken over (`openWhenFree`);
   * a file store refuses it as INVALID_INPUT (it keeps STORE_LOCKED and its `lockWaitMs`).
   */
  standby?: boolean;
  /**
   * The bound on the difference between this host's clock and the store's (PostgreSQL: the
   * database's), measured at open and at every ownership renewal (default 2000 ms). Past it the
   * supervisor warns and holds back lease expiries, grace ends and backoffs until the clocks
   * agree again. Not checked when `clock` is given: an injected clock is trusted as it is.
   */
  maxClockSkewMs?: number;
}

export const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;

export function checkPolicy(policy: SupervisorOptions['policy']): LeasePolicy {
  if (policy === undefined) return fixedPolicy();
  if (policy !== null && typeof policy === 'object' && typeof (policy as Partial<LeasePolicy>).leaseMs === 'function') return policy as LeasePolicy;
  return resolvePolicy(policy);
}

export const DEFAULT_LIMITS: TaskLimits = {
  leaseMs: 5 * 60_000,
  graceMs: 60_000,
  maxAttempts: 3,
  maxStale: 3,
  maxRenewals: 10,
  retryBackoffMs: 30_000,
  maxRetryBackoffMs: 10 * 60_000,
  compensationAttempts: 3,
  compensationBackoffMs: 1_000,
};

/** Default `probeTimeoutMs`: longer than gitMergeConflictProbe's own timeout (10 s) and kill backstop. */
export const PROBE_TIMEOUT_MS = 30_000;
/** Default `compensationTimeoutMs`. */
export const COMPENSATION_TIMEOUT_MS = 15 * 60_000;

export const LIFECYCLE_EVENTS = [
  'claimed',
  'reclaimed',
  'heartbeat',
  'expired',
  'released',
  'completed',
  'failed',
  'compensated',
  'quarantined',
  'stuck',
  'graceExtended',
  'recovered',
] as const satisfies readonly LifecycleEventType[];

/** A lifecycle listener; sync or async, a throw or a rejection is logged through `logger.warn` and changes nothing. */
export type Listener<T extends LifecycleEventType> = (event: Extract<LifecycleEvent, { type: T }>) => void;

/** Who makes an owner call: its owner and epoch, and optionally the rest of its lease (ignored, but `taskId` must match). */
export type OwnerProof = { owner: string; epoch: number } & inputs.LeaseProof;

export interface Supervisor {
  /** Where its store lives: the store file's path, or `memory` (the store's `location`). */
  readonly location: string;
  /**
   * `'standby'` while waiting to take its store over (see the `standby` option), `'leader'`
   * while it owns the store and serves, `'closed'` once closed, `'deposed'` once it lost the store's
   * ownership (it then closes itself and acknowledges nothing more, logging why).
   */
  readonly role: SupervisorRole;
  /** While standby: who owns the store and the URL its daemon advertises, as last seen. */
  readonly leader: StoreHolder | undefined;
  /** Resolves once the supervisor serves (at once unless standby); rejects if it closed or failed first. */
  readonly ready: Promise<void>;
  /** Resolves once the supervisor has closed: through close(), or by itself after losing its store. */
  readonly closed: Promise<void>;
  create(input: inputs.CreateInput): Promise<TaskView>;
  claim(id: string, input: { owner: string; leaseMs?: number }): Promise<Lease>;
  claimNext(input: { owner: string; leaseMs?: number; labels?: string[] }): Promise<Lease | null>;
  // Owner calls take `{ owner, epoch, … }` or the Lease itself, spread or whole (see LeaseProof).
  heartbeat(id: string, input: OwnerProof & { leaseMs?: number; progress?: number; message?: string }): Promise<Lease>;
  extend(id: string, input: OwnerProof & { windowMs: number }): Promise<Lease>;
  addCompensation(id: string, input: OwnerProof & { action: string; args?: Json }): Promise<TaskView>;
  complete(id: string, input: OwnerProof & { result?: Json }): Promise<TaskView>;
  fail(id: string, input: OwnerProof & { error: string; retryable?: boolean }): Promise<TaskView>;
  release(id: string, input: OwnerProof & { reason?: string }): Promise<TaskView>;
  /**
   * Renews every live lease of `owner` by what its lease policy grants, as a heartbeat without
   * `leaseMs` would (a lease in its grace is revived, as by a late heartbeat). A live lease the
   * policy would not lengthen right now is answered as it is; leases that are not live are
   * skipped. `except` leaves one task's lease alone: the one a call about to act on it renews
   * (or ends) itself, whose heartbeat a touch just before would refuse as not extending.
   * Durable before it resolves.
   */
  touch(owner: string, options?: { except?: string }): Promise<Lease[]>;
  quarantine(id: string, input: { by: string; reason: string }): Promise<TaskView>;
  annotate(id: string, metadata: { [key: string]: Json }): Promise<TaskView>;
  /** The task (undefined: unknown; with `durable`, also one created but not yet durable). */
  get(id: string, options?: ReadOptions): TaskView | undefined;
  /** Every task, or those in a top-level `state`, leased to `owner`, carrying `label` (all that are given). */
  list(filter?: { state?: TaskState; owner?: string; label?: string }, options?: ReadOptions): TaskView[];
  /**
   * One page of the tasks that match `query` (the filters of `list`, a substate and an id
   * search), sorted (default by creation, ties by id) and windowed (default the first 50).
   * Filtered and sorted on the live tasks: only the page is copied. A bad query is INVALID_INPUT.
   */
  page(query?: inputs.TaskQuery, options?: ReadOptions): TaskPage;
  /** What every owner seen in the tasks holds and has done, sorted by owner (see AgentActivity). */
  agents(options?: ReadOptions): AgentActivity[];
  /** Counted on the live tasks (as `get` without `durable`): ahead of the store while a write is in flight. */
  stats(): SupervisorStats;
  /**
   * Observes the stats: the listener gets them after every durable change, late report and
   * sweep. A listener that throws or rejects is logged through `logger.warn`.
   */
  subscribe(listener: (stats: SupervisorStats) => void): () => void;
  /** Runs one scheduled sweep now (whether or not it has a cron expression), through the mailbox. */
  runJob<J extends JobName>(job: J): Promise<Extract<JobResult, { job: J }>>;
  on<T extends LifecycleEventType>(type: T, listener: Listener<T>): () => void;
  close(): Promise<void>;
}

/**
 * How `get`, `list`, `page` and `agents` read. By default they read the live tasks, which hold
 * every call admitted so far (calls are processed in the order made: a caller sees its own
 * calls at once), even one whose write is still in flight and may yet fail. With `durable: true`
 * they read only what the store holds: a task as of its last write that landed, none created
 * but not yet written. The HTTP API reads so, since a reader there cannot tell the difference.
 */
export interface ReadOptions {
  durable?: boolean;
}

/** `sup.page(query)`'s answer: the supervisor clock's time, how many tasks match, and the window. */
export interface TaskPage {
  at: number;
  total: number;
  offset: number;
  limit: number;
  tasks: TaskView[];
}

/**
 * What one owner holds and has done, counted over the tasks in the store. Every task keeps
 * only its latest 200 audit entries (and a retention sweep removes old tasks), so the counts
 * are of what is still recorded: a lower bound for an owner with a long history.
 */
export interface AgentActivity {
  owner: string;
  /** Its live leases: tasks it holds now, leased or stale but still in grace. */
  leases: Lease[];
  /** The latest heartbeat over its live leases; null without one. */
  lastHeartbeatAt: number | null;
  /**
   * The latest call it made that a task recorded (claim, heartbeat, extend, release, complete,
   * fail, compensation), or the latest heartbeat or acquisition of a lease it holds. The
   * supervisor's own entries naming it (an expiry, the end of a grace) are not signs of it.
   */
  lastSeenAt: number | null;
  /** Claims it made, re-claims of an expired task included. */
  claims: number;
  completed: number;
  /** Failures it reported, retried or not. */
  failed: number;
  released: number;
  /** How many times a task whose lease had expired was claimed by another owner after it. */
  reclaimedFrom: number;
}

export function checkOptions(options: SupervisorOptions) {
  if (!options || typeof options !== 'object') throw new InvalidInputError('supervisor options', ['(value): expected an object']);
  const store = options.store as Partial<Store> | undefined;
  if (!store || typeof store.open !== 'function' || typeof store.commit !== 'function' || typeof store.close !== 'function') {
    throw new InvalidInputError('supervisor options', ['store: expected a store such as jsonFileStore(path) or memoryStore()']);
  }
  const clock = options.clock as Partial<Clock> | undefined;
  if (clock !== undefined && (['now', 'setTimeout', 'clearTimeout', 'runDue', 'attach'] as const).some((k) => typeof clock[k] !== 'function')) {
    throw new InvalidInputError('supervisor options', ['clock: expected systemClock() or createTestClock()']);
  }
  for (const [action, handler] of Object.entries(options.compensators ?? {})) {
    if (typeof handler !== 'function') throw new InvalidInputError('supervisor options', [`compensators.${action}: expected a function`]);
  }
  if (options.probes !== undefined && (!Array.isArray(options.probes) || options.probes.some((probe) => typeof probe !== 'function'))) {
    throw new InvalidInputError('supervisor options', ['probes: expected an array of extension probes']);
  }
  if (options.probeTimeoutMs !== undefined && !isDuration(options.probeTimeoutMs, 1)) {
    throw new InvalidInputError('supervisor options', ['probeTimeoutMs: expected a duration from 1 ms to ten years']);
  }
  if (options.onRecovery !== undefined && typeof options.onRecovery !== 'function') {
    throw new InvalidInputError('supervisor options', ['onRecovery: expected a function']);
  }
  if (options.compensationTimeoutMs !== undefined && !isDuration(options.compensationTimeoutMs, 1)) {
    throw new InvalidInputError('supervisor options', ['compensationTimeoutMs: expected a duration from 1 ms to ten years']);
  }
  if (options.standby !== undefined && typeof options.standby !== 'boolean') throw new InvalidInputError('supervisor options', ['standby: expected a boolean']);
  if (options.standby === true && typeof store.openWhenFree !== 'function') {
    throw new InvalidInputError('supervisor options', ['standby: this store cannot be taken over (a standby needs one that can, such as postgresStore)']);
  }
  if (options.maxClockSkewMs !== undefined && !isDuration(options.maxClockSkewMs, 0)) {
    throw new InvalidInputError('supervisor options', ['maxClockSkewMs: expected a duration from 0 ms to ten years']);
  }
  if (options.closeTimeoutMs !== undefined && !isDuration(options.closeTimeoutMs, 0)) {
    throw new InvalidInputError('supervisor options', ['closeTimeoutMs: expected a duration from 0 ms to ten years']);
  }
  return inputs.parse(inputs.defaultsInput, options.defaults ?? {}, 'supervisor defaults');
}
