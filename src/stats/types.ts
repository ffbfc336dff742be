// The shapes of the stats read model: what `sup.stats()` returns and `sup.subscribe` delivers.
// Counters and history are ephemeral (they start at zero with each supervisor); counts by
// state and leases expiring soon follow the live tasks (kept per change, see task-counts.ts).
import type { LifecycleEvent, LifecycleEventType, TaskState } from '../../machines/task.types.js';

export const SWEEPS = ['reconcile', 'retain', 'report', 'compact'] as const;
export type SweepName = (typeof SWEEPS)[number];

/** Default `stats.expiringSoonMs`: a live lease whose expiry is this close counts as expiring soon. */
export const DEFAULT_EXPIRING_SOON_MS = 5 * 60_000;
/** Default `stats.historyLimit`: lease events kept in `history`, newest last. */
export const DEFAULT_HISTORY_LIMIT = 1_000;

export interface StatsOptions {
  /** A leased task whose lease expires within this many ms of now counts as expiring soon (default 5 min). */
  expiringSoonMs?: number;
  /** How many lease events `history` keeps (default 1,000). */
  historyLimit?: number;
}

/**
 * An owner call refused because its lease had been taken over by a reclaim, made by the owner
 * and epoch that lost it: the previous holder was alive after all, so the reclaim was spurious.
 * Nothing changes on disk; the supervisor reports it to the stats at once.
 */
export interface LateReport {
  type: 'lateReport';
  taskId: string;
  owner: string;
  epoch: number;
  at: number;
  /** The refused call's event type, e.g. `lease.heartbeat`. */
  call: string;
}

/** One entry of the lease history: a lifecycle event, or a late report from a reclaimed owner. */
export type LeaseHistoryEntry = LifecycleEvent | LateReport;

export interface SweepStats {
  runs: number;
  /** Tasks the sweep acted on, in total: transitioned (reconcile), archived (retain); 0 for report. */
  count: number;
  lastAt: number | null;
}

export interface SupervisorStats {
  /** When this was read (the supervisor's clock). */
  at: number;
  /** When counting started: the supervisor's start. */
  since: number;
  total: number;
  byState: Record<TaskState, number>;
  /** Tasks by full state path, as TaskView's `substate` (`planned.ready`, `stale.grace`, `completed`); only paths some task is in. */
  bySubstate: Record<string, number>;
  /** Leased tasks whose lease expires within `expiringSoonMs` of `at` (boundary included). */
  expiringSoon: number;
  expiringSoonMs: number;
  /** `stuck` reports (once per lease that reached maxRenewals). */
  stuck: number;
  /** Accepted heartbeats per lease granted (late ones included). */
  averageRenewals: number;
  /** Heartbeats accepted during grace, after the lease had expired. */
  lateHeartbeats: number;
  graceExtensions: { total: number; byReason: Record<string, number> };
  /** Claims that took an expired lease over from its previous holder. */
  reclaims: number;
  /** Reclaims whose previous holder reported afterwards (it was alive): each reclaim counted once. */
  spuriousReclaims: number;
  /** Refused calls from reclaimed holders (several may belong to one spurious reclaim). */
  lateReports: number;
  /** Claims that came with a recovery hand-off (after a reclaim, a release or a retry). */
  recoveries: number;
  /** Lifecycle events seen, by type. */
  events: Record<LifecycleEventType, number>;
  /** Scheduled sweeps; `reconcile.count` is how many overdue tasks the safety net had to move (should stay 0). */
  sweeps: Record<SweepName, SweepStats>;
  /** The last `historyLimit` lease events, oldest first. */
  history: LeaseHistoryEntry[];
}
