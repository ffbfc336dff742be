// The stats read model: an @xstate/store store fed only by what the supervisor publishes —
// each durable batch of lifecycle events, late reports from reclaimed holders, and sweep
// results. Counts by state and leases expiring soon are derived from the live tasks when
// read, so they are always current; everything else here is ephemeral and starts at zero.
import { createStore } from '@xstate/store';
import type { LifecycleEvent, LifecycleEventType } from '../../machines/task.types.js';
import type { TaskState } from '../supervisor/view.js';
import { SWEEPS, type LateReport, type LeaseHistoryEntry, type SupervisorStats, type SweepName, type SweepStats } from './types.js';

/** Reclaims remembered for counting each spurious one once; the oldest are forgotten past this. */
const RECLAIMS_REMEMBERED = 10_000;

export interface StatsContext {
  since: number;
  updatedAt: number;
  events: Partial<Record<LifecycleEventType, number>>;
  lateHeartbeats: number;
  graceExtensions: Record<string, number>;
  spuriousReclaims: number;
  lateReports: number;
  /** `taskId` → the epoch whose reclaim was already counted as spurious. */
  spurious: Record<string, number>;
  sweeps: Record<SweepName, SweepStats>;
  history: readonly LeaseHistoryEntry[];
}

/** What a read needs from one live task. */
export interface TaskSample {
  /** Its state path, e.g. `stale.grace`. */
  path: string;
  lease: { expiresAt: number } | null;
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
  const grace = { ...context.graceExtensions };
  let late = context.lateHeartbeats;
  for (const event of events) {
    counts[event.type] = (counts[event.type] ?? 0) + 1;
    if (event.type === 'heartbeat' && event.late) late++;
    if (event.type === 'graceExtended') grace[event.reason] = (grace[event.reason] ?? 0) + 1;
  }
  return { events: counts, lateHeartbeats: late, graceExtensions: grace };
}

function applyLateReport(context: StatsContext, report: LateReport): Partial<StatsContext> {
  const counted = context.spurious[report.taskId] === report.epoch;
  if (counted) return { lateReports: context.lateReports + 1 };
  const spurious = { ...context.spurious };
  delete spurious[report.taskId];
  spurious[report.taskId] = report.epoch;
  const keys = Object.keys(spurious);
  for (const key of keys.slice(0, Math.max(0, keys.length - RECLAIMS_REMEMBERED))) delete spurious[key];
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
      graceExtensions: {},
      spuriousReclaims: 0,
      lateReports: 0,
      spurious: {},
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

/** The full stats: the store's counters joined with counts read from the live tasks. */
export function statsOf(context: StatsContext, tasks: Iterable<TaskSample>, options: StatsFeedOptions): SupervisorStats {
  const at = options.now();
  const byState = Object.fromEntries(options.states.map((s) => [s, 0])) as Record<TaskState, number>;
  let total = 0;
  let expiringSoon = 0;
  for (const task of tasks) {
    total++;
    const state = (task.path.split('.')[0] ?? task.path) as TaskState;
    byState[state] = (byState[state] ?? 0) + 1;
    if (state === 'leased' && task.lease && task.lease.expiresAt - at <= options.expiringSoonMs) expiringSoon++;
  }
  const events = Object.fromEntries(options.eventTypes.map((type) => [type, context.events[type] ?? 0])) as Record<LifecycleEventType, number>;
  const graceTotal = Object.values(context.graceExtensions).reduce((sum, n) => sum + n, 0);
  return {
    at,
    since: context.since,
    total,
    byState,
    expiringSoon,
    expiringSoonMs: options.expiringSoonMs,
    stuck: events.stuck,
    averageRenewals: events.claimed > 0 ? events.heartbeat / events.claimed : 0,
    lateHeartbeats: context.lateHeartbeats,
    graceExtensions: { total: graceTotal, byReason: { ...context.graceExtensions } },
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
 * The supervisor's handle on its read model: feed it, read it, observe it. Listeners get the
 * full stats after every update; a listener that throws is reported through `onError`.
 */
export function createStatsFeed(options: StatsFeedOptions, tasks: () => Iterable<TaskSample>, onError: (error: unknown) => void) {
  const store = createStatsStore({ historyLimit: options.historyLimit, since: options.now() });
  const read = () => statsOf(store.getSnapshot().context, tasks(), options);
  return {
    store,
    read,
    committed(events: readonly LifecycleEvent[]) {
      store.send({ type: 'committed', events, at: options.now() });
    },
    lateReport(report: LateReport) {
      store.send({ type: 'lateReport', report });
    },
    swept(sweep: SweepName, count: number, at: number) {
      store.send({ type: 'swept', sweep, count, at });
    },
    subscribe(listener: (stats: SupervisorStats) => void): () => void {
      const subscription = store.subscribe(() => {
        try {
          listener(read());
        } catch (error) {
          onError(error);
        }
      });
      return () => subscription.unsubscribe();
    },
  };
}

export type StatsFeed = ReturnType<typeof createStatsFeed>;
