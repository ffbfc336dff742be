// The public API of leasehold, and nothing else.
export { createSupervisor } from './supervisor/supervisor.js';
export { COMPENSATION_TIMEOUT_MS, DEFAULT_LIMITS, LIFECYCLE_EVENTS, PROBE_TIMEOUT_MS } from './supervisor/options.js';
export type { AgentActivity, Compensator, Logger, OwnerProof, ReadOptions, Supervisor, SupervisorOptions, SupervisorRole, SupervisorStats, TaskPage } from './supervisor/options.js';
export { DEFAULT_MAX_CLOCK_SKEW_MS } from './supervisor/standing.js';
export type { CreateInput, LeaseProof, TaskQuery, TaskSortKey } from './supervisor/inputs.js';
export type { Lease, TaskView } from './task/view.js';
export { DEFAULT_EXPIRING_SOON_MS, DEFAULT_HISTORY_LIMIT, statsLine } from './stats/index.js';
export type { LateReport, LeaseHistoryEntry, StatsOptions, SweepName, SweepStats } from './stats/index.js';
export { archivePathOf, DEFAULT_RETENTION_MS, DEFAULT_SCHEDULE } from './schedule/index.js';
export type { JobName, JobResult, ScheduleOptions } from './schedule/index.js';
export { jsonFileStore } from './store/json-file-store.js';
export type { JournaledStore, JsonFileStoreOptions } from './store/json-file-store.js';
export { memoryStore } from './store/memory-store.js';
export { DEFAULT_OWNERSHIP_TTL_MS, postgresStore } from './store/postgres-store.js';
export type { Ownership, PostgresStore, PostgresStoreOptions } from './store/postgres-store.js';
export type { Store, StoreChanges, StoreContents, StoreHolder, StoreMeta, StoreOwnership, TaskRecord } from './store/types.js';
export {
  cadenceRule,
  fixedPolicy,
  gitMergeConflictProbe,
  progressivePolicy,
  resolvePolicy,
  withCadence,
} from './policy/index.js';
export type {
  CadenceOptions,
  ExtensionProbe,
  GitMergeConflictProbeOptions,
  GraceExtension,
  GraceInput,
  LeaseInput,
  LeasePolicy,
  PolicyConfig,
  ProgressiveOptions,
} from './policy/index.js';
export { systemClock } from './clock/clock.js';
export type { Clock } from './clock/clock.js';
export * from './errors.js';
export { TASK_STATES } from '../machines/task.types.js';
export type {
  AuditEntry,
  CompensationEntry,
  FailureRecord,
  Json,
  LifecycleEvent,
  LifecycleEventType,
  Priority,
  Recovery,
  TaskLimits,
  TaskState,
  TerminalRecord,
} from '../machines/task.types.js';
