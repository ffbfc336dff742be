// The stats read model's public face: types, the store, spurious-reclaim detection, the report line.
export { createStatsFeed, createStatsStore, statsOf } from './read-model.js';
export type { StatsContext, StatsFeed, StatsFeedOptions, StatsStore } from './read-model.js';
export { countTasks, createTaskCounts } from './task-counts.js';
export type { TaskCounts, TaskSample } from './task-counts.js';
export { lateReportOf } from './late-report.js';
export { statsLine } from './line.js';
export { DEFAULT_EXPIRING_SOON_MS, DEFAULT_HISTORY_LIMIT, SWEEPS } from './types.js';
export { statsConfig } from './options.js';
export type { LateReport, LeaseHistoryEntry, StatsOptions, SupervisorStats, SweepName, SweepStats } from './types.js';
