// The scheduled sweeps: node-cron jobs (wall-clock cron, `noOverlap`, unref'd so they never
// keep a process alive) started once the supervisor is running and destroyed by close().
// Every sweep goes through the supervisor's mailbox, so it is serialised with commands;
// `run(job)` runs one now, which is how tests and operators trigger them without cron.
import { schedule, type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import { InvalidInputError, SupervisorClosedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { statsLine } from '../stats/line.js';
import { SWEEPS, type SupervisorStats, type SweepName } from '../stats/types.js';
import { jsonArchive } from './archive.js';
import type { ScheduleConfig } from './options.js';
import type { RetainCandidate } from './sweeps.js';

export type JobName = SweepName;

export type JobResult =
  | { job: 'reconcile'; at: number; /** Overdue tasks moved (should be 0). */ count: number; taskIds: string[] }
  | { job: 'retain'; at: number; /** Tasks archived and deleted from the store. */ count: number; taskIds: string[]; archive: string }
  | { job: 'report'; at: number; count: 0; line: string }
  | { job: 'compact'; at: number; count: 0 };

/** What the sweeps need from the supervisor. */
interface JobHost {
  /** Where the store lives, to name the cron tasks. */
  location: string;
  logger: Logger;
  now(): number;
  /** Runs `work` through the supervisor's mailbox; settles once what it changed is durable. */
  dispatch<T>(work: () => T): Promise<T>;
  reconcile(): string[];
  retainable(cutoff: number): RetainCandidate[];
  /** Deletes those candidates still unchanged since they were chosen; returns their ids. */
  remove(candidates: RetainCandidate[]): string[];
  stats(): SupervisorStats;
  swept(job: JobName, count: number, at: number): void;
  /** The store's compact(), when it has one. */
  compact: (() => Promise<void>) | undefined;
}

export function createJobs(config: ScheduleConfig, host: JobHost) {
  const archive = config.archivePath === null ? null : jsonArchive(config.archivePath);
  const { logger } = host;
  const cronLogger: CronLogger = {
    info: () => {},
    debug: () => {},
    warn: (message) => logger.warn(`leasehold: node-cron: ${message}`),
    error: (message, error) => logger.warn(`leasehold: node-cron: ${String(message)}`, error),
  };
  const chains = new Map<JobName, Promise<unknown>>();
  const inFlight = new Set<Promise<unknown>>();
  let tasks: ScheduledTask[] = [];

  const work: { [J in JobName]: () => Promise<Extract<JobResult, { job: J }>> } = {
    async reconcile() {
      const { taskIds, at } = await host.dispatch(() => ({ taskIds: host.reconcile(), at: host.now() }));
      if (taskIds.length > 0) {
        logger.warn(`leasehold: reconcile moved ${taskIds.length} task(s) whose deadline passed without their transition: ${taskIds.join(', ')}`);
      }
      host.swept('reconcile', taskIds.length, at);
      return { job: 'reconcile', at, count: taskIds.length, taskIds };
    },
    async retain() {
      if (!archive) throw new InvalidInputError('retain', ['the store is not a file and no schedule.archivePath was given: nowhere to archive to']);
      const { candidates, at } = await host.dispatch(() => ({ candidates: host.retainable(host.now() - config.retentionMs), at: host.now() }));
      let taskIds: string[] = [];
      if (candidates.length > 0) {
        // Durable in the archive before anything leaves the store. The file write happens between
        // two mailbox turns so it never holds up commands; a task annotated meanwhile (the only
        // change a terminal task takes) stays in the store, to be archived afresh next time.
        await archive.put(candidates.map((c) => [c.id, c.record] as const));
        taskIds = await host.dispatch(() => host.remove(candidates));
      }
      host.swept('retain', taskIds.length, at);
      return { job: 'retain', at, count: taskIds.length, taskIds, archive: archive.location };
    },
    async report() {
      const { line, at } = await host.dispatch(() => ({ line: statsLine(host.stats()), at: host.now() }));
      if (logger.info) logger.info(line);
      else console.log(line);
      host.swept('report', 0, at);
      return { job: 'report', at, count: 0, line };
    },
    async compact() {
      const { compact } = host;
      if (!compact) throw new InvalidInputError('compact', ['the store has no journal to compact']);
      // Admitted through the mailbox (so it is refused once closed), run outside it: the store
      // serialises compaction with its commits, and commands need not wait for the rewrite.
      const at = await host.dispatch(() => host.now());
      await compact();
      host.swept('compact', 0, at);
      return { job: 'compact', at, count: 0 };
    },
  };

  /**
   * Runs one sweep now: its first step enters the mailbox at once, in call order. Runs of the
   * same sweep never overlap: one asked for while another runs waits for it.
   */
  function run<J extends JobName>(job: J): Promise<Extract<JobResult, { job: J }>> {
    if (!(SWEEPS as readonly string[]).includes(job)) {
      return Promise.reject(new InvalidInputError('job name', [`expected one of ${SWEEPS.join(', ')}`]));
    }
    const start = () => work[job]() as Promise<Extract<JobResult, { job: J }>>;
    const previous = chains.get(job);
    const next = previous === undefined ? start() : previous.catch(() => undefined).then(start);
    chains.set(job, next);
    inFlight.add(next);
    void next
      .finally(() => {
        inFlight.delete(next);
        if (chains.get(job) === next) chains.delete(job);
      })
      .catch(() => undefined);
    return next;
  }

  return {
    run,
    /** Schedules every configured sweep; called once the supervisor is running. */
    start() {
      for (const job of SWEEPS) {
        const expression = config.cron[job];
        if (expression === null) continue;
        const task = schedule(
          expression,
          () =>
            run(job).then(
              () => undefined,
              (error: unknown) => {
                if (!(error instanceof SupervisorClosedError)) logger.warn(`leasehold: the scheduled "${job}" sweep failed`, error);
              },
            ),
          { name: `leasehold:${job}:${host.location}`, noOverlap: true, unref: true, suppressMissedWarning: true, logger: cronLogger },
        );
        tasks.push(task);
      }
    },
    /** Destroys the cron tasks (no timer is left behind) and waits for sweeps already running. */
    async stop() {
      const stopping = tasks;
      tasks = [];
      for (const task of stopping) await task.destroy();
      await Promise.allSettled([...inFlight]);
    },
  };
}
