// The stats read model: an @xstate/store store fed only by what the supervisor publishes —
// each durable batch of lifecycle events, late reports from reclaimed holders, and sweep
// results. Counts by state and leases expiring soon are kept beside it from the tasks each
// step changes (task-counts.ts), so they are always current and a read never walks every
// task; everything else here is ephemeral and starts at zero. Tables keyed by user strings
// (task ids, grace reasons) are Maps: an object would let `__proto__` or `constructor` find
// Object.prototype.
import { createStore } from '@xstate/store';
import type { LifecycleEvent, LifecycleEventType, TaskState } from '../../machines/task.types.js';
import { createTaskCounts, type TaskCounts } from './task-counts.js';
import { SWEEPS, type LateReport, type LeaseHistoryEntry, type SupervisorStats, type SweepName, type SweepStats } from './types.js';

/** Reclaims remembered for counting each spurious one once; the oldest are forgotten past this. */
const RECLAIMS_REMEMBERED = 10_000;

export interface StatsContext {
  since: number;
  updatedAt: number;
  events: Partial<Record<LifecycleEventType, number>>;
  lateHeartbeats: number;
  /** Grace extensions by reason (copied on write, like the rest of the context). */
  graceExtensions: ReadonlyMap<string, number>;
  spuriousReclaims: number;
  lateReports: number;
  /** `taskId` → the epoch whose reclaim was already counted as spurious, oldest first. */
  spurious: ReadonlyMap<string, number>;
  sweeps: Record<SweepName, SweepStats>;
  history: readonly LeaseHistoryEntry[];
}

export interface StatsFeedOptions {
  now: () => number;
  states: readonly TaskState[];
  eventTypes: readonly LifecycleEventType[];
  expiringSoonMs: number;
  historyLimit: number;
}

/** The history with `entries` (fresh copies, frozen like the rest) appended, oldest dropped past `limit`. */
const withHistory = (history: readonly LeaseHistoryEntry[], entries: readonly LeaseHistoryEntry[], limit: number) => {
  const added = entries.map((entry) => Object.freeze({ ...entry }));
  const next = history.length + added.length > limit ? [...history, ...added].slice(history.length + added.length - limit) : [...history, ...added];
  return Object.freeze(next);
};

function applyEvents(context: StatsContext, events: readonly LifecycleEvent[]): Partial<StatsContext> {
  const counts = { ...context.events };
  let grace = context.graceExtensions;
  let late = context.lateHeartbeats;
  for (const event of events) {
    counts[event.type] = (counts[event.type] ?? 0) + 1;
    if (event.type === 'heartbeat' && event.late) late++;
    if (event.type === 'graceExtended') {
      if (grace === context.graceExtensions) grace = new Map(grace);
      (grace as Map<string, number>).set(event.reason, (grace.get(event.reason) ?? 0) + 1);
    }
  }
  return { events: counts, lateHeartbeats: late, graceExtensions: grace };
}

function applyLateReport(context: StatsContext, report: LateReport): Partial<StatsContext> {
  const counted = context.spurious.get(report.taskId) === report.epoch;
  if (counted) return { lateReports: context.lateReports + 1 };
  const spurious = new Map(context.spurious);
  // Deleted first so that it moves to the end: the Map's order is oldest first.
  spurious.delete(report.taskId);
  spurious.set(report.taskId, report.epoch);
  for (const key of spurious.keys()) {
    if (spurious.size <= RECLAIMS_REMEMBERED) break;
    spurious.delete(key);
  }
  return { lateReports: context.lateReports + 1, spuriousReclaims: context.spuriousReclaims + 1, spurious };
}

