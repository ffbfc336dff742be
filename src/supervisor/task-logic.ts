// The task machine made real for one supervisor: its delays read the injected clock, its
// `compensate` actor runs the registered compensators (ledger on disk first), and its
// `decideGrace` actor asks the lease policy and the extension probes, outside the
// supervisor's command processing, whether a lease whose grace ended gets more time.
import { fromPromise } from 'xstate';
import { taskMachine } from '../../machines/task.machine.js';
import type {
  CompensationFailure,
  CompensationInput,
  CompensationOutcome,
  GraceOutcome,
  Json,
  TaskContext,
} from '../../machines/task.types.js';
import type { Clock } from '../clock/clock.js';
import type { ExtensionProbe, GraceExtension, GraceInput, LeasePolicy } from '../policy/types.js';
import type { GroupCommit } from './group-commit.js';
import type { TaskWork } from './task-runner.js';
import { createLeaseTerms } from './lease-terms.js';
import { taskDelays } from './timers.js';
import { copyJson, type TaskView } from './view.js';

export type Compensator = (args: Json, task: TaskView) => Promise<void> | void;

export interface Logger {
  warn(message: string, ...details: unknown[]): void;
  /** Routine output (the `report` sweep's stats line); without it, console.log is used. */
  info?(message: string, ...details: unknown[]): void;
}

interface Dependencies {
  clock: Clock;
  commit: GroupCommit;
  compensators: Record<string, Compensator>;
  probes: ExtensionProbe[];
  policyFor: (context: TaskContext) => LeasePolicy;
  /** The task's current view and context, by id. */
  current: (taskId: string) => { view: TaskView; context: TaskContext };
  logger: Logger;
}

export function createTaskLogic({ clock, commit, compensators, probes, policyFor, current, logger }: Dependencies) {
  const terms = createLeaseTerms(logger);
  /** Work started for tasks that the test clock waits for before it says "settled". */
  const inFlight = { compensations: new Set<Promise<unknown>>(), decisions: new Set<Promise<unknown>>() };
  const tracked = async <T>(set: Set<Promise<unknown>>, run: Promise<T>) => {
    set.add(run);
    try {
      return await run;
    } finally {
      set.delete(run);
    }
  };

  const compensate = (input: CompensationInput): Promise<CompensationOutcome> =>
    tracked(
      inFlight.compensations,
      (async () => {
        const failure = (message: string, missingHandler = false): CompensationFailure => ({ at: clock.now(), message, missingHandler });
        // The ledger must say "running" on disk before the side effect starts.
        await Promise.resolve();
        commit.touch(input.taskId);
        try {
          await commit.durable();
        } catch (error) {
          throw failure(`could not record the attempt: ${(error as Error).message}`);
        }
        const { action, args } = input.entry;
        const handler = Object.hasOwn(compensators, action) ? compensators[action] : undefined;
        if (!handler) throw failure(`no compensator registered for "${action}"`, true);
        try {
          await handler(copyJson(args), current(input.taskId).view);
        } catch (error) {
          throw failure(error instanceof Error ? error.message : String(error));
        }
        return { at: clock.now() };
      })(),
    );

  const decideGrace = (input: { taskId: string }): Promise<GraceOutcome> =>
    tracked(
      inFlight.decisions,
      (async () => {
        // Never rejects: a failing policy or probe grants nothing, and the lease expires.
        const { view, context } = current(input.taskId);
        const grace: GraceInput = {
          task: view,
          now: clock.now(),
          heartbeats: [...(context.lease?.heartbeats ?? [])],
          extensions: { ...(context.lease?.graceExtensions ?? {}) },
        };
        let extension: GraceExtension | null = null;
        try {
          const policy = policyFor(context);
          extension = terms.extension(policy.extendGrace?.(grace), `the lease policy "${policy.name}"`, input.taskId);
        } catch (error) {
          logger.warn(`leasehold: the lease policy failed to decide grace for task "${input.taskId}"`, error);
        }
        for (const probe of probes) {
          if (extension) break;
          extension = terms.extension(
            await probe(grace).catch((error: unknown) => {
              logger.warn(`leasehold: an extension probe failed for task "${input.taskId}"`, error);
              return null;
            }),
            'an extension probe',
            input.taskId,
          );
        }
        return { at: clock.now(), extension };
      })(),
    );

  const logic = taskMachine.provide({
    delays: taskDelays(clock),
    // The runner starts no actors: it reads `src` off the child XState creates and runs `work`.
    actors: {
      compensate: fromPromise<CompensationOutcome, CompensationInput>(({ input }) => compensate(input)),
      decideGrace: fromPromise<GraceOutcome, { taskId: string }>(({ input }) => decideGrace(input)),
    },
    guards: { consultsPolicy: ({ context }) => probes.length > 0 || typeof policyFor(context).extendGrace === 'function' },
  });

  const work = { compensate, decideGrace } as TaskWork;
  return { logic, work, inFlight };
}

export type TaskLogic = ReturnType<typeof createTaskLogic>['logic'];
