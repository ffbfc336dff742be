// The scheduled sweeps' public face: options, the archive, the jobs.
export { archivePathOf } from './archive.js';
export { createJobs } from './jobs.js';
export type { JobName, JobResult } from './jobs.js';
export { DEFAULT_RETENTION_MS, DEFAULT_SCHEDULE, scheduleConfig } from './options.js';
export type { ScheduleOptions } from './options.js';
export { reconcileTasks, retainable } from './sweeps.js';