export function createStatsStore(options: Pick<StatsFeedOptions, 'historyLimit'> & { since: number }) {
  const limit = options.historyLimit;
  return createStore({
    context: {
      since: options.since,
      updatedAt: options.since,
      events: {},
      lateHeartbeats: 0,
      graceExtensions: new Map(),
      spuriousReclaims: 0,
      lateReports: 0,
      spurious: new Map(),
      sweeps: Object.fromEntries(SWEEPS.map((name) => [name, { runs: 0, count: 0, lastAt: null }])) as Record<SweepName, SweepStats>,
      history: [],
    } as StatsContext,
    on: {
      /** A batch became durable, with the lifecycle events it carried (possibly none). */
      committed: (context, event: { events: readonly LifecycleEvent[]; at: number }) => ({
        ...context,
        ...applyEvents(context, event.events),
        history: event.events.length > 0 ? withHistory(context.history, event.events, limit) : context.history,
        updatedAt: event.at,
      }),
      lateReport: (context, event: { report: LateReport }) => ({
        ...context,
        ...applyLateReport(context, event.report),
        history: withHistory(context.history, [event.report], limit),
        updatedAt: event.report.at,
      }),
      swept: (context, event: { sweep: SweepName; count: number; at: number }) => {
        const before = context.sweeps[event.sweep];
        return {
          ...context,
          sweeps: { ...context.sweeps, [event.sweep]: { runs: before.runs + 1, count: before.count + event.count, lastAt: event.at } },
          updatedAt: event.at,
        };
      },
    },
  });
}

export type StatsStore = ReturnType<typeof createStatsStore>;

/** The full stats: the store's counters joined with the task counts, as of `at`. */
export function statsOf(context: StatsContext, tasks: TaskCounts, at: number, options: StatsFeedOptions): SupervisorStats {
  const { total, byState, bySubstate, expiringSoon } = tasks;
  const events = Object.fromEntries(options.eventTypes.map((type) => [type, context.events[type] ?? 0])) as Record<LifecycleEventType, number>;
  let graceTotal = 0;
  for (const n of context.graceExtensions.values()) graceTotal += n;
  return {
    at,
    since: context.since,
    total,
    byState,
    bySubstate,
    expiringSoon,
    expiringSoonMs: options.expiringSoonMs,
    stuck: events.stuck,
    averageRenewals: events.claimed > 0 ? events.heartbeat / events.claimed : 0,
    lateHeartbeats: context.lateHeartbeats,
    graceExtensions: { total: graceTotal, byReason: Object.fromEntries(context.graceExtensions) },
    reclaims: events.reclaimed,
    spuriousReclaims: context.spuriousReclaims,
    lateReports: context.lateReports,
    recoveries: events.recovered,
    events,
    sweeps: structuredClone(context.sweeps),
    history: [...context.history],
  };
}

/**
 * The supervisor's handle on its read model: feed it, read it, observe it. The supervisor
 * calls `track(id, sample)` for every task a step changed (null once it is gone), so neither
 * a read nor a commit ever walks the tasks. Listeners get the full stats after every update;
 * each is called through `call` (see hooks.ts), which logs a throw or a rejection.
 */
export function createStatsFeed(options: StatsFeedOptions, call: (listener: (stats: SupervisorStats) => unknown, stats: SupervisorStats) => void) {
  const store = createStatsStore({ historyLimit: options.historyLimit, since: options.now() });
  const tasks = createTaskCounts(options);
  const read = () => {
    const at = options.now();
    return statsOf(store.getSnapshot().context, tasks.read(at), at, options);
  };
  return {
    store,
    read,
    track: tasks.track,
    committed(events: readonly LifecycleEvent[]) {
      store.send({ type: 'committed', events, at: options.now() });
    },
    lateReport(report: LateReport) {
      store.send({ type: 'lateReport', report });
    },
    swept(sweep: SweepName, count: number, at: number) {
      store.send({ type: 'swept', sweep, count, at });
    },
    subscribe(listener: (stats: SupervisorStats) => unknown): () => void {
      const subscription = store.subscribe(() => call(listener, read()));
      return () => subscription.unsubscribe();
    },
  };
}

export type StatsFeed = ReturnType<typeof createStatsFeed>;
