// The scheduled sweeps' public face: options, the archive, the jobs.
export { archivedTask, archivePathOf, jsonArchive } from './archive.js';
export type { Archive } from './archive.js';
export { createJobs } from './jobs.js';
export type { JobHost, JobName, JobResult, Jobs } from './jobs.js';
export { DEFAULT_RETENTION_MS, DEFAULT_SCHEDULE, scheduleConfig } from './options.js';
export type { ScheduleConfig, ScheduleOptions } from './options.js';
export { reconcileTasks, retainable } from './sweeps.js';
export type { RetainCandidate, SweptTask } from './sweeps.js';
