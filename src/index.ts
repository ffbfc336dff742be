// The public API of leasehold, and nothing else.
export { createSupervisor, DEFAULT_LIMITS, LIFECYCLE_EVENTS, TASK_STATES } from './supervisor/supervisor.js';
export type { Compensator, Logger, Supervisor, SupervisorOptions, SupervisorStats } from './supervisor/supervisor.js';
export type { CreateInput } from './supervisor/inputs.js';
export type { Lease, TaskState, TaskView } from './supervisor/view.js';
export { jsonFileStore } from './store/json-file-store.js';
export { memoryStore } from './store/memory-store.js';
export type { Store, StoreChanges, StoreContents, TaskRecord } from './store/types.js';
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
  TerminalRecord,
} from '../machines/task.types.js';
